"""Schema versions of the device store and how to move between them.

Each migration is a function from version N-1 to N, run inside one
transaction together with the version bump, so a store is never left half
migrated. Append new migrations; never edit a released one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import sqlite3

    from .device import DeviceStore

#: Tables that hold the person's data (used by counts and privacy tests).
DATA_TABLES = (
    "own_keys",
    "sightings",
    "visits",
    "exposures",
    "alerts",
    "processed_batches",
    "sync_state",
    "declarations",
    "exposure_windows",
    "matched_contributions",
)


def _v1(conn: "sqlite3.Connection") -> None:
    conn.executescript(
        """
        CREATE TABLE own_keys (
            id INTEGER PRIMARY KEY,
            schedule TEXT NOT NULL,
            rolling_start INTEGER NOT NULL,
            rolling_period INTEGER NOT NULL,
            uploaded INTEGER NOT NULL DEFAULT 0,
            sealed BLOB NOT NULL
        );
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            identifier BLOB NOT NULL,
            interval INTEGER NOT NULL,
            time INTEGER NOT NULL,
            rssi INTEGER NOT NULL,
            rssi_max INTEGER,
            metadata BLOB,
            seconds_since_last_scan INTEGER,
            source TEXT NOT NULL,
            tx_power INTEGER
        );
        CREATE INDEX sightings_time ON sightings(time);
        CREATE INDEX sightings_identifier ON sightings(identifier);
        CREATE TABLE visits (
            visit_id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            arrival INTEGER NOT NULL,
            departure INTEGER,
            auto_checkout INTEGER,
            sealed BLOB NOT NULL
        );
        CREATE TABLE exposures (
            exposure_id TEXT PRIMARY KEY,
            tier INTEGER NOT NULL,
            source TEXT NOT NULL,
            day TEXT NOT NULL,
            score REAL NOT NULL,
            minutes REAL NOT NULL,
            details TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE alerts (
            exposure_id TEXT PRIMARY KEY,
            tier INTEGER NOT NULL,
            source TEXT NOT NULL,
            exposure_day TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            isolate_until TEXT NOT NULL,
            messages TEXT NOT NULL,
            delivered INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE processed_batches (
            feed TEXT NOT NULL,
            name TEXT NOT NULL,
            processed_at INTEGER NOT NULL,
            PRIMARY KEY (feed, name)
        );
        CREATE TABLE sync_state (
            feed TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE declarations (
            id INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            sealed BLOB NOT NULL
        );
        """.replace("\n        ", "\n")
    )


def _v2(conn: "sqlite3.Connection") -> None:
    """Exposure windows of matched keys, kept so a day's risk is scored over
    every batch that contributed to it (two F0s met on one day, published in
    different batches, add up). Non-identifying: no keys, no identifiers."""
    conn.executescript(
        """
        CREATE TABLE exposure_windows (
            id INTEGER PRIMARY KEY,
            feed TEXT NOT NULL,
            batch TEXT NOT NULL,
            day TEXT NOT NULL,
            tier INTEGER NOT NULL,
            window TEXT NOT NULL
        );
        CREATE INDEX exposure_windows_day ON exposure_windows(day);
        """.replace("\n        ", "\n")
    )


def _v3(conn: "sqlite3.Connection") -> None:
    """Batches are known by their content, and each matched (key, interval)
    counts once (a renamed or re-published batch added its minutes again).

    ``processed_batches`` is keyed by ``(feed, content_id)`` (SHA-256 of the
    downloaded file) instead of the file name; ``matched_contributions``
    holds one keyed tag per published key and interval already counted in
    ``exposure_windows``. Windows kept by older versions carry no such tags,
    so they cannot be told apart from a replay: they are dropped with the
    name-based markers and the transports' feed state, and the next sync
    downloads and matches every published batch again (exposures and alerts
    already found stay; the same ones are not stored or shown twice)."""
    conn.executescript(
        """
        DROP TABLE processed_batches;
        CREATE TABLE processed_batches (
            feed TEXT NOT NULL,
            content_id TEXT NOT NULL,
            name TEXT NOT NULL,
            processed_at INTEGER NOT NULL,
            PRIMARY KEY (feed, content_id)
        );
        CREATE TABLE matched_contributions (
            tag BLOB PRIMARY KEY,
            day TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX matched_contributions_day ON matched_contributions(day);
        DELETE FROM exposure_windows;
        DELETE FROM sync_state;
        """.replace("\n        ", "\n")
    )


#: MIGRATIONS[i] upgrades a store from version i to version i + 1.
MIGRATIONS: list[Callable[["sqlite3.Connection"], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: "sqlite3.Connection") -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(store: "DeviceStore") -> int:
    """Bring the store to :data:`SCHEMA_VERSION`; returns the version found."""
    conn = store.db.conn
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        from .errors import StoreError, newer_message

        raise StoreError(newer_message(store.path, found, SCHEMA_VERSION))
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for version in range(found, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found


class _Collect:
    """Records the SQL a migration runs, so all of it executes in our transaction
    (``executescript`` would commit on its own)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def executescript(self, script: str) -> None:
        import sqlite3

        buf = ""
        for line in script.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                self.statements.append(buf.strip())
                buf = ""

    def execute(self, sql: str, *args: object) -> None:
        if args:
            raise ValueError("migrations run plain SQL")
        self.statements.append(sql)


def _statements(migration: Callable[..., None]) -> list[str]:
    collector = _Collect()
    migration(collector)
    return collector.statements
