"""The server's database: its schema, its migrations, and the few queries
every part shares. SQLite (a file) or PostgreSQL (a URL), through
:mod:`.database`; the SQL here runs unchanged on both.

Why these choices:

* One transaction per request (SQLite: WAL, ``synchronous=FULL``,
  ``BEGIN IMMEDIATE``; PostgreSQL: a pooled connection per transaction): a
  request is acknowledged only after its commit, so a server killed with
  SIGKILL loses nothing it acknowledged (tested on both).
* Secrets are never stored in clear: verification codes are HMAC'd with a
  server key, tokens are SHA-256 hashed (they are 256-bit random).
* No column for an IP address, user agent or device identifier exists.
* Declarations are stored as the sealed ciphertext the device sent; their
  per-hour count and size (:mod:`.declaration_quota`) is kept beside them.
* The schema is named migrations (:mod:`bluezone.store.named_migrations`):
  the core's below, and each plugin's own through
  ``bluezone_server_migrations``, so a plugin's tables are created once, by
  the plugin, and recorded in ``_migrations``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluezone.store import named_migrations as named

from . import declaration_quota
from .coordination import AdvisoryLocks, FileLocks, LockProvider
from .database import SQLITE, Database, SQLiteDatabase, open_database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS staff_tokens (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER)""",
    """CREATE TABLE IF NOT EXISTS codes (
        id TEXT PRIMARY KEY, code_hash BLOB NOT NULL UNIQUE, kind TEXT NOT NULL,
        report_type INTEGER NOT NULL, symptom_onset_interval INTEGER, test_date_interval INTEGER,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        state TEXT NOT NULL, token_hash BLOB UNIQUE, token_expires_at INTEGER,
        certified_at INTEGER, used_at INTEGER, issued_by TEXT)""",
    """CREATE TABLE IF NOT EXISTS exposure_keys (
        key_data BLOB PRIMARY KEY, rolling_start INTEGER NOT NULL, rolling_period INTEGER NOT NULL,
        transmission_risk INTEGER NOT NULL, report_type INTEGER NOT NULL, dsos INTEGER,
        created_at INTEGER NOT NULL, available_at INTEGER NOT NULL, batch TEXT)""",
    "CREATE INDEX IF NOT EXISTS exposure_keys_pending ON exposure_keys(batch, available_at)",
    """CREATE TABLE IF NOT EXISTS batches (
        feed TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
        start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL, created_at INTEGER NOT NULL,
        real_items INTEGER NOT NULL, data BLOB NOT NULL, sha256 TEXT NOT NULL,
        PRIMARY KEY (feed, seq), UNIQUE (feed, name))""",
    """CREATE TABLE IF NOT EXISTS one_time_tokens (
        token_hash BLOB PRIMARY KEY, purpose TEXT NOT NULL, meta TEXT NOT NULL,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER, issued_by TEXT)""",
    """CREATE TABLE IF NOT EXISTS declarations (
        id TEXT PRIMARY KEY, sealed BLOB NOT NULL, received_hour INTEGER NOT NULL,
        form TEXT NOT NULL DEFAULT '')""",
    # keyset pagination of declarations (staff API, portal download) in reception order
    "CREATE INDEX IF NOT EXISTS declarations_order ON declarations(received_hour, id)",
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
]

def _core_schema(conn: Any) -> None:
    """The tables as they were before named migrations (every statement is
    idempotent, so a database made then takes this step without change)."""
    for stmt in SCHEMA:
        conn.execute(stmt)
    declaration_quota.migrate(conn)


def _coarse_upload_times(conn: Any) -> None:
    """Upload times to the hour and spent codes unlinked (docs/privacy.md), for
    databases written before uploads were stored that way."""
    from .codes import scrub_used

    conn.execute("UPDATE exposure_keys SET created_at = created_at / 3600 * 3600")
    scrub_used(conn)


