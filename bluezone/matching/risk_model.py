"""The ``[risk]`` section as one scoring model: today's buckets or the Corona-Warn-App's v2 ranges.

Every step of the Corona-Warn-App (CWA) v2 risk calculation has a field in
``[risk]`` (docs/risk.md maps each to its CWA and GAEN name). A field left
out falls back to Bluezone's original scoring, which this module also
states as ranges, so one code path scores both:

* attenuation ranges: ``minutes_at_attenuation_weights``, or the three
  ``attenuation_thresholds_db`` with ``bucket_weights``;
* the per-window multiplier: the value of the window's transmission risk
  level (``transmission_risk_level_encoding`` + ``transmission_risk_values``),
  or ``report_type_weights`` × ``infectiousness_weights``;
* the day's level: ``day_risk_levels`` (LOW and HIGH), or HIGH from
  ``minimum_minutes_per_day``.

The arithmetic follows the CWA's order of operations (weighted seconds
summed scan by scan, divided by 60, times the value; the day's sum rounded
half up), because its published test cases sit exactly on thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..models import ExposureWindow, Infectiousness, ReportType, RiskLevel, WindowRisk

_RT_KEYS = {
    ReportType.CONFIRMED_TEST: "confirmed_test",
    ReportType.CONFIRMED_CLINICAL_DIAGNOSIS: "confirmed_clinical_diagnosis",
    ReportType.SELF_REPORT: "self_report",
    ReportType.RECURSIVE: "recursive",
}
_LEVELS = {"low": RiskLevel.LOW, "high": RiskLevel.HIGH}
#: Attenuations below this many dB are weighed through a precomputed table.
_TABLE_DB = 256


@dataclass(frozen=True, slots=True)
class Range:
    """A CWA ``Range``: ``min``/``max`` inclusive unless marked exclusive."""

    min: float
    max: float
    min_exclusive: bool = False
    max_exclusive: bool = False

    @classmethod
    def of(cls, m: Mapping[str, Any]) -> Range:
        return cls(float(m["min"]), float(m["max"]), bool(m.get("min_exclusive", False)),
                   bool(m.get("max_exclusive", False)))

    def __contains__(self, value: float) -> bool:
        if value < self.min or (self.min_exclusive and value <= self.min):
            return False
        return not (value > self.max or (self.max_exclusive and value >= self.max))

    @property
    def empty(self) -> bool:
        return self.min > self.max or (self.min == self.max and (self.min_exclusive or self.max_exclusive))


LevelMapping = tuple[tuple[Range, RiskLevel], ...]


def _levels(rows: Iterable[Mapping[str, Any]] | None) -> LevelMapping | None:
    if rows is None:
        return None
    return tuple((Range.of(r["normalized_minutes_range"]), _LEVELS[r["level"]]) for r in rows)


def _first_level(mapping: LevelMapping, minutes: float) -> RiskLevel | None:
    return next((level for rng, level in mapping if minutes in rng), None)


def _setting(risk: Mapping[str, Any], name: str) -> Any:
    # a partial section (tests, embedders) takes the schema's defaults
    from .windows import risk_setting

    try:
        return risk_setting(risk, name)
    except KeyError:
        return None


def _bucket_ranges(thresholds: Sequence[int], weights: Mapping[str, float]) -> tuple[tuple[Range, float], ...]:
    """Today's buckets as ranges: immediate ≤ t0 < near ≤ t1 < medium ≤ t2 < other."""
    t0, t1, t2 = (float(t) for t in thresholds)
    return (
        (Range(-math.inf, t0), float(weights.get("immediate", 0.0))),
        (Range(t0, t1, min_exclusive=True), float(weights.get("near", 0.0))),
        (Range(t1, t2, min_exclusive=True), float(weights.get("medium", 0.0))),
        (Range(t2, math.inf, min_exclusive=True), float(weights.get("other", 0.0))),
    )


@dataclass(frozen=True, slots=True)
class WindowScore:
    """A kept window: its score in weighted seconds (× the multiplier) and its result."""

    score: float
    result: WindowRisk


@dataclass(frozen=True, slots=True)
class DayScore:
    score: float
    minutes: float
    level: RiskLevel


