"""The gateway's database: every SQL statement of the gateway is here.

SQLite today (WAL, ``synchronous=FULL``, one transaction per upload); the
statements are plain SQL with ``?`` parameters kept in this one module so the
store can move onto the PostgreSQL backend the key server is gaining.

What is kept per batch is the audit list EFGS keeps: the bytes as uploaded
(never re-encoded), the signature, the uploader (its certificate's common
name), the upload hour, the key count. Nothing about people: no address, no
device, no per-key row.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bluezone.store.engine import immediate_transaction

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS provinces (
        code TEXT PRIMARY KEY, signing_key_pem TEXT NOT NULL, added_at INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL UNIQUE, date TEXT NOT NULL,
        origin TEXT NOT NULL, uploader TEXT NOT NULL, uploaded_at INTEGER NOT NULL,
        key_count INTEGER NOT NULL, data BLOB NOT NULL, signature BLOB NOT NULL, sha256 TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS batches_by_date ON batches(date, seq)",
]


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


_COLUMNS = "tag, date, origin, uploader, uploaded_at, key_count, data, signature, sha256"


class GatewayStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        with self.transaction() as c:
            for stmt in SCHEMA:
                c.execute(stmt)

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    # -- provinces -------------------------------------------------------------------

    def add_province(self, code: str, signing_key_pem: str, now: int) -> None:
        """Register (or replace) a province's batch signing key."""
        with self.transaction() as c:
            c.execute("INSERT INTO provinces (code, signing_key_pem, added_at) VALUES (?,?,?) ON CONFLICT(code)"
                      " DO UPDATE SET signing_key_pem = excluded.signing_key_pem, added_at = excluded.added_at",
                      (code, signing_key_pem, now))

    def signing_key(self, code: str) -> str | None:
        row = self.conn.execute("SELECT signing_key_pem FROM provinces WHERE code = ?", (code,)).fetchone()
        return row[0] if row else None

    # -- batches ---------------------------------------------------------------------

    def insert(self, b: StoredBatch) -> bool:
        """Store a batch; False when its tag is already stored (nothing changes)."""
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM batches WHERE tag = ?", (b.tag,)).fetchone():
                return False
            c.execute(f"INSERT INTO batches ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                      (b.tag, b.date, b.origin, b.uploader, b.uploaded_at, b.key_count, b.data, b.signature,
                       b.sha256))
        return True

    def get(self, tag: str) -> StoredBatch | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM batches WHERE tag = ?", (tag,)).fetchone()
        return StoredBatch(*row) if row else None

    def after(self, date: str, tag: str | None) -> tuple[StoredBatch | None, str | None]:
        """The first batch of ``date`` after ``tag`` (the first of the day
        without one) and the tag of the one after it (EFGS' nextBatchTag)."""
        since = 0
        if tag is not None:
            row = self.conn.execute("SELECT seq FROM batches WHERE tag = ? AND date = ?", (tag, date)).fetchone()
            if row is None:
                raise KeyError(tag)
            since = row[0]
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM batches WHERE date = ? AND seq > ? ORDER BY seq LIMIT 2",
                                 (date, since)).fetchall()
        if not rows:
            return None, None
        return StoredBatch(*rows[0]), (rows[1][0] if len(rows) > 1 else None)

    def purge(self, before: int) -> int:
        """Delete batches uploaded before ``before`` (the retention window)."""
        with self.transaction() as c:
            return c.execute("DELETE FROM batches WHERE uploaded_at < ?", (before,)).rowcount

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM batches").fetchone()[0]