def _key_revisions(conn: Any) -> None:
    """Keys can be revised (docs/server.md, "Revisions"): when a key was
    revised (to the hour), from which report type, and in which file the
    revision was announced. Nothing records which upload or code a key came
    with: only the reporting phone's revision token finds its keys."""
    # Idempotent like 001 (a database whose _migrations record was lost takes it again unchanged).
    have = named.columns(conn, "exposure_keys")
    for column, kind in (("revised_at", "INTEGER"), ("revised_from", "INTEGER"), ("revised_batch", "TEXT")):
        if column not in have:
            conn.execute(f"ALTER TABLE exposure_keys ADD COLUMN {column} {kind}")
    conn.execute("CREATE INDEX IF NOT EXISTS exposure_keys_revised ON exposure_keys(revised_batch, revised_at)")


def _rate_windows(conn: Any) -> None:
    """Rate limits shared by the server's worker processes (:mod:`.shared_limits`):
    one row per minute, bucket and client, the client only as an HMAC under
    a key that is never written down."""
    # "minute", not "window": WINDOW is a reserved word in PostgreSQL
    conn.execute("""CREATE TABLE IF NOT EXISTS rate_windows (
        minute INTEGER NOT NULL, bucket TEXT NOT NULL, client BLOB NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (minute, bucket, client))""")


def _federation(conn: Any) -> None:
    """Federation (docs/federation.md): whether the owner of a key agreed to
    share it beyond the province, the province it came from when imported
    (NULL: this province's own), the federation batch it left in; the outbox
    of signed batches waiting for the gateway, and what was imported."""
    have = named.columns(conn, "exposure_keys")  # SQLite's PRAGMA or PostgreSQL's catalogue
    for column, kind in (("share_beyond", "INTEGER NOT NULL DEFAULT 0"), ("origin", "TEXT"), ("fed_batch", "TEXT")):
        if column not in have:
            conn.execute(f"ALTER TABLE exposure_keys ADD COLUMN {column} {kind}")
    conn.execute("CREATE INDEX IF NOT EXISTS exposure_keys_to_federate ON exposure_keys(share_beyond, fed_batch)")
    conn.execute("""CREATE TABLE IF NOT EXISTS fed_outbox (
        tag TEXT PRIMARY KEY, data BLOB NOT NULL, signature BLOB NOT NULL, key_count INTEGER NOT NULL,
        created_at INTEGER NOT NULL, sent_at INTEGER)""")
    conn.execute("""CREATE TABLE IF NOT EXISTS fed_imports (
        tag TEXT PRIMARY KEY, date TEXT NOT NULL, origin TEXT NOT NULL, key_count INTEGER NOT NULL,
        imported_keys INTEGER NOT NULL, result TEXT NOT NULL, at INTEGER NOT NULL,
        seq INTEGER NOT NULL)""")  # the order of imports (several share one second under one clock)
    conn.execute("CREATE INDEX IF NOT EXISTS fed_imports_by_date ON fed_imports(date, at)")


#: The core's named steps. Append new ones; never edit or rename a released one.
CORE_MIGRATIONS = [named.Migration(named.CORE, "001_schema", _core_schema),
                   named.Migration(named.CORE, "002_coarse_upload_times", _coarse_upload_times),
                   named.Migration(named.CORE, "003_key_revisions", _key_revisions),
                   named.Migration(named.CORE, "004_rate_windows", _rate_windows),
                   named.Migration(named.CORE, "005_federation", _federation)]
HOOK = "bluezone_server_migrations"

#: The core's data tables, for :meth:`ServerDB.counts`. :meth:`ServerDB.fingerprint` does
#: not use this list: it reads every table the database holds (portal, plugins, meta).
TABLES = ("staff_tokens", "codes", "exposure_keys", "batches", "one_time_tokens", "declarations",
          "declaration_usage", "fed_outbox", "fed_imports")


@dataclass(frozen=True)
class MigrationStatus:
    """What a database holds: the steps recorded and those this code would still apply."""

    kind: str
    display: str
    applied: list[tuple[str, str]]
    pending: list[tuple[str, str]]


