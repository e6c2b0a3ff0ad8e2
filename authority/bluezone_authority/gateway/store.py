"""The gateway's database: every SQL statement of the gateway is here.

It runs on the key server's database layer (:mod:`..server.database`): a
file path opens SQLite (the default: WAL, ``synchronous=FULL``), a
``postgresql://`` URL opens PostgreSQL. The statements are plain SQL with
``?`` parameters, written once for both. The schema is :data:`SCHEMA`,
created by :func:`create_schema` when the store opens (the one place a
migration tool would take over).

What is kept per batch is the audit list EFGS keeps: the bytes as uploaded
(never re-encoded), the signature, the uploader (its certificate's common
name), the upload hour, the key count. Nothing about people: no address, no
device. One row per key holds only the SHA-256 of its 16 key bytes and the
batch it came in, so that a key already stored under one tag is refused under
another (EFGS refuses duplicate keys) with one index lookup per key; the key
itself is public already (every phone downloads it), and the row goes with
its batch at retention.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..server.database import POSTGRESQL, Database, lock_in, open_database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS provinces (
        code TEXT PRIMARY KEY, signing_key_pem TEXT NOT NULL, added_at INTEGER NOT NULL)""",
    # seq: the order of uploads, which downloads follow (an identity column on PostgreSQL)
    """CREATE TABLE IF NOT EXISTS batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL UNIQUE, date TEXT NOT NULL,
        origin TEXT NOT NULL, uploader TEXT NOT NULL, uploaded_at INTEGER NOT NULL,
        key_count INTEGER NOT NULL, data BLOB NOT NULL, signature BLOB NOT NULL, sha256 TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS batches_by_date ON batches(date, seq)",
    # one row per stored key: its digest (the primary key: a key is stored once) and its batch
    """CREATE TABLE IF NOT EXISTS batch_keys (
        key_sha256 BLOB PRIMARY KEY, batch_seq INTEGER NOT NULL REFERENCES batches(seq))""",
    "CREATE INDEX IF NOT EXISTS batch_keys_by_batch ON batch_keys(batch_seq)",
]

#: How many key digests one lookup asks for (well under SQLite's parameter limit).
CHUNK = 500
#: Uploads take this lock for their transaction, so on PostgreSQL a batch's
#: ``seq`` is drawn and committed in the same order as every other batch's:
#: a province reading "the batches after seq N" never skips one that commits late.
UPLOAD_LOCK = "gateway-upload"


def create_schema(conn: Any) -> None:
    """The gateway's tables (``conn``: an open transaction's connection)."""
    lock_in(conn, "gateway-schema")  # two gateways starting together on one PostgreSQL database
    for stmt in SCHEMA:
        conn.execute(stmt)


def key_digest(key_data: bytes) -> bytes:
    return hashlib.sha256(key_data).digest()


@dataclass(frozen=True)
class StoredBatch:
    tag: str
    date: str
    origin: str
    uploader: str
    uploaded_at: int
    key_count: int
    data: bytes
    signature: bytes
    sha256: str


class KeysAlreadyStored(Exception):
    """Some keys of a batch are stored already, in batch ``tag`` (the first found); ``count`` of them."""

    def __init__(self, tag: str, count: int):
        super().__init__(f"{count} keys already stored, e.g. in batch {tag}")
        self.tag, self.count = tag, count


_COLUMNS = "tag, date, origin, uploader, uploaded_at, key_count, data, signature, sha256"


def _batch(row: Sequence[Any]) -> StoredBatch:
    tag, date, origin, uploader, uploaded_at, key_count, data, signature, sha256 = row
    return StoredBatch(tag, date, origin, uploader, uploaded_at, key_count, bytes(data), bytes(signature), sha256)


class GatewayStore:
    def __init__(self, location: str | os.PathLike[str]):
        """Open the gateway's database (a SQLite file path or a ``postgresql://`` URL;
        :class:`~..server.database.DatabaseError` in one line when it cannot be opened)."""
        self.db: Database = open_database(location)
        try:
            with self.db.transaction() as c:
                create_schema(c)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    # -- provinces -------------------------------------------------------------------

    def add_province(self, code: str, signing_key_pem: str, now: int) -> None:
        """Register (or replace) a province's batch signing key."""
        self.db.execute("INSERT INTO provinces (code, signing_key_pem, added_at) VALUES (?,?,?) ON CONFLICT(code)"
                        " DO UPDATE SET signing_key_pem = excluded.signing_key_pem, added_at = excluded.added_at",
                        (code, signing_key_pem, now))

    def signing_key(self, code: str) -> str | None:
        row = self.db.one("SELECT signing_key_pem FROM provinces WHERE code = ?", (code,))
        return row[0] if row else None

    # -- batches ---------------------------------------------------------------------

    def insert(self, b: StoredBatch, keys: Iterable[bytes]) -> bool:
        """Store a batch and the digests of its ``keys`` (their 16 key bytes) in one
        transaction. False when its tag is stored already; :class:`KeysAlreadyStored`
        when one of its keys is. Either way nothing changes.

        The digests go in with ``ON CONFLICT DO NOTHING``: one index probe per key
        on the way that succeeds, and a count that falls short when a key is
        there already; only then is it looked up which batch holds it."""
        digests = [key_digest(k) for k in keys]
        with self.db.transaction() as c:
            lock_in(c, UPLOAD_LOCK)
            if c.execute("SELECT 1 FROM batches WHERE tag = ?", (b.tag,)).fetchone():
                return False
            (seq,) = c.execute(f"INSERT INTO batches ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?) RETURNING seq",
                               (b.tag, b.date, b.origin, b.uploader, b.uploaded_at, b.key_count, b.data,
                                b.signature, b.sha256)).fetchone()
            if self.db.kind == POSTGRESQL:  # one statement, one array: executemany costs a round trip per key
                added = c.execute("INSERT INTO batch_keys (key_sha256, batch_seq) SELECT unnest(?::bytea[]), ?"
                                  " ON CONFLICT (key_sha256) DO NOTHING", (digests, seq)).rowcount
            else:
                added = c.executemany("INSERT INTO batch_keys (key_sha256, batch_seq) VALUES (?, ?)"
                                      " ON CONFLICT (key_sha256) DO NOTHING", [(d, seq) for d in digests]).rowcount
            if added != len(digests):  # raising rolls the batch and its digests back
                raise KeysAlreadyStored(self._holder(c, digests, seq), len(digests) - added)
        return True

    @staticmethod
    def _holder(c: Any, digests: list[bytes], seq: int) -> str:
        """The first (by tag) other batch holding one of ``digests``."""
        found: list[str] = []
        for i in range(0, len(digests), CHUNK):
            part = digests[i:i + CHUNK]
            row = c.execute("SELECT min(b.tag) FROM batch_keys k JOIN batches b ON b.seq = k.batch_seq"
                            f" WHERE k.batch_seq <> ? AND k.key_sha256 IN ({','.join('?' * len(part))})",
                            (seq, *part)).fetchone()
            if row and row[0] is not None:
                found.append(row[0])
        return min(found, default="?")  # "?": never, as purge waits for the same lock

    def get(self, tag: str) -> StoredBatch | None:
        row = self.db.one(f"SELECT {_COLUMNS} FROM batches WHERE tag = ?", (tag,))
        return _batch(row) if row else None

    def after(self, date: str, tag: str | None) -> tuple[StoredBatch | None, str | None]:
        """The first batch of ``date`` after ``tag`` (the first of the day
        without one) and the tag of the one after it (EFGS' nextBatchTag)."""
        since = 0
        if tag is not None:
            row = self.db.one("SELECT seq FROM batches WHERE tag = ? AND date = ?", (tag, date))
            if row is None:
                raise KeyError(tag)
            since = row[0]
        rows = self.db.all(f"SELECT {_COLUMNS} FROM batches WHERE date = ? AND seq > ? ORDER BY seq LIMIT 2",
                           (date, since))
        if not rows:
            return None, None
        return _batch(rows[0]), (rows[1][0] if len(rows) > 1 else None)

    def purge(self, before: int) -> int:
        """Delete batches uploaded before ``before`` (the retention window), and their key digests."""
        with self.db.transaction() as c:
            lock_in(c, UPLOAD_LOCK)  # not between an upload's conflict and its lookup of the holder
            c.execute("DELETE FROM batch_keys WHERE batch_seq IN (SELECT seq FROM batches WHERE uploaded_at < ?)",
                      (before,))
            return int(c.execute("DELETE FROM batches WHERE uploaded_at < ?", (before,)).rowcount)

    def count(self) -> int:
        return int(self.db.one("SELECT count(*) FROM batches")[0])

    def stored_keys(self) -> int:
        """How many key digests are kept (one per key of every stored batch)."""
        return int(self.db.one("SELECT count(*) FROM batch_keys")[0])
