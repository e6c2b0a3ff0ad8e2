"""Default risk scoring: GAEN v2 exposure windows → daily risk per tier.

For every scan instance the typical attenuation picks a bucket
(IMMEDIATE ≤ t0 < NEAR ≤ t1 < MEDIUM ≤ t2 < OTHER); a window's weighted
duration is Σ seconds × bucket weight, and its score that times the
report-type weight and the infectiousness weight. A day's score per tier is
the sum of its windows' scores (the maximum is kept too); the day is an
exposure when the weighted minutes reach ``minimum_minutes_per_day``.
With all weights 1, 15 minutes of scans score 900.

Every number comes from the deployment's ``[risk]`` section. A province
replaces all of this by implementing ``bluezone_score_exposure_windows``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..models import DailyRisk, ExposureWindow, Infectiousness, ReportType, Tier

_RT_KEYS = {
    ReportType.CONFIRMED_TEST: "confirmed_test",
    ReportType.CONFIRMED_CLINICAL_DIAGNOSIS: "confirmed_clinical_diagnosis",
    ReportType.SELF_REPORT: "self_report",
    ReportType.RECURSIVE: "recursive",
}
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


def window_score(w: ExposureWindow, risk: dict[str, Any]) -> float:
    """GAEN v2 window score in weighted seconds."""
    thresholds = risk["attenuation_thresholds_db"]
    weights = risk["bucket_weights"]
    weighted = sum(
        s.seconds_since_last_scan * weights.get(bucket(s.typical_attenuation_db, thresholds), 0.0)
        for s in w.scan_instances
    )
    rt_weight = risk["report_type_weights"].get(_RT_KEYS.get(ReportType(w.report_type), ""), 0.0)
    inf_weight = {
        Infectiousness.STANDARD: risk["infectiousness_weights"].get("standard", 1.0),
        Infectiousness.HIGH: risk["infectiousness_weights"].get("high", 1.0),
    }.get(Infectiousness(w.infectiousness), 0.0)
    return weighted * rt_weight * inf_weight


def score_windows(windows: Iterable[ExposureWindow], risk: dict[str, Any]) -> list[DailyRisk]:
    """Daily risks (one per date and tier that has windows), sorted."""
    sums: dict[tuple, float] = defaultdict(float)
    maxima: dict[tuple, float] = defaultdict(float)
    for w in windows:
        key = (w.date, Tier(w.tier))
        score = window_score(w, risk)
        sums[key] += score
        maxima[key] = max(maxima[key], score)
    minimum = float(risk["minimum_minutes_per_day"])
    out = []
    for (date, tier), total in sorted(sums.items()):
        minutes = total / 60.0
        out.append(DailyRisk(date, tier, total, maxima[(date, tier)], minutes,
                             exposed=tier is not Tier.NONE and total > 0 and minutes >= minimum))
    return out
