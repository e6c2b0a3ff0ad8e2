"""The device store's schema: the core's named migrations, and the plugins'.

Every step has an owner and a name (:mod:`.named_migrations`); the core's
are listed here, a plugin contributes its own through the
``bluezone_store_migrations`` hook, so a plugin can own tables without the
core knowing them. Pending steps run in one transaction with their records,
so a store is never left half migrated. Append new steps; never edit a
released one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..i18n import _
from . import named_migrations as named
from .named_migrations import CORE, Migration

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
    "own_reports",
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


def _v4(conn: "sqlite3.Connection") -> None:
    """The person's consent per purpose, with the notice version and time
    (:mod:`bluezone.consent`). Existing stores get an empty table: no
    decision on record, processing goes on until the person decides."""
    from ..consent import create_table

    create_table(conn)


def _v5(conn: "sqlite3.Connection") -> None:
    """What this phone reported itself, and warnings that can be revised.

    ``own_reports``: each upload made with an authority code (when, which
    report type, until when the person isolates, and the server's revision
    token sealed with the store key), so the phone knows it is a case and
    does not warn itself (docs/client.md). ``exposure_windows.key_tag``: a
    keyed tag of the published key behind a window (HMAC with the store key,
    like ``matched_contributions``), so a later revision of that key (likely
    → confirmed, or revoked) finds the windows it changes. ``alerts.state``:
    ``active``, ``upgraded`` or ``withdrawn``."""
    conn.executescript(
        """
        CREATE TABLE own_reports (
            id INTEGER PRIMARY KEY,
            reported_at INTEGER NOT NULL,
            report_type INTEGER NOT NULL,
            tier INTEGER NOT NULL,
            isolate_until TEXT NOT NULL,
            keys INTEGER NOT NULL,
            sealed_revision BLOB
        );
        ALTER TABLE exposure_windows ADD COLUMN key_tag BLOB;
        CREATE INDEX exposure_windows_key_tag ON exposure_windows(key_tag);
        ALTER TABLE alerts ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
        ALTER TABLE alerts ADD COLUMN changed_at INTEGER;
        """.replace("\n        ", "\n")
    )


#: The core's own steps, by name. Append new ones; never edit or rename a
#: released one (its name is what existing stores have recorded).
CORE_MIGRATIONS: list[Migration] = [
    Migration(CORE, "001_initial", _v1),
    Migration(CORE, "002_exposure_windows", _v2),
    Migration(CORE, "003_content_addressed_batches", _v3),
    Migration(CORE, "004_consents", _v4),
    Migration(CORE, "005_own_reports_and_revisions", _v5),
]

#: ``PRAGMA user_version`` of a store kept by named migrations. Stores made
#: before had 1..3, the number of core steps applied (upgraded on open); a
#: higher number is a newer on-disk scheme, refused before anything writes.
SCHEMA_VERSION = 5
LEGACY_VERSIONS = 3  # core steps that existed before named migrations

HOOK = "bluezone_store_migrations"


def current_version(conn: "sqlite3.Connection") -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def refuse_newer(store: "DeviceStore") -> None:
    """Refuse, reading only, a store a newer Bluezone migrated (a recorded core
    step this code does not know). Plugins' records never count here."""
    from .errors import StoreError, newer_message

    try:
        named.check_core_known(store.db.conn, CORE_MIGRATIONS)
    except named.UnknownCoreMigration as e:
        raise StoreError(newer_message(store.path, f"core/{e.names[0]}", f"core/{CORE_MIGRATIONS[-1].name}")) from None


def migrate(store: "DeviceStore", plugins: Any = None) -> list[tuple[str, str]]:
    """Apply every pending core step, then those the ``plugins`` contribute
    through ``bluezone_store_migrations``; returns what ran.

    A store from before named migrations (``user_version`` 1..3) first gets
    the core steps it already has recorded as applied, so its data is kept
    and only the missing steps run. Everything is one transaction."""
    from .errors import StoreError, newer_message

    conn = store.db.conn
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise StoreError(newer_message(store.path, found, SCHEMA_VERSION))
    try:
        wanted = named.in_order(CORE_MIGRATIONS, named.contributed(plugins, HOOK))
    except named.MigrationError as e:
        raise StoreError(_("a plugin's schema migrations are not valid: {detail}", detail=e)) from None
    done = named.applied(conn)
    if found == SCHEMA_VERSION and all((m.owner, m.name) in done for m in wanted):
        return []  # the usual open: nothing to write
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        named.ensure_table(conn)
        # read again inside the transaction: another process may have just migrated it
        if found < SCHEMA_VERSION and not named.applied(conn):
            for m in CORE_MIGRATIONS[:min(found, LEGACY_VERSIONS)]:
                named.record(conn, m.owner, m.name, store.now())
        ran = named.apply_pending(conn, wanted, now=store.now())
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException as e:
        conn.execute("ROLLBACK")
        if isinstance(e, named.MigrationError):
            raise StoreError(_("{path}: schema migration failed, the file was left as it is: {detail}",
                               path=store.path, detail=e)) from None
        raise
    conn.execute("COMMIT")
    return ran
