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
* The schema is versioned with Alembic (:mod:`.schema_versions`): the core's
  revisions in :mod:`.migrations` (branch ``core``), and each plugin's own
  folder of revisions on a branch named after it, contributed through
  ``bluezone_server_migrations``, so a plugin's tables are created once, by
  the plugin. Every open brings the database to all heads in one
  transaction; a database from the named-migration days (``_migrations``)
  is adopted on the way (:mod:`.legacy_ledger`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import legacy_ledger, migrations, schema_versions
from .coordination import AdvisoryLocks, FileLocks, LockProvider
from .database import SQLITE, Database, SQLiteDatabase, open_database

HOOK = "bluezone_server_migrations"


def upgrade_schema(backend: Database, plugins: Any = None) -> list[schema_versions.Revision]:
    """Bring ``backend`` to every head: the core's revisions and those the
    installed ``plugins`` contribute (adopting an older ``_migrations``
    ledger first); one transaction, under the lock ``migrate``."""
    return schema_versions.upgrade(backend, migrations.LOCATION, schema_versions.plugin_locations(plugins, HOOK),
                                   adopt=legacy_ledger.adopt)


#: The core's data tables, for :meth:`ServerDB.counts`. :meth:`ServerDB.fingerprint` does
#: not use this list: it reads every table the database holds (portal, plugins, meta).
TABLES = ("staff_tokens", "codes", "exposure_keys", "batches", "one_time_tokens", "declarations",
          "declaration_usage", "fed_outbox", "fed_imports")


@dataclass(frozen=True)
class MigrationStatus:
    """What a database holds (``bluezone authority db current``)."""

    kind: str
    display: str
    heads: list[schema_versions.Revision]
    applied: list[schema_versions.Revision]
    pending: list[schema_versions.Revision]
    absent: list[str]  # revisions of plugins not installed now


def migration_status(location: str | os.PathLike, plugins: Any = None) -> MigrationStatus:
    """Read which revisions the database has and which this code would still
    apply, changing nothing (an older ledger is adopted only inside a
    transaction that is rolled back)."""
    backend = open_database(location)
    try:
        found = schema_versions.status(backend, migrations.LOCATION, schema_versions.plugin_locations(plugins, HOOK),
                                       adopt=legacy_ledger.adopt)
    finally:
        backend.close()
    return MigrationStatus(backend.kind, backend.target.display, found.heads, found.applied, found.pending,
                           found.absent)


class ServerDB:
    """One open server database, SQLite or PostgreSQL (:mod:`.database`).
    Thread-safe: request handlers may run its transactions off the event loop."""

    def __init__(self, location: str | os.PathLike, plugins: Any = None):
        """Open (creating a SQLite file if needed) and migrate (:func:`upgrade_schema`).
        A newer database (a core revision this code lacks) or a failing
        revision is refused with :class:`~bluezone.store.named_migrations.MigrationError`,
        unchanged (all pending revisions run in one transaction)."""
        self.backend: Database = open_database(location)
        self.kind = self.backend.kind
        self.path = Path(self.backend.target.location) if self.kind == SQLITE else None
        self._locks: LockProvider = FileLocks(self.path) if self.path is not None else AdvisoryLocks(self.backend)
        try:
            # two workers starting together migrate once: the lock "migrate" (schema_versions)
            self.migrations_applied = upgrade_schema(self.backend, plugins)
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
