"""Why a day was an exposure: the facts ``status`` shows, in plain words.

A warning asks a person to isolate for up to two weeks; they may ask why.
For a Bluetooth exposure the answer is in the day's exposure windows: how
many minutes the phones were near each other (as counted, and as weighted
by the risk model), how close (the attenuation bucket of the attenuation the
score weights, worded as the deployment's thresholds in dB), and the report type the published key
carried. Nothing else about the other person is known or shown: these are
the fields of the published key and of this phone's own sightings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..i18n import N_, _, text
from ..models import ExposureWindow, ReportType
from .risk import bucket
from .windows import risk_setting

BUCKETS = ("immediate", "near", "medium", "other")

_BUCKET_WORDS = {
    "immediate": N_("very close (attenuation ≤ {t0} dB)"),
    "near": N_("close ({t0}–{t1} dB)"),
    "medium": N_("medium distance ({t1}–{t2} dB)"),
    "other": N_("far (> {t2} dB)"),
}

_REPORT_WORDS = {
    "confirmed_test": N_("a case confirmed by a test"),
    "confirmed_clinical_diagnosis": N_("a likely case (clinical diagnosis, no test yet)"),
    "self_report": N_("a self-report"),
    "recursive": N_("a reported close contact (F1)"),
    "revoked": N_("a revoked report"),
    "unknown": N_("unknown"),
}

_SOURCE_WORDS = {"ble": N_("Bluetooth"), "venue": N_("Venue (QR)")}


def report_type_name(report_type: int) -> str:
    """``confirmed_test``, ``confirmed_clinical_diagnosis``... (the ``[risk]`` names)."""
    return ReportType(report_type).name.lower()


def describe_windows(windows: Iterable[ExposureWindow], risk: Mapping[str, Any]) -> dict[str, Any]:
    """The facts of one day's windows (one tier): unweighted minutes, minutes
    per closeness bucket (by the attenuation ``[risk] attenuation`` names,
    min or typical, with ``[risk]``'s thresholds), the closest bucket with any time, and the report types."""
    thresholds = list(risk_setting(risk, "attenuation_thresholds_db"))
    # the attenuation the score weights ([risk] attenuation: "min" as CWA, or
    # "typical"), so the words describe what made the score
    use_min = risk_setting(risk, "attenuation") == "min"
    seconds: dict[str, float] = defaultdict(float)
    report_types: set[str] = set()
    for w in windows:
        report_types.add(report_type_name(w.report_type))
        for s in w.scan_instances:
            attenuation = s.min_attenuation_db if use_min else s.typical_attenuation_db
            seconds[bucket(attenuation, thresholds)] += s.seconds_since_last_scan
    closest = next((b for b in BUCKETS if seconds.get(b)), None)
    return {
        "minutes_unweighted": round(sum(seconds.values()) / 60.0, 2),
        "minutes_by_closeness": {b: round(seconds[b] / 60.0, 2) for b in BUCKETS if seconds.get(b)},
        "closeness": closest,
        "attenuation_thresholds_db": thresholds,
        "report_types": sorted(report_types),
    }


def closeness_words(name: str | None, thresholds: list[int] | None, language: str) -> str:
    """A closeness bucket in plain words with its dB range."""
    if name is None:
        return ""
    t0, t1, t2 = thresholds or list(risk_setting({}, "attenuation_thresholds_db"))
    return _(_BUCKET_WORDS[name], t0=t0, t1=t1, t2=t2).text(language)


def report_words(name: str, language: str) -> str:
    return text(_REPORT_WORDS[name], language) if name in _REPORT_WORDS else name


def source_words(source: str, language: str) -> str:
    return text(_SOURCE_WORDS[source], language) if source in _SOURCE_WORDS else source
