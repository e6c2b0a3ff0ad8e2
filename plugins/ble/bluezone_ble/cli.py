"""``bluezone trace``: record close contacts over the real radio or a simulated one.

    bluezone trace --config deployment.toml --store phone.db      # real BLE (Ctrl-C stops)
    bluezone trace --simulate office [--devices 12 --minutes 120 --seed 1 --out DIR]

Progress goes to stdout as it happens; a summary ends the run, in the
deployment's languages (the texts are in the ``bluezone_ble`` catalogue).
Errors a person can fix (no adapter, BlueZ not running, unknown scenario)
are one line with exit code 2.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from bluezone import CliCommand as Command
from bluezone import with_store_errors
from bluezone.i18n import N_, Message, _, _n

from .advertiser import BlueZUnavailable
from .calibration import CalibrationError
from .collector import ScanStats
from .evaluation import RiskRule, default_rule, evaluate
from .scanner import AdapterUnavailable
from .settings import ble_settings, duty_cycle, environment_overrides, radio_model, sim_settings
from .sim.engine import simulate_async
from .sim.mobility import SCENARIOS
from .spread import spread_lines


def _fail(message: str | Message) -> NoReturn:
    from bluezone import cli_fail as fail

    fail(message)


def _load(config_path: str | None) -> Any:
    if config_path is None:
        return None
    from bluezone import load_config_or_fail

    return load_config_or_fail(config_path)


def _pct(x: float | None) -> str:
    return str(_("n/a")) if x is None else f"{100 * x:.0f}%"


@click.command("trace", cls=Command, help=N_("Record close contacts: Bluetooth LE scanning and advertising.\n\n"
                                 "With --simulate SCENARIO, a radio simulator moves phones through an office, "
                                 "market, bus or home and feeds what they hear through the same scanner code."))
@click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", type=click.Path(dir_okay=False),
              help=N_("Deployment TOML (required for the real radio; optional with --simulate)."))
@click.option("--store", "store_paths", envvar="BLUEZONE_STORE", type=click.Path(dir_okay=False), multiple=True,
              help=N_("This phone's device store (real radio). With --simulate, repeat it to move your own "
                      "phones (set up with 'bluezone init') through the scenario with their real keys."))
@click.option("--simulate", "scenario", metavar="SCENARIO",
              help=N_("Simulate instead of using the radio: office, market, bus or home."))
@click.option("--devices", type=click.IntRange(2, 500), help=N_("Simulated phones (default: [sim] devices)."))
@click.option("--minutes", type=click.IntRange(1, 1440), help=N_("Simulated minutes (default: [sim] minutes)."))
@click.option("--seed", type=int, help=N_("Simulation seed (default: [sim] seed)."))
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help=N_("Keep the simulated phones' stores and truth.json here."))
@click.option("--days-ago", type=click.IntRange(0, 13), default=0, show_default=True,
              help=N_("With --simulate and your own phones: the meeting ended this many days ago (a key is "
                      "reported once its day is over, so a meeting of an earlier day can be reported at once)."))
@click.option("--scans", type=click.IntRange(1), help=N_("Real radio: stop after this many scans."))
@with_store_errors
def trace(config_path, store_paths, scenario, devices, minutes, seed, out_dir, days_ago, scans) -> None:
    """The real radio, or the simulator feeding the same scanner code (help text above)."""
    config = _load(config_path)
    if scenario is not None:
        if days_ago and not store_paths:
            _fail(_("--days-ago moves your own phones' meeting: give them with --store"))
        _simulate(config, scenario, devices, minutes, seed, out_dir, list(store_paths), days_ago)
    elif len(store_paths) > 1:
        _fail(_("The real radio records into one phone's store; give --store once"))
    else:
        _real(config, store_paths[0] if store_paths else None, scans)


def _real(config: Any, store_path: str | None, scans: int | None) -> None:
    if config is None:
        _fail(_("--config is required for the real radio (or use --simulate SCENARIO)"))
    if not store_path:
        _fail(_("--store PATH is required for the real radio"))
    from bluezone import open_store_or_fail

    from .sources import BleSource

    # The phone's existing store: only 'bluezone init' creates a store and its key.
    store = open_store_or_fail(store_path, config.retention_days)
    from bluezone import ConsentWithdrawn, consent_allowed

    if not consent_allowed(store, "bluetooth"):
        store.close()
        _fail(str(ConsentWithdrawn("bluetooth")))
    total = {"stored": 0}

    def on_scan(stored: int, stats: ScanStats) -> None:
        total["stored"] += stored
        click.echo(_n("Scan {scan}: {n} identifier; total {total}, malformed {malformed}",
                      "Scan {scan}: {n} identifiers; total {total}, malformed {malformed}", stored,
                      scan=stats.scans, total=total["stored"], malformed=stats.malformed))

    click.echo(_("Tracing over Bluetooth LE (Ctrl-C to stop)"))
    try:
        asyncio.run(BleSource().run(store, config.schedule(), config, max_scans=scans, on_scan=on_scan))
    except (AdapterUnavailable, BlueZUnavailable, CalibrationError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        click.echo(_("Stopped."))
    finally:
        store.close()
    click.echo(_n("Summary: {n} sighting stored in {path}", "Summary: {n} sightings stored in {path}",
                  total["stored"], path=store_path))


def _own_phones(paths: list[str], config: Any) -> list[tuple[str, Any]]:
    """The person's own stores, opened as every citizen command opens them
    (never created here: only 'bluezone init' makes a store and its key),
    each with Bluetooth consent; named by file name in the summary."""
    from bluezone import ConsentWithdrawn, consent_allowed, open_store_or_fail

    if len({str(Path(p).resolve()) for p in paths}) != len(paths):
        _fail(_("Each --store must be a different phone"))
    opened: list[tuple[str, Any]] = []
    try:
        for p in paths:
            store = open_store_or_fail(p, config.retention_days if config is not None else 14)
            opened.append((Path(p).stem, store))
            if not consent_allowed(store, "bluetooth"):
                _fail(str(ConsentWithdrawn("bluetooth")))
    except BaseException:
        for _name, s in opened:
            s.close()
        raise
    return opened


def _simulate(config: Any, scenario: str, devices: int | None, minutes: int | None, seed: int | None,
              out_dir: str | None, store_paths: list[str] | None = None, days_ago: int = 0) -> None:
    if scenario not in SCENARIOS:
        _fail(_("Unknown scenario {scenario}; choose one of: {scenarios}", scenario=repr(scenario),
                scenarios=", ".join(sorted(SCENARIOS))))
    from bluezone import GAEN_SCHEDULE as SCHEDULE
    from bluezone import DeviceStore

    sim, ble = sim_settings(config), ble_settings(config)
    schedule = config.schedule() if config is not None else SCHEDULE
    rule = RiskRule.from_config(config.risk) if config is not None else default_rule()
    own_paths = store_paths or []
    n = devices or (len(own_paths) if len(own_paths) >= 2 else sim.devices)
    if n < len(own_paths):
        _fail(_n("--devices {n} is fewer than the {stores} phone given with --store",
                 "--devices {n} is fewer than the {stores} phones given with --store", len(own_paths),
                 n=n, stores=len(own_paths)))
    mins = minutes or sim.minutes
    seed = sim.seed if seed is None else seed
    folder = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="bluezone-trace-"))
    folder.mkdir(parents=True, exist_ok=True)
    stores = _own_phones(own_paths, config)

    def extra_phone(i: int) -> tuple[str, Any]:
        # --out keeps phones a person opens later, so their keys go where every
        # command looks (the key folder); a throw-away run keeps them beside the stores
        db = folder / f"phone{i:03d}.db"
        return db.stem, DeviceStore(db, key_file=None if out_dir else folder / f"phone{i:03d}.key")

    try:
        stores += [extra_phone(i) for i in range(len(stores) + 1, n + 1)]
    except BaseException:
        for _name, s in stores:
            s.close()
        raise
    if own_paths:
        # real phones: the meeting has just ended (or ended --days-ago days
        # ago), so reports, exports and matching see it as the past (whole
        # minutes, like a scan clock); the phones' keys of that day are theirs
        start = (int(time.time()) - days_ago * 86400 - 60 * mins) // 60 * 60
    else:
        # start at 08:00 UTC today so a run stays inside one UTC day when it can
        today = dt.datetime.now(dt.timezone.utc).replace(hour=8, minute=0, second=0, microsecond=0)
        start = int(today.timestamp())
    click.echo(_("Simulating {scenario}: {n} phones, {minutes} min, seed {seed} → {folder}", scenario=scenario,
                 n=n, minutes=mins, seed=seed, folder=folder))
    shown = {"last": -1}

    def progress(done: float, stats: ScanStats) -> None:
        tenth = int(done * 10)
        if tenth != shown["last"]:
            shown["last"] = tenth
            click.echo("  {:4.0%}  {}".format(done, _("scans {scans}, packets {packets}, sightings {sightings}",
                                                    scans=stats.scans, packets=stats.adverts,
                                                    sightings=stats.sightings)))

    started = time.perf_counter()
    try:
        truth = asyncio.run(simulate_async(
            scenario, stores, seed=seed, start_time=start, duration=60 * mins, schedule=schedule,
            radio=radio_model(sim), environment=environment_overrides(sim), duty=duty_cycle(ble),
            progress=progress))
        result = evaluate(truth, stores, schedule, rules=[rule])
    finally:
        for _name, s in stores:
            s.close()
    (folder / "truth.json").write_text(truth.to_json())
    c = result.by_rule[rule.name]
    close = truth.close_pairs()
    took = round(time.perf_counter() - started, 1)
    click.echo(_("Summary ({seconds} s):", seconds=took))
    click.echo("  " + _("sightings stored: {sightings} from {packets} packets in {scans} scans (malformed {malformed})",
                        sightings=truth.stats["sightings"], packets=truth.stats["adverts"],
                        scans=truth.stats["scans"], malformed=truth.stats["malformed"]))
    click.echo("  " + _("true close pairs (≥15 min within 2 m): {close} of {pairs}", close=len(close),
                        pairs=len(truth.pairs)))
    click.echo("  " + _("rule {rule}, ≥{minutes} min: precision {precision}, recall {recall} "
                        "(tp {tp}, fp {fp}, fn {fn}, tn {tn} over {pairs} ordered pairs)",
                        rule=rule.describe(), minutes=format(rule.minimum_minutes, "g"),
                        precision=_pct(c.precision), recall=_pct(c.recall), tp=c.tp, fp=c.fp, fn=c.fn, tn=c.tn,
                        pairs=result.pairs))
    click.echo("  " + _("ground truth: {path}", path=folder / "truth.json"))
    for line in spread_lines([scenario]):  # one run is one draw: quote the spread over seeds and the model's source
        click.echo("  " + str(line))
