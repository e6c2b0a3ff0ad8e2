"""What staff see of federation: the outbox, the last round, and the imports per origin.

One reading serves both the staff API (``GET /v1/authority/federation``) and
the portal's federation page, so the two never disagree. It reads only the
province's federation tables and the last round's outcome: batch tags,
province codes, counts, times and refusal codes. Nothing about people: a
batch is many people's keys, and no key is shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .importer import IMPORTED, parse_result

#: ``meta`` row holding the last round's time and error (written by :func:`record_round`)
LAST_ROUND = "federation_last_round"
#: refused batches listed (newest first); the counts cover them all
REFUSED_SHOWN = 20


@dataclass
class OriginImports:
    """What came from one other province, over the retention window."""

    origin: str
    batches_imported: int = 0
    keys_imported: int = 0
    keys_skipped_recursive: int = 0
    batches_refused: int = 0


@dataclass(frozen=True)
class Refused:
    tag: str
    origin: str
    reason: str
    at: int


@dataclass
class FederationStatus:
    outbox_pending: int
    batches_sent: int
    #: when the last round ended, and its error code (None: it went through); None before any round
    last_round_at: int | None
    last_error: str | None
    origins: list[OriginImports] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    @property
    def batches_imported(self) -> int:
        return sum(o.batches_imported for o in self.origins)

    @property
    def keys_imported(self) -> int:
        return sum(o.keys_imported for o in self.origins)

    @property
    def keys_skipped_recursive(self) -> int:
        return sum(o.keys_skipped_recursive for o in self.origins)

    @property
    def batches_refused(self) -> int:
        return sum(o.batches_refused for o in self.origins)

    def as_json(self) -> dict[str, Any]:
        return {
            "outboxPending": self.outbox_pending, "batchesSent": self.batches_sent,
            "lastRound": None if self.last_round_at is None else {"at": self.last_round_at, "error": self.last_error},
            "batchesImported": self.batches_imported, "keysImported": self.keys_imported,
            "keysSkippedRecursive": self.keys_skipped_recursive, "batchesRefused": self.batches_refused,
            "origins": [{"origin": o.origin, "batchesImported": o.batches_imported, "keysImported": o.keys_imported,
                         "keysSkippedRecursive": o.keys_skipped_recursive, "batchesRefused": o.batches_refused}
                        for o in self.origins],
            "refused": [{"batchTag": r.tag, "origin": r.origin, "reason": r.reason, "at": r.at} for r in self.refused],
        }


def record_round(db: Any, at: int, error: str | None) -> None:
    """Keep the last round's outcome where every worker (and the portal) can read it."""
    value = json.dumps({"at": at, "error": error})
    with db.transaction() as conn:  # DELETE then INSERT: the same SQL on SQLite and PostgreSQL
        conn.execute("DELETE FROM meta WHERE key = ?", (LAST_ROUND,))
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (LAST_ROUND, value))


def collect(db: Any) -> FederationStatus:
    """The counts as the province's database holds them now."""
    last = db.get_meta(LAST_ROUND)
    try:
        round_ = json.loads(last) if last else {}
    except ValueError:  # written by record_round only; an unreadable value shows as "no round yet"
        round_ = {}
    out = FederationStatus(
        outbox_pending=db.one("SELECT count(*) FROM fed_outbox WHERE sent_at IS NULL")[0],
        batches_sent=db.one("SELECT count(*) FROM fed_outbox WHERE sent_at IS NOT NULL")[0],
        last_round_at=round_.get("at"), last_error=round_.get("error"))
    origins: dict[str, OriginImports] = {}
    refused: list[Refused] = []
    # the import records of the retention window: one row per batch seen, few enough to read whole
    for tag, origin, imported_keys, result, at in db.all(
            "SELECT tag, origin, imported_keys, result, at FROM fed_imports ORDER BY seq"):
        code, skipped = parse_result(result)
        if code == "skipped":  # our own batches, or a province we do not import from
            continue
        o = origins.setdefault(origin, OriginImports(origin))
        if code == IMPORTED:
            o.batches_imported += 1
            o.keys_imported += imported_keys
            o.keys_skipped_recursive += skipped
        else:
            o.batches_refused += 1
            refused.append(Refused(tag, origin, code, at))
    out.origins = sorted(origins.values(), key=lambda o: o.origin)
    out.refused = refused[::-1][:REFUSED_SHOWN]  # newest first (seq is the order of imports)
    return out
