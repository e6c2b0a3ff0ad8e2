"""Why a day was an exposure: the facts ``status`` shows, in plain words.

A warning asks a person to isolate for up to two weeks; they may ask why.
For a Bluetooth exposure the answer is in the day's exposure windows: how
many minutes the phones were near each other (as counted, and as weighted
by the risk model), how close (the attenuation bucket, worded as the
deployment's thresholds in dB), and the report type the published key
carried. Nothing else about the other person is known or shown: these are
the fields of the published key and of this phone's own sightings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..models import ExposureWindow, ReportType
from .risk import bucket
from .windows import risk_setting

BUCKETS = ("immediate", "near", "medium", "other")

_BUCKET_WORDS = {
    "vi": {"immediate": "rất gần (suy hao ≤ {t0} dB)", "near": "gần ({t0}–{t1} dB)",
           "medium": "trung bình ({t1}–{t2} dB)", "other": "xa (> {t2} dB)"},
    "en": {"immediate": "very close (attenuation ≤ {t0} dB)", "near": "close ({t0}–{t1} dB)",
           "medium": "medium distance ({t1}–{t2} dB)", "other": "far (> {t2} dB)"},
}

_REPORT_WORDS = {
    "vi": {"confirmed_test": "ca bệnh xác nhận bằng xét nghiệm",
           "confirmed_clinical_diagnosis": "ca nghi nhiễm (chẩn đoán lâm sàng, chưa có xét nghiệm)",
           "self_report": "người tự khai báo", "recursive": "người tiếp xúc gần (F1) đã báo cáo",
           "revoked": "báo cáo đã bị thu hồi", "unknown": "không rõ"},
    "en": {"confirmed_test": "a case confirmed by a test",
           "confirmed_clinical_diagnosis": "a likely case (clinical diagnosis, no test yet)",
           "self_report": "a self-report", "recursive": "a reported close contact (F1)",
           "revoked": "a revoked report", "unknown": "unknown"},
}

_SOURCE_WORDS = {"vi": {"ble": "Bluetooth", "venue": "Địa điểm (QR)"},
                 "en": {"ble": "Bluetooth", "venue": "Venue (QR)"}}


def report_type_name(report_type: int) -> str:
    """``confirmed_test``, ``confirmed_clinical_diagnosis``... (the ``[risk]`` names)."""
    return ReportType(report_type).name.lower()


def describe_windows(windows: Iterable[ExposureWindow], risk: Mapping[str, Any]) -> dict[str, Any]:
    """The facts of one day's windows (one tier): unweighted minutes, minutes
    per closeness bucket (by typical attenuation, with ``[risk]``'s
    thresholds), the closest bucket with any time, and the report types."""
    thresholds = list(risk_setting(risk, "attenuation_thresholds_db"))
    seconds: dict[str, float] = defaultdict(float)
    report_types: set[str] = set()
    for w in windows:
        report_types.add(report_type_name(w.report_type))
        for s in w.scan_instances:
            seconds[bucket(s.typical_attenuation_db, thresholds)] += s.seconds_since_last_scan
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
    return _BUCKET_WORDS.get(language, _BUCKET_WORDS["en"])[name].format(t0=t0, t1=t1, t2=t2)


def report_words(name: str, language: str) -> str:
    words = _REPORT_WORDS.get(language, _REPORT_WORDS["en"])
    return words.get(name, name)


def source_words(source: str, language: str) -> str:
    return _SOURCE_WORDS.get(language, _SOURCE_WORDS["en"]).get(source, source)
