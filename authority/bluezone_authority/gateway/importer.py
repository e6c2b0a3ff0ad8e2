"""Importing another province's batch into this province's keys.

The importer trusts the gateway for nothing: each batch is checked against
the origin province's public signing key from this province's own
``[federation] signing_keys`` (a gateway that changed one bit of one key
breaks the signature), and its origin inside the signed bytes must be the
one the gateway announced. A refused batch is recorded (``fed_imports``
with its reason, a log line, the status counter) and none of its keys is
used. Keys whose dates or onset a phone upload could not carry are dropped
one by one. Accepted keys keep their report type, transmission risk and days
since onset, are published with this province's next export (phones keep
one feed) and are never stored twice (the key bytes are the table's key).

A province that publishes no F2 warnings (``[server] recursive_reports`` off)
takes no F1 (RECURSIVE) keys from others either: its phones would otherwise
be warned as F2 through the back door. Those keys are counted, not stored:
the count rides on the import's ``result`` (``imported skipped_recursive=3``;
:func:`result_text`, :func:`parse_result`), so staff can see why a batch
brought fewer keys than it held.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.models import INTERVAL_SECONDS, INTERVALS_PER_DAY, ReportType, day_start_interval

from ..server.publish import MAX_AGE_DAYS
from . import encoding
from .client import Downloaded

log = logging.getLogger("bluezone.federation")
#: GAEN's range for days since onset of symptoms.
MAX_DSOS = 14


def sane(f: encoding.FederatedKey, now: int) -> bool:
    """Whether a key passes the rules a phone upload must pass here: the origin's
    signature proves who sent a key, not that its dates make sense (a key starting
    in the year 2106 or in 1970 would sit in every export and every phone)."""
    k = f.key
    oldest = day_start_interval(now) - MAX_AGE_DAYS * INTERVALS_PER_DAY
    dsos = k.days_since_onset_of_symptoms
    return (oldest <= k.rolling_start_interval_number <= now // INTERVAL_SECONDS
            and (dsos is None or -MAX_DSOS <= dsos <= MAX_DSOS))


@dataclass(frozen=True)
class ImportResult:
    tag: str
    origin: str
    result: str  # "imported", "skipped" (not a province we import from), or the refusal's code
    keys: int = 0
    new_keys: int = 0
    #: F1 (RECURSIVE) keys left out because this province publishes no F2 warnings
    skipped_recursive: int = 0


#: The outcome of an import that took the batch (its keys may still have been left out one by one).
IMPORTED = "imported"
_SKIPPED_RECURSIVE = "skipped_recursive="


def result_text(r: ImportResult) -> str:
    """What ``fed_imports.result`` holds: the outcome's code, then the F1 keys left out
    (the table has no column for them, and the code stays its first word)."""
    return f"{r.result} {_SKIPPED_RECURSIVE}{r.skipped_recursive}" if r.skipped_recursive else r.result


def parse_result(text: str) -> tuple[str, int]:
    """``(code, F1 keys left out)`` of a ``fed_imports.result`` written by :func:`result_text`."""
    code, _, rest = text.partition(" ")
    skipped = rest.removeprefix(_SKIPPED_RECURSIVE)
    return code, int(skipped) if rest.startswith(_SKIPPED_RECURSIVE) and skipped.isdigit() else 0


def _record(conn: sqlite3.Connection, date: str, r: ImportResult, now: int) -> ImportResult:
    # seq orders the imports: the next round asks the gateway for what follows the last one
    (seq,) = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM fed_imports").fetchone()
    conn.execute("INSERT INTO fed_imports (tag, date, origin, key_count, imported_keys, result, at, seq)"
                 " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (tag) DO UPDATE SET date = excluded.date, origin ="
                 " excluded.origin, key_count = excluded.key_count, imported_keys = excluded.imported_keys,"
                 " result = excluded.result, at = excluded.at, seq = excluded.seq",
                 (r.tag, date, r.origin, r.keys, r.new_keys, result_text(r), now, seq))
    if r.result not in (IMPORTED, "skipped"):
        log.warning("federation: batch %s from %s refused: %s", r.tag, r.origin, r.result)
    return r


def import_batch(conn: sqlite3.Connection, date: str, batch: Downloaded, *, own_origin: str,
                 import_from: tuple[str, ...], public_keys: dict[str, ec.EllipticCurvePublicKey],
                 now: int, accept_recursive: bool) -> ImportResult:
    """Check and import one downloaded batch (call inside a transaction).

    ``accept_recursive``: whether this province publishes F1 (RECURSIVE) keys
    (``[server] recursive_reports``); without it they are counted and left out."""
    if batch.origin == own_origin or batch.origin not in import_from:
        return _record(conn, date, ImportResult(batch.tag, batch.origin, "skipped"), now)
    public = public_keys.get(batch.origin)
    if public is None:
        return _record(conn, date, ImportResult(batch.tag, batch.origin, "no_signing_key"), now)
    if not encoding.verify(batch.data, batch.signature, public):
        return _record(conn, date, ImportResult(batch.tag, batch.origin, "bad_signature"), now)
    try:
        decoded = encoding.decode(batch.data)
    except encoding.BatchFormatError:
        return _record(conn, date, ImportResult(batch.tag, batch.origin, "malformed_batch"), now)
    if decoded.origin != batch.origin:
        return _record(conn, date, ImportResult(batch.tag, batch.origin, "origin_mismatch"), now)
    relevant = [f for f in decoded.keys if f.relevant_for(own_origin)]
    recursive = 0 if accept_recursive else sum(f.key.report_type == ReportType.RECURSIVE for f in relevant)
    refused_types = {ReportType.REVOKED} if accept_recursive else {ReportType.REVOKED, ReportType.RECURSIVE}
    rows = [(f.key.key_data, f.key.rolling_start_interval_number, f.key.rolling_period, f.key.transmission_risk_level,
             int(f.key.report_type), f.key.days_since_onset_of_symptoms, now // 3600 * 3600, now, decoded.origin)
            for f in relevant if f.key.report_type not in refused_types and sane(f, now)]
    # ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike): a key already here is not stored twice;
    # rowcount sums the rows executemany inserted, on both (psycopg has none for no rows)
    new = 0 if not rows else conn.executemany(
        "INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk, report_type, dsos,"
        " created_at, available_at, origin) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (key_data) DO NOTHING", rows).rowcount
    return _record(conn, date, ImportResult(batch.tag, batch.origin, IMPORTED, len(decoded.keys), new, recursive), now)
