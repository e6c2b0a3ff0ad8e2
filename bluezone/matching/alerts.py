"""Alerts: the words a person reads, in Vietnamese and English.

One alert per exposure. It says which tier (F1: met a confirmed case; F2:
met an F1), on which date, how it was found (Bluetooth or a venue check-in)
and what to do: declare health, contact the local health station, and
self-isolate until a date (exposure date + ``[risk] isolation_days``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models import Alert, Exposure, Tier
from .windows import risk_setting

_SOURCE = {
    "vi": {"ble": "qua Bluetooth", "venue": "tại một địa điểm bạn đã quét mã QR check-in"},
    "en": {"ble": "over Bluetooth", "venue": "at a venue you checked in to with a QR code"},
}

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


def format_date(day: dt.date, language: str) -> str:
    """Dates as people in each language write them (no locale needed)."""
    return day.strftime("%d/%m/%Y") if language == "vi" else day.isoformat()


def message(tier: Tier, source: str, exposure_date: dt.date, until: dt.date, language: str) -> str:
    templates = _TEMPLATES.get(language, _TEMPLATES["en"])
    sources = _SOURCE.get(language, _SOURCE["en"])
    return templates[tier].format(
        date=format_date(exposure_date, language), until=format_date(until, language),
        source=sources.get(source, sources["ble"]),
    )


def build_alert(exposure: Exposure, risk: dict[str, Any], languages: list[str], now: int) -> Alert:
    """The alert for an exposure, with a message in every deployment language
    (Vietnamese and English are always included)."""
    until = exposure.date + dt.timedelta(days=int(risk_setting(risk, "isolation_days")))
    langs = list(dict.fromkeys([*languages, "vi", "en"]))
    return Alert(
        exposure_id=exposure.exposure_id, tier=exposure.tier, source=exposure.source,
        exposure_date=exposure.date, created_at=now, isolate_until=until,
        messages={lang: message(exposure.tier, exposure.source, exposure.date, until, lang) for lang in langs},
    )
