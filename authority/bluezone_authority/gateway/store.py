"""The gateway's database: every SQL statement of the gateway is here.

It runs on the key server's database layer (:mod:`..server.database`): a
file path opens SQLite (the default: WAL, ``synchronous=FULL``), a
``postgresql://`` URL opens PostgreSQL. The statements are plain SQL with
``?`` parameters, written once for both. The schema is versioned with
Alembic (:mod:`.migrations`, branch ``gateway``) and brought up to date when
the store opens, by the same runner as the province servers' schema.

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

from ..server import schema_versions
from ..server.database import POSTGRESQL, Database, lock_in, open_database
from . import migrations

#: How many key digests one lookup asks for (well under SQLite's parameter limit).
CHUNK = 500
#: Uploads take this lock for their transaction, so on PostgreSQL a batch's
#: ``seq`` is drawn and committed in the same order as every other batch's:
#: a province reading "the batches after seq N" never skips one that commits late.
UPLOAD_LOCK = "gateway-upload"


def upgrade_schema(db: Database) -> list[schema_versions.Revision]:
    """Bring the gateway's database to its newest revision (:mod:`.migrations`):
    one transaction under the lock ``gateway-migrate``, so two gateways
    starting together on one database migrate once. Returns what ran (nothing
    when the database is current). A database made by a newer gateway is
    refused unchanged (:class:`~bluezone.store.named_migrations.MigrationError`)."""
    return schema_versions.upgrade(db, migrations.LOCATION, base_label=migrations.BASE_LABEL,
                                   version_table=migrations.VERSION_TABLE, lock=migrations.LOCK)


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
    """Some keys of a batch are stored already, in batch ``tag`` (the first found):
    those at ``positions`` (0-based, in the batch's own order)."""

    def __init__(self, tag: str, positions: Sequence[int]):
        super().__init__(f"{len(positions)} keys already stored, e.g. in batch {tag}")
        self.tag, self.positions = tag, tuple(positions)

    @property
    def count(self) -> int:
        return len(self.positions)


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
            self.migrations_applied = upgrade_schema(self.db)
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
                raise KeysAlreadyStored(*self._holders(c, digests, seq))
        return True

    @staticmethod
    def _holders(c: Any, digests: list[bytes], seq: int) -> tuple[str, list[int]]:
        """The first (by tag) other batch holding one of ``digests``, and the
        positions of the digests other batches hold (so the uploader can send
        the rest again under a new tag)."""
        tags: list[str] = []
        held: set[bytes] = set()
        for i in range(0, len(digests), CHUNK):
            part = digests[i:i + CHUNK]
            for digest, tag in c.execute(
                    "SELECT k.key_sha256, b.tag FROM batch_keys k JOIN batches b ON b.seq = k.batch_seq"
                    f" WHERE k.batch_seq <> ? AND k.key_sha256 IN ({','.join('?' * len(part))})",
                    (seq, *part)).fetchall():
                held.add(bytes(digest))
                tags.append(tag)
        # "?": never, as purge waits for the same lock
        return min(tags, default="?"), [i for i, d in enumerate(digests) if d in held]

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
