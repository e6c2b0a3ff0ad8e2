"""Durations and moments as people type them on the command line."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from bluezone.i18n import _, active_languages

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def parse_duration(text: str) -> int:
    """``2h``, ``90m``, ``1h30m``, ``45min`` → seconds."""
    m = re.fullmatch(r"\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*", text.lower())
    if not m or not (m.group(1) or m.group(2)):
        raise ValueError(_("Not a duration: {text} (use e.g. 2h, 90m, 1h30m)", text=repr(text)))
    return int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60


def parse_time(text: str, tz: str = DEFAULT_TZ) -> int:
    """ISO 8601 (``2026-11-30T09:00``, ``2026-11-30 09:00+07:00``) or ``@unix``.
    A time without an offset is in the deployment's timezone."""
    text = text.strip()
    if text.startswith("@") and text[1:].isdigit():
        return int(text[1:])
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_("Not a time: {text} (use e.g. 2026-11-30T09:00 or @1796029200)", text=repr(text))) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return int(moment.timestamp())


#: How a moment is written per language (Vietnamese: day first, 24-hour); others ISO 8601.
MOMENT_FORMATS = {"vi": "%d/%m/%Y %H:%M"}


def show_time(unix: int, tz: str = DEFAULT_TZ, language: str | None = None) -> str:
    """``unix`` in the deployment's zone, as the reader's language writes it
    (``language``, else the first active one: the phone's own inside a store's block)."""
    lang = (language or active_languages()[0]).split("-")[0]
    return dt.datetime.fromtimestamp(unix, ZoneInfo(tz)).strftime(MOMENT_FORMATS.get(lang, "%Y-%m-%d %H:%M"))
