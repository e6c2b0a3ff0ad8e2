"""Evaluation of the close-contact rule on simulated data.

For every ordered pair of simulated phones (sender S, listener L) we ask:
had S been a confirmed case, would L's phone have warned? and compare the
answer with the simulator's ground truth (≥ 15 min within 2 m).

When the core's matcher (``bluezone.matching``, issue #3) is installed,
:func:`evaluate` uses it (matching, exposure windows and GAEN v2 scoring:
:func:`core_exposure_windows`). Otherwise it falls back to
:func:`exposure_windows`, a **small evaluation-only re-implementation of
the published GAEN matching rules**; ``Evaluation.engine`` says which one ran.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluezone.models import ExposureWindow, Infectiousness, ReportType, ScanInstance, Sighting, utc_date
from bluezone.schedules.gaen import read_tx_power

from .calibration import load_from_store
from .sim.truth import GroundTruth

#: GAEN drops sightings whose decrypted TX power is outside this range.
TX_RANGE = (-50, 20)
WINDOW_SECONDS = 30 * 60
UNKNOWN_SCAN_SECONDS = 120


@dataclass(frozen=True, slots=True)
class RiskRule:
    """The parts of ``[risk]`` that decide a BLE close contact."""

    name: str = "default"
    thresholds_db: tuple[int, int, int] = (58, 63, 68)  # the core's [risk] defaults
    weights: tuple[float, float, float, float] = (1.0, 1.0, 0.0, 0.0)  # immediate, near, medium, other
    minimum_minutes: float = 15.0

    @classmethod
    def from_config(cls, risk: dict[str, Any], name: str = "deployment") -> "RiskRule":
        w = risk["bucket_weights"]
        return cls(name, tuple(risk["attenuation_thresholds_db"]),
                   (w["immediate"], w["near"], w["medium"], w["other"]), risk["minimum_minutes_per_day"])

    def weight(self, attenuation: float) -> float:
        t0, t1, t2 = self.thresholds_db
        if attenuation <= t0:
            return self.weights[0]
        if attenuation <= t1:
            return self.weights[1]
        if attenuation <= t2:
            return self.weights[2]
        return self.weights[3]

    def weighted_minutes(self, windows: Iterable[ExposureWindow]) -> dict[dt.date, float]:
        """Per UTC day, Σ secondsSinceLastScan × weight(typical attenuation) / 60
        (report-type and infectiousness weights are 1 in this evaluation)."""
        out: dict[dt.date, float] = {}
        for w in windows:
            seconds = sum(s.seconds_since_last_scan * self.weight(s.typical_attenuation_db) for s in w.scan_instances)
            out[w.date] = out.get(w.date, 0.0) + seconds / 60
        return out

    def exposed(self, windows: Iterable[ExposureWindow]) -> bool:
        return any(m >= self.minimum_minutes for m in self.weighted_minutes(windows).values())

    def to_risk(self) -> dict[str, Any]:
        """This rule as a core ``[risk]`` section (report and infectiousness weights 1)."""
        return {
            "attenuation_thresholds_db": list(self.thresholds_db),
            "bucket_weights": dict(zip(("immediate", "near", "medium", "other"), self.weights)),
            "report_type_weights": {"confirmed_test": 1.0, "confirmed_clinical_diagnosis": 1.0,
                                    "self_report": 0.0, "recursive": 1.0},
            "infectiousness_weights": {"standard": 1.0, "high": 1.0},
            "minimum_minutes_per_day": self.minimum_minutes,
            "isolation_days": 14,
        }


def core_matcher_available() -> bool:
    try:
        from bluezone.matching.risk import score_windows  # noqa: F401
        from bluezone.matching.windows import build_windows  # noqa: F401
        from bluezone.matching.matcher import match_rows  # noqa: F401
    except ImportError:
        return False
    return True


def core_exposure_windows(store: Any, schedule: Any, keys: Iterable[Any], risk: dict[str, Any]) -> list[ExposureWindow]:
    """Exposure windows from the core's own matcher (``bluezone.matching``)."""
    from bluezone.matching.derive import deriver_for
    from bluezone.matching.index import SightingIndex
    from bluezone.matching.matcher import match_rows
    from bluezone.matching.windows import build_windows

    rows = [(k.key_data, k.rolling_start_interval_number, k.rolling_period, int(ReportType.CONFIRMED_TEST), None, 0)
            for k in keys]
    index = SightingIndex.from_store(store, schedule.identifier_length)
    matches = match_rows(rows, index, deriver_for(schedule), schedule.match_tolerance_intervals, workers=1)
    correction = float(store.get_meta("rssi_correction_db", "0") or 0)
    windows, _dropped = build_windows(matches, schedule, risk, correction)
    return windows


def core_exposed(windows: list[ExposureWindow], rule: RiskRule) -> bool:
    from bluezone.matching.risk import score_windows

    return any(r.exposed for r in score_windows(windows, rule.to_risk()))


