"""Alerts: the words a person reads, in Vietnamese and English.

One alert per exposure. It says which tier (F1: met a confirmed case; F2:
met an F1), on which date, how it was found (Bluetooth, or a source a plugin
words through ``bluezone_alert_sources``, e.g. a venue check-in) and what
to do: declare health, contact the local health station, and self-isolate
until a date (exposure date + ``[risk] isolation_days``). A LOW-risk
encounter (a deployment with ``[risk] day_risk_levels``, docs/risk.md) gets a
notice instead: met whom, when, low risk, no isolation, watch your health.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..i18n import N_, _, text
from ..models import Alert, Exposure, Tier
from .windows import risk_setting

_SOURCE = {
    "vi": {"ble": "qua Bluetooth"},
    "en": {"ble": "over Bluetooth"},
}


def alert_sources(pm: Any) -> dict[str, dict[str, str]]:
    """``source -> {language: words}`` the plugins of ``pm`` add (sync hook);
    a source two plugins word differently is refused by name."""
    out: dict[str, dict[str, str]] = {}
    hook = getattr(getattr(pm, "hook", None), "bluezone_alert_sources", None)
    for result in (hook() if hook is not None else []):
        for source, words in (result or {}).items():
            if source in out and out[source] != words:
                raise ValueError(f"bluezone_alert_sources: two plugins word the source {source!r}")
            out[source] = dict(words)
    return out

_TEMPLATES = {
    "vi": {
        Tier.F1: ("CẢNH BÁO F1: Ngày {date}, bạn đã tiếp xúc gần với một ca bệnh đã được xác nhận (F0) {source}. "
                  "Hãy làm ngay: (1) khai báo y tế; (2) liên hệ trạm y tế xã/phường nơi bạn ở; "
                  "(3) tự cách ly tại nhà đến hết ngày {until}."),
        Tier.F2: ("CẢNH BÁO F2: Ngày {date}, bạn đã tiếp xúc gần với một người là F1 (người tiếp xúc gần với ca bệnh) "
                  "{source}. Hãy làm ngay: (1) khai báo y tế; (2) liên hệ trạm y tế xã/phường nơi bạn ở; "
                  "(3) tự cách ly, theo dõi sức khỏe tại nhà đến hết ngày {until}."),
    },
    "en": {
        Tier.F1: ("F1 WARNING: On {date} you were in close contact with a confirmed case (F0) {source}. "
                  "Please now: (1) declare your health; (2) contact your local health station; "
                  "(3) self-isolate at home until the end of {until}."),
        Tier.F2: ("F2 WARNING: On {date} you were in close contact with an F1 (a close contact of a case) {source}. "
                  "Please now: (1) declare your health; (2) contact your local health station; "
                  "(3) self-isolate and watch your health at home until the end of {until}."),
    },
}


#: LOW level (docs/risk.md): a notice without isolation advice, through the message catalogue.
_LOW_WHOM = {Tier.F1: N_("a confirmed case (F0)"), Tier.F2: N_("an F1 (a close contact of a case)")}


def _low_message(tier: Tier, date: str, source: str, language: str) -> str:
    return text(_("LOW-RISK ENCOUNTER: On {date} you were near {whom} {source}, but only briefly or at a "
                  "distance. Your risk is low: you do not need to isolate. Watch your health; if you get a "
                  "fever, a cough or shortness of breath, declare your health and contact your local "
                  "health station.", date=date, whom=text(_LOW_WHOM[tier], language), source=source),
                language)


def format_date(day: dt.date, language: str) -> str:
    """Dates as people in each language write them (no locale needed)."""
    return day.strftime("%d/%m/%Y") if language == "vi" else day.isoformat()


def message(tier: Tier, source: str, exposure_date: dt.date, until: dt.date, language: str,
            sources: dict[str, dict[str, str]] | None = None, *, low: bool = False) -> str:
    """The words for one exposure; ``low`` for a LOW-risk encounter (no isolation advice)."""
    words = (sources or {}).get(source) or {}
    core = _SOURCE.get(language, _SOURCE["en"])
    source_words = words.get(language) or words.get("en") or core.get(source, core["ble"])
    if low:
        return _low_message(tier, format_date(exposure_date, language), source_words, language)
    templates = _TEMPLATES.get(language, _TEMPLATES["en"])
    return templates[tier].format(
        date=format_date(exposure_date, language), until=format_date(until, language), source=source_words,
    )


def build_alert(exposure: Exposure, risk: dict[str, Any], languages: list[str], now: int,
                sources: dict[str, dict[str, str]] | None = None) -> Alert:
    """The alert for an exposure, with a message in every deployment language
    (Vietnamese and English are always included); ``sources`` is
    :func:`alert_sources` of the plugin set, wording sources the core does not know."""
    # a LOW-risk encounter advises no isolation: "until" is the day itself
    until = exposure.date if exposure.low else (
        exposure.date + dt.timedelta(days=int(risk_setting(risk, "isolation_days"))))
    langs = list(dict.fromkeys([*languages, "vi", "en"]))
    return Alert(
        exposure_id=exposure.exposure_id, tier=exposure.tier, source=exposure.source,
        exposure_date=exposure.date, created_at=now, isolate_until=until,
        messages={lang: message(exposure.tier, exposure.source, exposure.date, until, lang, sources,
                                low=exposure.low)
                  for lang in langs},
    )
