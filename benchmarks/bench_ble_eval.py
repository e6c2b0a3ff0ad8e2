"""BLE evaluation: precision and recall of the close-contact rule on the
radio simulator, per scenario and for several threshold choices.

Ground truth: a pair is a close contact when the simulator's true positions
put them within 2 m for at least 15 minutes. Prediction: would the listener's
phone warn if the other phone's keys were published (GAEN v2 windows and
scoring with each rule). Ordered pairs, several seeds per scenario.

Baseline (same run): "heard at all" — warn whenever the identifiers of the
other phone were stored for ≥ 15 minutes of scans, whatever the attenuation
(what a rule with every bucket weight 1 does). Also prints how fast the
simulator runs against real time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins" / "ble"))

from bluezone.schedules.gaen import SCHEDULE  # noqa: E402
from bluezone.store import DeviceStore  # noqa: E402
from bluezone_ble.evaluation import RULES, Confusion, RiskRule, evaluate  # noqa: E402
from bluezone_ble.sim.engine import simulate  # noqa: E402

SCENARIOS = ("office", "market", "bus", "home")
DEVICES = 14
HOURS = 3
SEEDS = (1, 2)
START = 1_700_006_400 + 8 * 3600  # 08:00 UTC: a run stays inside one UTC day
BASELINE = RiskRule("baseline: heard at all", (255, 255, 255), (1.0, 1.0, 1.0, 1.0), 15)


def _pct(x: float | None) -> str:
    return "  n/a" if x is None else f"{100 * x:4.0f}%"


def main() -> None:
    rules = (*RULES, BASELINE)
    totals = {r.name: Confusion() for r in rules}
    per_scenario: dict[str, dict[str, Confusion]] = {}
    sim_seconds = wall = 0.0
    engine = ""
    with tempfile.TemporaryDirectory() as tmp:
        for scen in SCENARIOS:
            per_scenario[scen] = {r.name: Confusion() for r in rules}
            for seed in SEEDS:
                stores = [(f"p{i}", DeviceStore(Path(tmp) / f"{scen}{seed}-{i}.db",
                                                key_file=Path(tmp) / f"{scen}{seed}-{i}.key"))
                          for i in range(DEVICES)]
                t0 = time.perf_counter()
                truth = simulate(scen, stores, seed=seed, start_time=START, duration=HOURS * 3600)
                wall += time.perf_counter() - t0
                sim_seconds += HOURS * 3600 * DEVICES
                ev = evaluate(truth, stores, SCHEDULE, rules=rules)
                engine = ev.engine
                for name, c in ev.by_rule.items():
                    per_scenario[scen][name] += c
                    totals[name] += c
                for _, s in stores:
                    s.close()
    print(f"{len(SCENARIOS)} scenarios x {len(SEEDS)} seeds, {DEVICES} phones, {HOURS} h each; "
          f"close contact = >=15 min within 2 m; matching+scoring: {engine}")
    print(f"simulator speed: {sim_seconds / wall:,.0f} phone-seconds per second "
          f"({sim_seconds / wall / DEVICES:,.0f}x real time for {DEVICES} phones)")
    default = RULES[0].name
    print("\nDefault rule per scenario (precision / recall):")
    for scen, by in per_scenario.items():
        c, b = by[default], by[BASELINE.name]
        print(f"  {scen:7s} P {_pct(c.precision)}  R {_pct(c.recall)}   "
              f"(tp {c.tp:3d} fp {c.fp:3d} fn {c.fn:3d})   baseline P {_pct(b.precision)} R {_pct(b.recall)}")
    print("\nAll scenarios, by rule:")
    print(f"  {'rule':30s} {'precision':>9s} {'recall':>7s}  {'F1':>5s}  vs baseline precision")
    base_p = totals[BASELINE.name].precision or 0
    for r in rules:
        c = totals[r.name]
        p, rec = c.precision, c.recall
        f1 = 2 * p * rec / (p + rec) if p and rec else 0.0
        ratio = f"{p / base_p:.2f}x" if p and base_p else "n/a"
        print(f"  {r.name:30s} {_pct(p):>9s} {_pct(rec):>7s}  {f1:5.2f}  {ratio}")
    print("\nBy scenario and rule (P/R):")
    print("  " + " ".join(f"{s:>14s}" for s in ("rule",) + SCENARIOS))
    for r in rules:
        cells = [f"{_pct(per_scenario[s][r.name].precision)}/{_pct(per_scenario[s][r.name].recall)}" for s in SCENARIOS]
        print(f"  {r.name[:14]:>14s} " + " ".join(f"{c:>14s}" for c in cells))


if __name__ == "__main__":
    main()