@dataclass(frozen=True)
class RiskModel:
    """One ``[risk]`` section, ready to score windows (see the module docstring)."""

    use_min_attenuation: bool
    weights: tuple[tuple[Range, float], ...]
    filters: tuple[tuple[Range, Range], ...]
    encoding: Mapping[str, int] | None
    trl_filters: tuple[Range, ...]
    trl_values: Mapping[int, float]
    report_type_weights: Mapping[str, float]
    infectiousness_weights: Mapping[str, float]
    window_levels: LevelMapping | None
    day_levels: LevelMapping | None
    minimum_minutes_per_day: float
    rounding_decimals: int | None
    max_seconds_per_scan: int

    @classmethod
    def from_risk(cls, risk: Mapping[str, Any]) -> RiskModel:
        weights = _setting(risk, "minutes_at_attenuation_weights")
        return cls(
            use_min_attenuation=_setting(risk, "attenuation") == "min",
            weights=(tuple((Range.of(w["attenuation_range"]), float(w["weight"])) for w in weights)
                     if weights is not None else
                     _bucket_ranges(_setting(risk, "attenuation_thresholds_db"), _setting(risk, "bucket_weights"))),
            filters=tuple((Range.of(f["attenuation_range"]), Range.of(f["drop_if_minutes_in_range"]))
                          for f in _setting(risk, "minutes_at_attenuation_filters") or ()),
            encoding=_setting(risk, "transmission_risk_level_encoding"),
            trl_filters=tuple(Range.of(f["drop_if_trl_in_range"])
                              for f in _setting(risk, "transmission_risk_level_filters") or ()),
            trl_values={int(v["level"]): float(v["value"]) for v in _setting(risk, "transmission_risk_values") or ()},
            report_type_weights=_setting(risk, "report_type_weights"),
            infectiousness_weights=_setting(risk, "infectiousness_weights"),
            window_levels=_levels(_setting(risk, "window_risk_levels")),
            day_levels=_levels(_setting(risk, "day_risk_levels")),
            minimum_minutes_per_day=float(_setting(risk, "minimum_minutes_per_day")),
            rounding_decimals=_setting(risk, "daily_rounding_decimals"),
            max_seconds_per_scan=int(_setting(risk, "max_seconds_per_scan")),
        )

    # -- one window ------------------------------------------------------------------------

    def transmission_risk_level(self, w: ExposureWindow) -> int | None:
        """Report-type offset + infectiousness offset (HIGH, else STANDARD, as
        the CWA does); ``None`` without an encoding or for a report type it has no offset for."""
        if self.encoding is None:
            return None
        key = _RT_KEYS.get(ReportType(w.report_type))
        if key is None:
            return None
        inf = "high" if Infectiousness(w.infectiousness) is Infectiousness.HIGH else "standard"
        return int(self.encoding[f"report_type_offset_{key}"]) + int(self.encoding[f"infectiousness_offset_{inf}"])

    @cached_property
    def _legacy_weights(self) -> tuple[dict[int, float], dict[int, float]]:
        """Report-type and infectiousness weights by their wire numbers."""
        rt = {int(t): float(self.report_type_weights.get(key, 0.0)) for t, key in _RT_KEYS.items()}
        inf = {int(Infectiousness.STANDARD): float(self.infectiousness_weights.get("standard", 1.0)),
               int(Infectiousness.HIGH): float(self.infectiousness_weights.get("high", 1.0))}
        return rt, inf

    def _legacy_multiplier(self, w: ExposureWindow) -> tuple[float, float]:
        rt, inf = self._legacy_weights
        return rt.get(int(w.report_type), 0.0), inf.get(int(w.infectiousness), 0.0)

    @cached_property
    def _weight_table(self) -> tuple[float, ...]:
        # attenuations are whole dB: one lookup per scan instead of a range search
        return tuple(self._weight_of(a) for a in range(_TABLE_DB))

    def _weight_of(self, attenuation: float) -> float:
        for rng, weight in self.weights:
            if attenuation in rng:
                return weight
        return 0.0

    def score_window(self, w: ExposureWindow) -> WindowScore | None:
        """The window's score and result, or ``None`` when a filter or the
        window level mapping drops it."""
        # windows can come from outside (an OS's exposure windows, a store): a
        # negative or oversized secondsSinceLastScan must not weigh
        cap, use_min = self.max_seconds_per_scan, self.use_min_attenuation
        scans: list[tuple[int, int]] = []
        for scan in w.scan_instances:
            given = scan.seconds_since_last_scan
            scans.append((scan.min_attenuation_db if use_min else scan.typical_attenuation_db,
                          0 if given < 0 else cap if given > cap else given))
        for attenuations, drop_if in self.filters:
            in_range = 0.0
            for attenuation, seconds in scans:
                if attenuation in attenuations:
                    in_range += seconds
            if in_range / 60 in drop_if:
                return None
        trl = self.transmission_risk_level(w)
        if self.encoding is not None:
            if trl is None or any(trl in r for r in self.trl_filters):
                return None
        weighted = 0.0
        table, weight_of = self._weight_table, self._weight_of
        for attenuation, seconds in scans:
            weighted += seconds * (table[attenuation] if type(attenuation) is int and 0 <= attenuation < _TABLE_DB
                                   else weight_of(attenuation))
        if self.encoding is not None:
            value = self.trl_values.get(trl or 0, 0.0)
            score, minutes = weighted * value, value * (weighted / 60)
        else:
            rt, inf = self._legacy_multiplier(w)
            score = weighted * rt * inf
            minutes = score / 60
        level = RiskLevel.NONE
        if self.window_levels is not None:
            mapped = _first_level(self.window_levels, minutes)
            if mapped is None:
                return None
            level = mapped
        return WindowScore(score, WindowRisk(trl or 0, minutes, level, w.calibration_confidence))

    # -- one day ---------------------------------------------------------------------------

    def score_day(self, windows: Sequence[WindowScore]) -> DayScore:
        """A day's (one tier's) kept windows → its score, normalized minutes and level."""
        total = 0.0
        for ws in windows:
            total += ws.score
        if self.encoding is not None:
            minutes = 0.0
            for ws in windows:
                minutes += ws.result.normalized_minutes
        else:
            minutes = total / 60.0
        if self.rounding_decimals is not None:
            scale = 10.0 ** self.rounding_decimals
            minutes = math.floor(minutes * scale + 0.5) / scale  # half up, as Math.round
        if not windows:  # every window dropped: the CWA does not see the date at all
            level = RiskLevel.NONE
        elif self.day_levels is None:
            level = RiskLevel.HIGH if total > 0 and minutes >= self.minimum_minutes_per_day else RiskLevel.NONE
        else:
            level = _first_level(self.day_levels, minutes) or RiskLevel.NONE
        return DayScore(total, minutes, level)


