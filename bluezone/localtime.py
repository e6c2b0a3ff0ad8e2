"""Dates and times as the person reads them: in the deployment's time zone
(``[deployment] timezone``), never the machine's, and written the way the
phone's language writes them (Vietnamese: ``dd/mm/yyyy``, 24-hour clock).

A phone set up in Gia Lai shows an alert's date as the province's calendar
day even when the computer running the reference client is set to UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

#: How each language writes a date and a moment; others fall back to ISO 8601.
DATE_FORMATS = {"vi": "%d/%m/%Y"}
TIME_FORMAT = "%H:%M"
ISO_DATE = "%Y-%m-%d"


def deployment_zone(config: object) -> ZoneInfo:
    """The deployment's zone (validated when the file was loaded)."""
    data = getattr(config, "data", {}) or {}
    return ZoneInfo(str(data.get("deployment", {}).get("timezone") or "Asia/Ho_Chi_Minh"))


def show_date(day: dt.date, language: str) -> str:
    return day.strftime(DATE_FORMATS.get(language.split("-")[0], ISO_DATE))


def show_moment(unix: int, zone: ZoneInfo, language: str) -> str:
    """``31/12/2026 14:05`` in Vietnamese, ``2026-12-31 14:05`` otherwise."""
    moment = dt.datetime.fromtimestamp(int(unix), zone)
    return f"{show_date(moment.date(), language)} {moment.strftime(TIME_FORMAT)}"


def show_clock(unix: int, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(int(unix), zone).strftime(TIME_FORMAT)