def migration_status(location: str | os.PathLike, plugins: Any = None) -> MigrationStatus:
    """Read which steps are recorded, without applying any (``bluezone authority db current``).
    Steps recorded by plugins not installed now are listed too."""
    backend = open_database(location)
    try:
        wanted = named.in_order(CORE_MIGRATIONS, named.contributed(plugins, HOOK))
        with backend.transaction() as c:
            done = named.applied(c)
            ordered = [(r[0], r[1]) for r in c.execute(f"SELECT owner, name FROM {named.TABLE} ORDER BY applied_at,"
                                                       " owner, name")] if done else []
    finally:
        backend.close()
    pending = [(m.owner, m.name) for m in wanted if (m.owner, m.name) not in done]
    return MigrationStatus(backend.kind, backend.target.display, ordered, pending)


class ServerDB:
    """One open server database, SQLite or PostgreSQL (:mod:`.database`).
    Thread-safe: request handlers may run its transactions off the event loop."""

    def __init__(self, location: str | os.PathLike, plugins: Any = None):
        """Open (creating a SQLite file if needed) and migrate: the core's
        steps, then those ``plugins`` (a plugin manager) contribute. A newer
        database (a core step this code lacks) or a failing plugin step is
        refused with :class:`~bluezone.store.named_migrations.MigrationError`,
        unchanged (all pending steps run in one transaction)."""
        self.backend: Database = open_database(location)
        self.kind = self.backend.kind
        self.path = Path(self.backend.target.location) if self.kind == SQLITE else None
        self._locks: LockProvider = FileLocks(self.path) if self.path is not None else AdvisoryLocks(self.backend)
        try:
            wanted = named.in_order(CORE_MIGRATIONS, named.contributed(plugins, HOOK))
            with self.backend.exclusive("migrate") as c:  # two workers starting together migrate once
                named.check_core_known(c, CORE_MIGRATIONS)
                self.migrations_applied = named.apply_pending(c, wanted)
        except BaseException:
            self.backend.close()
            raise

    def exclusive(self, name: str, *, wait: bool = True) -> contextlib.AbstractContextManager[bool]:
        """A lock held across every process on this database (:mod:`.coordination`):
        ``with db.exclusive("export"):`` — one exporter at a time. It is not a
        transaction, so files can be written under it without holding the
        database's write lock; yields ``False`` with ``wait=False`` when busy.
        (``self.backend.exclusive`` is the other kind: one transaction holding
        the lock until it ends, raising :class:`~.database.Busy`.)"""
        return self._locks.exclusive(name, wait=wait)

    @property
    def conn(self) -> sqlite3.Connection:
        """SQLite's one connection (SQLite-only tests and tools); code that
        must run on both backends uses :meth:`transaction`."""
        if not isinstance(self.backend, SQLiteDatabase):
            raise TypeError("ServerDB.conn is SQLite's; use transaction() on PostgreSQL")
        return self.backend.conn

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """All-or-nothing: a refused request leaves no row behind."""
        return self.backend.transaction()

    def one(self, sql: str, params: tuple | dict = ()) -> Any:
        return self.backend.one(sql, params)

    def all(self, sql: str, params: tuple | dict = ()) -> list[Any]:
        return self.backend.all(sql, params)

    def counts(self) -> dict[str, int]:
        return {t: self.one(f"SELECT count(*) FROM {t}")[0] for t in TABLES}

    def table_names(self) -> list[str]:
        """Every table in the database, read from ``sqlite_master`` (PostgreSQL:
        ``information_schema``) rather than a
        hand-kept list, so a table added by a migration or a plugin is never
        left out of :meth:`fingerprint`."""
        if self.kind == SQLITE:
            return [r[0] for r in self.all("SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return [r[0] for r in self.all("SELECT table_name FROM information_schema.tables WHERE table_schema ="
                                       " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")]

    def fingerprint(self) -> str:
        """A digest of every row of every table (with its name): tests assert
        that a refused request left the database exactly as it was."""
        import hashlib

        h = hashlib.sha256()
        for t in self.table_names():
            h.update(f"table {t}\n".encode())
            for row in sorted(repr(tuple(r)) for r in self.all(f'SELECT * FROM "{t}"')):
                h.update(row.encode() + b"\n")
        return h.hexdigest()

    def get_meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "ServerDB":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
