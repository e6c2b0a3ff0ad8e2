"""Default risk scoring: GAEN v2 exposure windows → daily risk per tier.

By default every scan instance's typical attenuation picks a bucket
(IMMEDIATE ≤ t0 < NEAR ≤ t1 < MEDIUM ≤ t2 < OTHER); a window's weighted
duration is Σ seconds × bucket weight, and its score that times the
report-type weight and the infectiousness weight. A day's score per tier is
the sum of its windows' scores (the maximum is kept too); the day is an
exposure (HIGH) when the weighted minutes reach ``minimum_minutes_per_day``.
With all weights 1, 15 minutes of scans score 900.

A deployment that sets the Corona-Warn-App fields of ``[risk]`` gets that
app's v2 model instead, with a LOW level as well as HIGH
(:mod:`.risk_model`; ``examples/risk/cwa-v2.toml``). :func:`summarize` gives
that app's aggregate (total level, most recent low/high day, counts).

With ``[risk] estimator`` set to ``median``, ``quantile`` or ``kalman`` a
window's close seconds come from its whole series of scans instead
(:mod:`.estimators`). Every number comes from the deployment's ``[risk]`` section. A province
replaces all of this by implementing ``bluezone_score_exposure_windows``.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..models import DailyRisk, ExposureWindow, RiskLevel, Tier
from .estimators import SeriesEstimator
from .risk_model import RiskModel, WindowScore, _setting

_BUCKETS = ("immediate", "near", "medium", "other")


def bucket(attenuation: int, thresholds: list[int]) -> str:
    t0, t1, t2 = thresholds
    if attenuation <= t0:
        return "immediate"
    if attenuation <= t1:
        return "near"
    if attenuation <= t2:
        return "medium"
    return "other"


#: ``[risk]`` fields of the Corona-Warn-App model: when any is set the
#: deployment chose that model, and it is applied as configured.
CUSTOM_MODEL_FIELDS = ("minutes_at_attenuation_weights", "minutes_at_attenuation_filters",
                       "transmission_risk_level_encoding", "window_risk_levels", "day_risk_levels")


def uses_custom_model(risk: dict[str, Any]) -> bool:
    """True when the section configures the Corona-Warn-App model (then
    ``estimator`` does not apply)."""
    return any(_setting(risk, f) for f in CUSTOM_MODEL_FIELDS)


def window_score(w: ExposureWindow, risk: dict[str, Any]) -> float:
    """A window's score in weighted seconds (0 for a window a filter drops)."""
    scored = RiskModel.from_risk(risk).score_window(w)
    return scored.score if scored is not None else 0.0


def score_windows(windows: Iterable[ExposureWindow], risk: dict[str, Any]) -> list[DailyRisk]:
    """Daily risks (one per date and tier that has windows), sorted.

    A day whose windows were all dropped by a filter still has a row (score 0,
    no level), so callers see it was looked at."""
    model = RiskModel.from_risk(risk)
    estimator = _setting(risk, "estimator") or "buckets"
    if estimator != "buckets" and not uses_custom_model(risk):
        return SeriesEstimator(estimator, float(_setting(risk, "estimator_threshold_db"))).score(windows, risk)
    kept: dict[tuple, list[WindowScore]] = defaultdict(list)
    for w in windows:
        key = (w.date, Tier(w.tier))
        scored = model.score_window(w)
        kept[key]  # the day exists even when every window is dropped
        if scored is not None:
            kept[key].append(scored)
    out = []
    for (date, tier), scored_windows in sorted(kept.items()):
        day = model.score_day(scored_windows)
        warns = tier is not Tier.NONE
        out.append(DailyRisk(date, tier, day.score, max((s.score for s in scored_windows), default=0.0),
                             day.minutes, exposed=warns and day.level is RiskLevel.HIGH,
                             low=warns and day.level is RiskLevel.LOW,
                             windows=tuple(s.result for s in scored_windows)))
    return out


@dataclass(frozen=True, slots=True)
class RiskSummary:
    """The Corona-Warn-App's aggregate over days (its ``EwAggregatedRiskResult``).

    A date's level is the highest of its tiers; dates without a level count
    nowhere (as in the CWA). The total is HIGH when any day is, else LOW."""

    total_level: RiskLevel
    most_recent_low_day: _dt.date | None
    most_recent_high_day: _dt.date | None
    days_low: int
    days_high: int
    encounters_low: int
    encounters_high: int


def summarize(daily: Iterable[DailyRisk]) -> RiskSummary:
    """The summary of a scorer's daily risks (see :class:`RiskSummary`)."""
    by_date: dict[_dt.date, list[DailyRisk]] = defaultdict(list)
    for d in daily:
        by_date[d.date].append(d)
    levels = {date: max(d.level for d in rows) for date, rows in by_date.items()}
    levels = {date: lv for date, lv in levels.items() if lv is not RiskLevel.NONE}

    def days(level: RiskLevel) -> list[_dt.date]:
        return [date for date, lv in levels.items() if lv is level]

    def encounters(level: RiskLevel) -> int:
        # "minimum distinct encounters": distinct (transmission risk level,
        # calibration confidence) per date among its windows of that level
        return sum(len({(w.transmission_risk_level, w.calibration_confidence)
                        for d in by_date[date] for w in d.windows if w.level is level})
                   for date in levels)

    low, high = days(RiskLevel.LOW), days(RiskLevel.HIGH)
    return RiskSummary(RiskLevel.HIGH if high else RiskLevel.LOW, max(low, default=None), max(high, default=None),
                       len(low), len(high), encounters(RiskLevel.LOW), encounters(RiskLevel.HIGH))
