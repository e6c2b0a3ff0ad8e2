"""The notices a venue trace can carry: chosen by authority staff, by id.

A trace's notice is what a phone shows next to the matched visit. It used to
be free text written by whoever uploaded the trace — the venue owner — and
the authority signed it unchanged, so a venue could make the authority "say"
anything ("pay 500.000 VND at http://..."). Now the authority keeps a small
catalogue of notice kinds (built in below, extended or overridden by
``[qr_checkin.notices]``), staff choose one by id when they issue the
one-time token, the trace carries only that id (in
``AssociatedData.countryData``, :class:`BluezoneTraceData`), and phones show
the text of their own catalogue for it. Nothing the uploader types can reach a
phone's screen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from . import messages as msg
from .proto import crowdnotifier_pb2 as pb

DEFAULT_NOTICE = "f0-visit"
NOTICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TEXT = 300


@dataclass(frozen=True, slots=True)
class Notice:
    id: str
    vi: str
    en: str

    def text(self) -> str:
        """Both languages, as every message of this plugin (``"vi / en"``)."""
        return msg.both(self.vi, self.en)


_F0 = ("Một người nhiễm COVID-19 (F0) đã ở địa điểm bạn đến cùng thời gian.",
       "A confirmed case (F0) was at a place you visited at the same time.")

BUILTIN: dict[str, Notice] = {
    n.id: n for n in (
        Notice(DEFAULT_NOTICE, _F0[0], _F0[1]),
        Notice("f0-visit-test", f"{_F0[0]} Hãy theo dõi sức khoẻ và đi xét nghiệm.",
               f"{_F0[1]} Watch your health and get tested."),
        Notice("f0-visit-isolate", f"{_F0[0]} Hãy tự cách ly tại nhà và gọi trạm y tế xã/phường.",
               f"{_F0[1]} Stay at home and call your commune health station."),
    )
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "notice kinds staff may choose for a venue trace (id → texts); added to the built-in "
                   "f0-visit, f0-visit-test and f0-visit-isolate (same id: replaces it)",
    "propertyNames": {"pattern": NOTICE_ID.pattern},
    "additionalProperties": {
        "type": "object",
        "properties": {"vi": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                       "en": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}},
        "required": ["vi", "en"],
        "additionalProperties": False,
    },
    "default": {},
}


class UnknownNotice(ValueError):
    """A notice id that is not in the catalogue."""


def catalogue(configured: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Notice]:
    """The built-in notices with the deployment's ``[qr_checkin.notices]`` on top."""
    out = dict(BUILTIN)
    for nid, texts in (configured or {}).items():
        out[nid] = Notice(nid, texts["vi"], texts["en"])
    return out


def lookup(notice_id: Any, cat: Mapping[str, Notice]) -> Notice:
    """The notice for a staff-chosen id; :class:`UnknownNotice` otherwise."""
    if not isinstance(notice_id, str) or notice_id not in cat:
        raise UnknownNotice(f"unknown notice id {notice_id!r}; known: {', '.join(sorted(cat))}")
    return cat[notice_id]


def encode(notice_id: str) -> bytes:
    """The ``countryData`` of a trace's AssociatedData for this notice."""
    return pb.BluezoneTraceData(version=1, notice=notice_id).SerializeToString()


def decode(country_data: bytes) -> str | None:
    """The notice id a trace carries, or ``None`` (another deployment, or none)."""
    data = pb.BluezoneTraceData()
    try:
        data.ParseFromString(country_data)
    except (DecodeError, RuntimeError, ValueError):
        return None
    return data.notice if NOTICE_ID.match(data.notice) else None


def render(notice_id: Any, cat: Mapping[str, Notice]) -> str:
    """What a phone shows for a stored notice id: its own catalogue's text, or
    the default notice's when the id is unknown here. Never text from a trace."""
    if isinstance(notice_id, str) and notice_id in cat:
        return cat[notice_id].text()
    return cat.get(DEFAULT_NOTICE, BUILTIN[DEFAULT_NOTICE]).text()
