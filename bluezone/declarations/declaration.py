"""A completed declaration and its plaintext encoding (before sealing).

The plaintext is framed and padded so that every sealed declaration of a
normal size has the same length on the wire and on the server: an observer
cannot tell a long declaration (many provinces, many symptoms) from a short
one, and a declaration upload is the same size as any other padded upload
(docs/privacy.md rule 5).

Frame: ``b"BZD1"`` ‖ uint32 big-endian JSON length ‖ UTF-8 JSON ‖ zero bytes
up to a multiple of :data:`PAD_BLOCK`.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from .linkage import Linkage, LinkageError

MAGIC = b"BZD1"
#: Plaintext is padded to a multiple of this; sealed size = 48 + k·PAD_BLOCK.
PAD_BLOCK = 4096
#: Refuse absurd plaintexts (a form is a few KB; this bounds the authority's work).
MAX_PLAINTEXT = 64 * 1024
#: Deepest JSON nesting a declaration needs is 3 (object → answers → list);
#: anything deeper is refused before ``json.loads`` sees it, because the
#: declaration key is public and a 60,000-deep ``[[[[…`` would otherwise
#: raise RecursionError inside the authority's tools.
MAX_DEPTH = 6
#: Bounds on the parts of a declaration (the form's own limits are far lower).
MAX_ANSWERS = 500
MAX_KEY_CHARS = 64
MAX_TEXT_CHARS = 4000
MAX_LIST_ITEMS = 200
MAX_SCHEMA_CHARS = 64
MAX_LANGUAGE_CHARS = 8
#: Whole numbers in answers stay within what every JSON reader handles exactly.
MAX_ABS_INT = 2**53


class DeclarationFormatError(ValueError):
    """A plaintext that is not a Bluezone declaration (after a successful open).

    The only exception :meth:`Declaration.from_plaintext` raises, whatever
    the bytes: the authority's tools report it per declaration and go on."""


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets outside strings nest deeper than ``limit``.

    A linear scan, so the check itself cannot recurse; run before parsing."""
    if text.count("[") + text.count("{") <= limit:  # cannot nest deeper than it has brackets
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _no_constants(name: str) -> Any:
    raise DeclarationFormatError(f"declaration uses {name}, which is not JSON")


def _answer_value_problem(value: Any) -> str | None:
    """Why an answer value is not one of the canonical JSON-friendly types
    (text, whole number, yes/no, null, list of text or numbers), or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_ABS_INT else "number out of range"
    if isinstance(value, str):
        return None if len(value) <= MAX_TEXT_CHARS else "text too long"
    if isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            return "list too long"
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                return "list items must be text or whole numbers"
            if isinstance(item, str) and len(item) > MAX_TEXT_CHARS:
                return "text too long"
            if isinstance(item, int) and abs(item) > MAX_ABS_INT:
                return "number out of range"
        return None
    return f"unexpected {type(value).__name__}"


@dataclass(frozen=True)
class Declaration:
    """What the person declared, on which form, in which language, linked to what."""

    schema: str  # Form.schema_tag, e.g. "ncovi/1" or "ncovi/1+gia-lai-2"
    language: str
    declared_on: dt.date  # a day, not a timestamp: less to link with network logs
    answers: dict[str, Any]
    linkage: Linkage | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def form_id(self) -> str:
        return self.schema.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema,
            "language": self.language,
            "declared_on": self.declared_on.isoformat(),
            "answers": self.answers,
        }
        if self.linkage is not None:
            out["linkage"] = self.linkage.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Declaration":
        if not isinstance(data, dict):
            raise DeclarationFormatError("a declaration is a JSON object")
        missing = {"schema", "language", "declared_on", "answers"} - set(data)
        if missing:
            raise DeclarationFormatError(f"declaration lacks {', '.join(sorted(missing))}")
        schema, language, answers = data["schema"], data["language"], data["answers"]
        if not isinstance(answers, dict) or not isinstance(schema, str):
            raise DeclarationFormatError("answers must be an object and schema a string")
        if not 0 < len(schema) <= MAX_SCHEMA_CHARS:
            raise DeclarationFormatError("schema must be 1 to 64 characters")
        if not isinstance(language, str) or not 0 < len(language) <= MAX_LANGUAGE_CHARS:
            raise DeclarationFormatError("language must be a short text")
        if not isinstance(data["declared_on"], str):
            raise DeclarationFormatError("declared_on must be a date YYYY-MM-DD")
        if len(answers) > MAX_ANSWERS:
            raise DeclarationFormatError(f"more than {MAX_ANSWERS} answers")
        for key, value in answers.items():
            if len(key) > MAX_KEY_CHARS:
                raise DeclarationFormatError("an answer name is longer than 64 characters")
            problem = _answer_value_problem(value)
            if problem:
                raise DeclarationFormatError(f"answer {key[:MAX_KEY_CHARS]!r} is not valid: {problem}")
        try:
            day = dt.date.fromisoformat(data["declared_on"])
            linkage = Linkage.from_dict(data["linkage"]) if data.get("linkage") is not None else None
        except (ValueError, LinkageError) as e:
            raise DeclarationFormatError(f"bad declaration metadata: {e}") from None
        return cls(schema, language, day, answers, linkage)

    # -- framing ------------------------------------------------------------------

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def to_plaintext(self, block: int = PAD_BLOCK) -> bytes:
        body = self.to_json()
        if len(body) + 8 > MAX_PLAINTEXT:
            raise DeclarationFormatError(f"declaration too large ({len(body)} bytes)")
        framed = MAGIC + struct.pack(">I", len(body)) + body
        target = max(block, -(-len(framed) // block) * block)
        return framed + bytes(target - len(framed))

    @classmethod
    def from_plaintext(cls, plaintext: bytes) -> "Declaration":
        if len(plaintext) < 8 or plaintext[:4] != MAGIC:
            raise DeclarationFormatError("not a Bluezone declaration (bad header)")
        (length,) = struct.unpack(">I", plaintext[4:8])
        if length > len(plaintext) - 8 or length > MAX_PLAINTEXT:
            raise DeclarationFormatError("declaration length field exceeds the data")
        if any(plaintext[8 + length:]):
            raise DeclarationFormatError("declaration padding is not zero")
        try:
            text = plaintext[8:8 + length].decode("utf-8")
        except UnicodeDecodeError:
            raise DeclarationFormatError("declaration body is not UTF-8") from None
        if json_depth_exceeds(text, MAX_DEPTH):
            raise DeclarationFormatError(f"declaration JSON nests deeper than {MAX_DEPTH} levels")
        try:
            data = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError) as e:  # JSONDecodeError, over-long integers
            raise DeclarationFormatError(f"declaration body is not JSON: {str(e)[:120]}") from None
        return cls.from_dict(data)
