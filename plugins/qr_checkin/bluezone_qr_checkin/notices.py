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
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from bluezone.i18n import LANGUAGE_TAG, SEPARATOR, SOURCE_LANGUAGE, Message, _, active_languages
from bluezone.i18n import text as i18n_text

from .proto import crowdnotifier_pb2 as pb

DEFAULT_NOTICE = "f0-visit"
NOTICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TEXT = 300


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice kind. A built-in one is a catalogue text (``message``,
    translated like every other text); one the deployment file adds brings
    its own ``texts`` per language, since no catalogue knows it."""

    id: str
    message: Message | None = None
    texts: Mapping[str, str] = field(default_factory=dict)

    def text(self, language: str | None = None) -> str:
        """The notice in one language (default: the first active one); a
        configured notice without that language falls back to English, then
        to its first text."""
        if self.message is not None:
            return i18n_text(self.message, language)
        language = language or active_languages()[0]
        return self.texts.get(language) or self.texts.get(SOURCE_LANGUAGE) or next(iter(self.texts.values()))

    def render(self) -> str:
        """Every active language, joined like any message with no one person
        behind it (what the authority signs into a trace)."""
        shown: list[str] = []
        for language in active_languages():
            if self.text(language) not in shown:
                shown.append(self.text(language))
        return SEPARATOR.join(shown)


BUILTIN: dict[str, Notice] = {
    n.id: n for n in (
        Notice(DEFAULT_NOTICE, _("A confirmed case (F0) was at a place you visited at the same time.")),
        Notice("f0-visit-test", _("A confirmed case (F0) was at a place you visited at the same time. "
                                  "Watch your health and get tested.")),
        Notice("f0-visit-isolate", _("A confirmed case (F0) was at a place you visited at the same time. "
                                     "Stay at home and call your commune health station.")),
    )
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "notice kinds staff may choose for a venue trace (id → its text in each language, e.g. "
                   "{ vi = \"...\", en = \"...\" }); added to the built-in f0-visit, f0-visit-test and "
                   "f0-visit-isolate (same id: replaces it)",
    "propertyNames": {"pattern": NOTICE_ID.pattern},
    "additionalProperties": {
        "type": "object",
        "propertyNames": {"pattern": LANGUAGE_TAG.pattern},
        "additionalProperties": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
        "minProperties": 1,
    },
    "default": {},
}


class UnknownNotice(ValueError):
    """A notice id that is not in the catalogue."""


def catalogue(configured: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Notice]:
    """The built-in notices with the deployment's ``[qr_checkin.notices]`` on top."""
    out = dict(BUILTIN)
    for nid, texts in (configured or {}).items():
        out[nid] = Notice(nid, texts=dict(texts))
    return out


def lookup(notice_id: Any, cat: Mapping[str, Notice]) -> Notice:
    """The notice for a staff-chosen id; :class:`UnknownNotice` otherwise."""
    if not isinstance(notice_id, str) or notice_id not in cat:
        raise UnknownNotice(_("Unknown notice id {id}; known: {known}", id=repr(notice_id),
                                known=", ".join(sorted(cat))))
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


def render(notice_id: Any, cat: Mapping[str, Notice], language: str | None = None) -> str:
    """What a phone shows for a stored notice id, in the person's language:
    its own catalogue's text, or the default notice's when the id is unknown
    here. Never text from a trace."""
    if isinstance(notice_id, str) and notice_id in cat:
        return cat[notice_id].text(language)
    return cat.get(DEFAULT_NOTICE, BUILTIN[DEFAULT_NOTICE]).text(language)