#: Threshold choices compared in the evaluation table (published sources listed in docs/simulator.md).
RULES: tuple[RiskRule, ...] = (
    RiskRule("bluezone default 58/63/68", (58, 63, 68), (1.0, 1.0, 0.0, 0.0), 15),
    RiskRule("GAEN Apple thresholds 50/70/90", (50, 70, 90), (1.0, 1.0, 0.5, 0.0), 15),
    RiskRule("SwissCovid-like 50/55", (50, 55, 90), (1.0, 0.5, 0.0, 0.0), 15),
    RiskRule("CWA v2-like 63/73/79", (62, 72, 78), (0.8, 1.0, 0.1, 0.0), 13),
    RiskRule("strict 47/55", (47, 55, 70), (1.0, 0.5, 0.0, 0.0), 15),
    RiskRule("loose 60/70/80", (60, 70, 80), (1.0, 1.0, 1.0, 0.0), 10),
)


def exposure_windows(store: Any, schedule: Any, keys: Iterable[Any],
                     report_type: ReportType = ReportType.CONFIRMED_TEST) -> list[ExposureWindow]:
    """Exposure windows of the listener ``store`` against published ``keys``
    (GAEN exposure-window documentation): ±tolerance join, AEM decryption, TX range filter,
    attenuation with the listener's own RSSI correction, scan instances,
    windows of up to 30 minutes per key per UTC day."""
    own = load_from_store(store)
    correction = own.rssi_correction if own else 0
    sightings: dict[bytes, list[Sighting]] = {}
    for s in store.sightings():
        sightings.setdefault(s.identifier, []).append(s)
    tol = schedule.match_tolerance_intervals
    windows: list[ExposureWindow] = []
    for key in keys:
        instances: list[tuple[int, ScanInstance]] = []
        for d in schedule.identifiers(key):
            for s in sightings.get(d.identifier, ()):
                if abs(s.interval - d.interval) > tol:
                    continue
                tx = read_tx_power(schedule.decrypt_metadata(key.key_data, s.identifier, s.metadata))
                if not TX_RANGE[0] <= tx <= TX_RANGE[1]:
                    continue
                typical = max(0, round(tx - (s.rssi + correction)))
                strongest = s.rssi_max if s.rssi_max is not None else s.rssi
                minimum = max(0, round(tx - (strongest + correction)))
                secs = s.seconds_since_last_scan if s.seconds_since_last_scan is not None else UNKNOWN_SCAN_SECONDS
                instances.append((s.time, ScanInstance(typical, minimum, min(300, secs))))
        instances.sort(key=lambda x: x[0])
        group: list[ScanInstance] = []
        start = day = None
        for t, inst in instances:
            if group and (t - start >= WINDOW_SECONDS or utc_date(t) != day):
                windows.append(ExposureWindow(day, report_type, Infectiousness.STANDARD, tuple(group)))
                group = []
            if not group:
                start, day = t, utc_date(t)
            group.append(inst)
        if group:
            windows.append(ExposureWindow(day, report_type, Infectiousness.STANDARD, tuple(group)))
    return windows


@dataclass(slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1

    def __iadd__(self, other: "Confusion") -> "Confusion":
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass(slots=True)
class Evaluation:
    """Confusion per rule over ordered (sender, listener) pairs."""

    by_rule: dict[str, Confusion] = field(default_factory=dict)
    positives: int = 0
    pairs: int = 0
    engine: str = "evaluation helper (GAEN exposure-window documentation)"


def evaluate(truth: GroundTruth, devices: Sequence[tuple[str, Any]], schedule: Any,
             rules: Sequence[RiskRule] = RULES, minutes: float = 15.0, distance_m: float = 2.0,
             use_core: bool | None = None) -> Evaluation:
    """Score every rule against the ground truth for one simulation run,
    with the core matcher when installed (``use_core=None``) or as told."""
    core = core_matcher_available() if use_core is None else use_core
    result = Evaluation({r.name: Confusion() for r in rules})
    if core:
        result.engine = "bluezone.matching (core matcher, windows, GAEN v2 scoring)"
    keys = {name: [own.key for own in store.own_keys(schedule.name)] for name, store in devices}
    close = truth.close_pairs(minutes, distance_m)
    for sender, _ in devices:
        for listener, lstore in devices:
            if sender == listener:
                continue
            actual = tuple(sorted((sender, listener))) in close
            result.pairs += 1
            result.positives += actual
            if core:
                windows = core_exposure_windows(lstore, schedule, keys[sender], rules[0].to_risk())
                for r in rules:
                    result.by_rule[r.name].add(core_exposed(windows, r), actual)
            else:
                windows = exposure_windows(lstore, schedule, keys[sender])
                for r in rules:
                    result.by_rule[r.name].add(r.exposed(windows), actual)
    return result
