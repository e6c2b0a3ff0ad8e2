"""The province's outbox: shareable keys become signed batches, kept until the gateway has them.

Why an outbox: the gateway may be down. Keys are taken into a batch (its
canonical bytes signed, a tag chosen) and marked with that tag in one
transaction, so a key joins exactly one batch; the batch is then sent until
the gateway confirms it. The gateway answers a resend of the same bytes under
the same tag with ``batch_already_stored``, which counts as sent: nothing is
lost and nothing is stored twice.

A batch the gateway refuses for good (:data:`PERMANENT_REFUSALS`: its keys
are stored there already, its signature or bytes are wrong) would be refused
again at every round, so it is marked refused with the gateway's code and
left: it is neither pending nor sent, and staff see it in the status. For
``duplicate_keys`` the gateway names the keys it holds already (their
positions in the batch): the others are released and go out in a new batch at
the next round, so one clashing key does not keep the rest in the province.
After the other refusals the keys keep their batch tag and are not batched
again (sent again under a new tag they would be refused the same way until
the cause is mended).

Which keys leave: this province's own (not imported), published here
already (their embargo is over), whose owner agreed to sharing beyond the
province, confirmed (test or clinical) — and F1 (RECURSIVE) keys only with
``include_recursive``. Revoked keys never leave.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.models import ExposureKey, ReportType

from . import encoding
from .province import FederationSettings

#: EFGS' limit of keys per uploaded batch
BATCH_KEYS = 5000

#: The gateway's error codes that refuse this batch whatever the round (4xx
#: answers about the batch itself). Anything else (unreachable, a timeout, a
#: 5xx, 429, an unknown province or certificate: the gateway's or the
#: operator's side) stops the round and keeps the batch pending.
PERMANENT_REFUSALS = frozenset({"duplicate_keys", "duplicate_batch_tag", "bad_signature", "invalid_signature",
                                "malformed_batch", "origin_mismatch", "invalid_batch_tag"})


@dataclass(frozen=True)
class Pending:
    tag: str
    data: bytes
    signature: bytes
    key_count: int


def shareable_types(settings: FederationSettings) -> tuple[int, ...]:
    types = [int(ReportType.CONFIRMED_TEST), int(ReportType.CONFIRMED_CLINICAL_DIAGNOSIS)]
    if settings.include_recursive:
        types.append(int(ReportType.RECURSIVE))
    return tuple(types)


def fill(conn: sqlite3.Connection, settings: FederationSettings, signing_key: ec.EllipticCurvePrivateKey,
         now: int) -> list[str]:
    """Put every shareable key not yet in a batch into new signed batches (call inside a transaction)."""
    types = shareable_types(settings)
    marks = ",".join("?" * len(types))
    tags: list[str] = []
    while True:
        rows = conn.execute(
            "SELECT key_data, rolling_start, rolling_period, transmission_risk, report_type, dsos FROM exposure_keys"
            f" WHERE share_beyond = 1 AND fed_batch IS NULL AND origin IS NULL AND available_at <= ?"
            f" AND report_type IN ({marks}) ORDER BY key_data LIMIT ?", (now, *types, BATCH_KEYS)).fetchall()
        if not rows:
            return tags
        keys = [encoding.FederatedKey(ExposureKey(r[0], r[1], r[2], r[3], ReportType(r[4]), r[5]),
                                      settings.relevant_to) for r in rows]
        data = encoding.encode(settings.origin, keys)
        tag = f"{settings.origin}-{now}-{secrets.token_hex(6)}"
        conn.execute("INSERT INTO fed_outbox (tag, data, signature, key_count, created_at) VALUES (?,?,?,?,?)",
                     (tag, data, encoding.sign(data, signing_key), len(rows), now))
        conn.executemany("UPDATE exposure_keys SET fed_batch = ? WHERE key_data = ?", [(tag, r[0]) for r in rows])
        tags.append(tag)


def is_permanent(code: str, status: int) -> bool:
    """Whether the gateway's answer (``code``, HTTP ``status``) refuses the batch for good."""
    return code in PERMANENT_REFUSALS and 400 <= status < 500


def pending(conn: sqlite3.Connection) -> list[Pending]:
    """The batches still to send: neither sent nor refused, oldest first."""
    return [Pending(*r) for r in conn.execute(
        "SELECT tag, data, signature, key_count FROM fed_outbox WHERE sent_at IS NULL AND refused IS NULL"
        " ORDER BY created_at, tag")]


def mark_sent(conn: sqlite3.Connection, tag: str, now: int) -> None:
    conn.execute("UPDATE fed_outbox SET sent_at = ? WHERE tag = ?", (now, tag))


def mark_refused(conn: sqlite3.Connection, tag: str, code: str, now: int) -> None:
    """Set a batch aside with the gateway's error ``code``: never sent again."""
    conn.execute("UPDATE fed_outbox SET refused = ?, refused_at = ? WHERE tag = ?", (code, now, tag))


def clashing_positions(detail: dict[str, Any], key_count: int) -> set[int] | None:
    """The positions a ``duplicate_keys`` refusal names (``duplicateKeys``), or None
    when the answer does not name them well (then nothing is released: a
    gateway's word is checked before it moves a key)."""
    value = detail.get("duplicateKeys")
    if (not isinstance(value, list) or not value
            or not all(type(i) is int and 0 <= i < key_count for i in value)):
        return None
    return set(value)


def release_unclashed(conn: sqlite3.Connection, tag: str, clashing: set[int]) -> int:
    """After a ``duplicate_keys`` refusal of batch ``tag``: its keys the gateway
    does not hold go back to the pool (``fed_batch`` cleared), to be batched
    again by the next :func:`fill`. Returns how many."""
    row = conn.execute("SELECT data FROM fed_outbox WHERE tag = ?", (tag,)).fetchone()
    if row is None:
        return 0
    keys = encoding.decode(bytes(row[0])).keys  # our own signed bytes: the order the gateway counted in
    free = [(k.key.key_data, tag) for i, k in enumerate(keys) if i not in clashing]
    if free:
        conn.executemany("UPDATE exposure_keys SET fed_batch = NULL WHERE key_data = ? AND fed_batch = ?", free)
    return len(free)
