"""A completed declaration and its plaintext encoding (before sealing).

The plaintext is framed and padded so that every sealed declaration of a
normal size has the same length on the wire and on the server: an observer
cannot tell a long declaration (many provinces, many symptoms) from a short
one, and a declaration upload is the same size as any other padded upload
(DESIGN.md §2 rule 5).

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


class DeclarationFormatError(ValueError):
    """A plaintext that is not a Bluezone declaration (after a successful open)."""


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
        if not isinstance(data["answers"], dict) or not isinstance(data["schema"], str):
            raise DeclarationFormatError("answers must be an object and schema a string")
        try:
            day = dt.date.fromisoformat(str(data["declared_on"]))
            linkage = Linkage.from_dict(data["linkage"]) if data.get("linkage") is not None else None
        except (ValueError, LinkageError) as e:
            raise DeclarationFormatError(f"bad declaration metadata: {e}") from None
        return cls(data["schema"], str(data["language"]), day, data["answers"], linkage)

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
            data = json.loads(plaintext[8:8 + length].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DeclarationFormatError(f"declaration body is not JSON: {e}") from None
        return cls.from_dict(data)