def model_problems(risk: Any) -> list[str]:
    """What ``config check`` refuses in a ``[risk]`` section beyond its schema
    (``risk`` is a :class:`bluezone.config.RiskSettings`)."""
    problems = []
    has_encoding = risk.transmission_risk_level_encoding is not None
    if risk.transmission_risk_values is not None and not has_encoding:
        problems.append("transmission_risk_values needs transmission_risk_level_encoding")
    if has_encoding and risk.transmission_risk_values is None:
        problems.append("transmission_risk_level_encoding needs transmission_risk_values (a value per level)")
    if risk.transmission_risk_level_filters and not has_encoding:
        problems.append("transmission_risk_level_filters needs transmission_risk_level_encoding")
    levels = [int(v["level"]) for v in risk.transmission_risk_values or ()]
    twice = sorted({lv for lv in levels if levels.count(lv) > 1})
    if twice:
        problems.append(f"transmission_risk_values: level {twice[0]} has two values")
    ranges: list[tuple[str, Mapping[str, Any]]] = []
    for i, f in enumerate(risk.minutes_at_attenuation_filters):
        ranges += [(f"minutes_at_attenuation_filters[{i}].{k}", f[k])
                   for k in ("attenuation_range", "drop_if_minutes_in_range")]
    for i, w in enumerate(risk.minutes_at_attenuation_weights or ()):
        ranges.append((f"minutes_at_attenuation_weights[{i}].attenuation_range", w["attenuation_range"]))
    for i, f in enumerate(risk.transmission_risk_level_filters):
        ranges.append((f"transmission_risk_level_filters[{i}].drop_if_trl_in_range", f["drop_if_trl_in_range"]))
    for name in ("window_risk_levels", "day_risk_levels"):
        for i, m in enumerate(getattr(risk, name) or ()):
            ranges.append((f"{name}[{i}].normalized_minutes_range", m["normalized_minutes_range"]))
    for where, rng in ranges:
        if Range.of(rng).empty:
            problems.append(f"{where}: the range [{rng['min']}, {rng['max']}] holds no value")
    return problems
