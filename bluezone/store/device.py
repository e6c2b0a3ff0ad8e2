"""The device's local store: one SQLite file (through sqlite-utils) per phone.

What it guarantees, and why:

* **Private file**: created with mode 0600 (and its WAL/SHM siblings with it).
* **Encrypted as a whole**: every page of the file and its WAL is SQLCipher
  ciphertext (:mod:`.engine`); a plain store from before is encrypted on its
  first open (:mod:`.encryption`). Own keys, visit records and declarations
  are sealed again inside with the store's key (:mod:`.secrets`).
* **Atomic grouped writes**: every public write method is one transaction
  (``BEGIN IMMEDIATE`` … ``COMMIT``) in WAL mode, so a process killed at any
  instant leaves either all or none of a group (tested by SIGKILL).
* **Retention**: data older than the window is deleted on open, by
  :meth:`DeviceStore.purge` (the sync calls it every time) and hourly in
  long-running commands (:mod:`.purging`); ``secure_delete`` overwrites it.
  Every table has a rule in :data:`RETENTION`.
* **Schema**: :mod:`bluezone.store.migrations` applies named migrations, the
  core's and those of the ``plugins`` given (``bluezone_store_migrations``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hmac
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from ..i18n import _
from ..models import (
    DAY_SECONDS,
    INTERVAL_SECONDS,
    Alert,
    Exposure,
    ExposureKey,
    OwnKey,
    Sighting,
    Tier,
    Visit,
    interval_number,
)
from . import encryption, engine, header, migrations
from .errors import StoreError, damaged_message, from_sqlite, newer_message, unopenable_message
from .secrets import WRONG_KEY_MESSAGE, AtRestCipher, StoreKeyError, default_key_file

DEFAULT_RETENTION_DAYS = 14
#: The meta row holding the store key's check value (see the key check below).
KEY_CHECK = "key_check"

__all__ = ["DEFAULT_RETENTION_DAYS", "DeviceStore", "StoreError"]


class DeviceStore:
    """A phone's own history. Open with :meth:`open`; close when done.

    ``plugins`` (a plugin manager) adds the plugins' named migrations to the
    core's; without it only the core's run, and tables a plugin made earlier
    are left as they are."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        key_file: str | os.PathLike | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        create: bool = True,
        clock: Callable[[], float] = time.time,
        purge_on_open: bool = True,
        plugins: Any = None,
    ):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(_("no device store at {path}; create one with 'bluezone init'", path=self.path))
        # An existing file is checked before anything writes to it (WAL switch,
        # migrations, purge, even chmod): a refused file stays byte for byte.
        existing = self.path.exists() and self.path.stat().st_size > 0
        if existing:
            encryption.finish_interrupted(self.path)
            header.check_existing(self.path, migrations.SCHEMA_VERSION)
        self.key_file = Path(key_file) if key_file else default_key_file(self.path)
        self.retention_days = int(retention_days)
        self.clock = clock
        # A key is made only together with a new database. An existing store
        # whose key file is missing is refused, whatever ``create`` says: a
        # fresh key would split it in two (see secrets.AtRestCipher.from_file).
        self.cipher = AtRestCipher.from_file(self.key_file, create=create and not existing)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        if existing and header.is_plaintext(self.path):
            # Made before whole-file encryption: checked with the key, then encrypted (encryption.py).
            self.encrypted_on_open = encryption.encrypt_plain_store(
                self.path, self.cipher.database_key(), check=self._refuse_another_stores_key_on)
        else:
            self.encrypted_on_open = False
        os.chmod(self.path, 0o600)
        old_umask = os.umask(0o077)  # WAL and SHM files are born private too
        try:
            conn = engine.connect(self.path, self.cipher.database_key())
        except engine.Error as e:
            raise from_sqlite(self.path, e) from None
        finally:
            os.umask(old_umask)
        self.db = sqlite_utils.Database(conn)
        try:
            if existing:
                self._refuse_unopenable()  # reads only: a refused file stays as it was
                migrations.refuse_newer(self)
                self._refuse_another_stores_key()  # before anything writes
            old_umask = os.umask(0o077)
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
            finally:
                os.umask(old_umask)
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrations_applied = migrations.migrate(self, plugins)
            if purge_on_open:
                self.purge()
            self._remember_key_check()
        except engine.Error as e:
            conn.close()
            raise from_sqlite(self.path, e) from None
        except BaseException:
            conn.close()
            raise

    def _refuse_unopenable(self) -> None:
        """The first read of an encrypted store: another store's key, a file
        that is not a store, or damage near its start all end here, in one
        line (SQLCipher cannot tell a wrong key from a file that is not a
        database: both fail the first page's HMAC). Then a newer schema."""
        try:
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except engine.DatabaseError as e:
            if getattr(e, "sqlite_errorcode", None) == engine.SQLITE_NOTADB:
                raise StoreKeyError(unopenable_message(self.path)) from None
            raise StoreError(damaged_message(self.path, f"{e}; damaged or cut short")) from None
        if version > migrations.SCHEMA_VERSION:
            raise StoreError(newer_message(self.path, version, migrations.SCHEMA_VERSION))

    # -- the key check ---------------------------------------------------------------
    #
    # A store keeps a check value of its key (meta "key_check"): a key file
    # swapped for another store's is refused at open, before anything is
    # sealed or tagged with it. Without the check, a store holding nothing
    # sealed yet opened fine and the next sync or check-in split it across
    # two keys.

    def _stored_key_check(self) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", [KEY_CHECK]).fetchone()
        except engine.OperationalError:  # no meta table yet
            return None
        return row[0] if row else None

    def _refuse_another_stores_key(self) -> None:
        found = self._stored_key_check()
        if found is not None and not hmac.compare_digest(found, self.cipher.check_value()):
            raise StoreKeyError(WRONG_KEY_MESSAGE)

    def _refuse_another_stores_key_on(self, conn: Any) -> None:
        """The key check on a plain store about to be encrypted: its check
        value, else a sealed row, must open with this key — a plain store is
        never encrypted under another store's key."""
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", [KEY_CHECK]).fetchone()
        except engine.OperationalError:  # no meta table: nothing stored yet
            return
        if row is not None:
            if not hmac.compare_digest(row[0], self.cipher.check_value()):
                raise StoreKeyError(WRONG_KEY_MESSAGE)
            return
        for table in ("own_keys", "visits", "declarations"):
            try:
                sealed = conn.execute(f"SELECT sealed FROM {table} LIMIT 1").fetchone()
            except engine.OperationalError:
                continue
            if sealed is not None:
                self.cipher.open(sealed[0])

    def _remember_key_check(self) -> None:
        """Record the check value, for a new store or one made before the
        check existed; for the latter only after a sealed row opens with this
        key (else StoreKeyError), so a wrong key is never learnt."""
        if self._stored_key_check() is not None:
            return
        for table in ("own_keys", "visits", "declarations"):
            row = self.db.execute(f"SELECT sealed FROM {table} LIMIT 1").fetchone()
            if row is not None:
                self.cipher.open(row[0])
        self.set_meta(KEY_CHECK, self.cipher.check_value())

    # -- plumbing ----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic group of writes. Nested use joins the outer transaction."""
        conn = self.db.conn
        if conn.in_transaction:
            yield conn
            return
        with engine.immediate_transaction(conn):
            yield conn

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> "DeviceStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in migrations.DATA_TABLES}

    # -- own keys -------------------------------------------------------------------

    def _row_to_own_key(self, row: sqlite3.Row | tuple) -> OwnKey:
        schedule, start, period, uploaded, sealed = row
        return OwnKey(schedule, ExposureKey(self.cipher.open(sealed), start, period), bool(uploaded))

    def add_own_key(self, schedule: str, key: ExposureKey) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO own_keys(schedule, rolling_start, rolling_period, uploaded, sealed) "
                "VALUES (?, ?, ?, 0, ?)",
                [schedule, key.rolling_start_interval_number, key.rolling_period, self.cipher.seal(key.key_data)],
            )

    def own_keys(self, schedule: str | None = None) -> list[OwnKey]:
        sql = "SELECT schedule, rolling_start, rolling_period, uploaded, sealed FROM own_keys"
        args: list[Any] = []
        if schedule:
            sql += " WHERE schedule = ?"
            args.append(schedule)
        return [self._row_to_own_key(r) for r in self.db.execute(sql + " ORDER BY rolling_start", args)]

    def current_key(self, schedule: Any, now: int | None = None) -> ExposureKey:
        """The key to broadcast now; makes a new one at the day boundary (or
        after an early rotation) so the caller never has to."""
        now = self.now() if now is None else now
        enin = interval_number(now)
        for own in reversed(self.own_keys(schedule.name)):
            k = own.key
            if k.rolling_start_interval_number <= enin < k.end_interval_number:
                return k
        key = schedule.new_key(now)
        self.add_own_key(schedule.name, key)
        return key

    def rotate_key_early(self, schedule: Any, now: int | None = None) -> ExposureKey:
        """End the current key now and start a fresh one (GAEN does this after
        an upload, so identifiers broadcast after the upload are not linkable
        to the published key)."""
        now = self.now() if now is None else now
        enin = interval_number(now)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE own_keys SET rolling_period = MAX(1, ? - rolling_start) "
                "WHERE schedule = ? AND rolling_start <= ? AND rolling_start + rolling_period > ?",
                [enin, schedule.name, enin, enin],
            )
            fresh = schedule.new_key(now)
            conn.execute(
                "INSERT INTO own_keys(schedule, rolling_start, rolling_period, uploaded, sealed) "
                "VALUES (?, ?, ?, 0, ?)",
                [schedule.name, fresh.rolling_start_interval_number, fresh.rolling_period,
                 self.cipher.seal(fresh.key_data)],
            )
        return fresh

    def mark_keys_uploaded(self, keys: Iterable[ExposureKey]) -> None:
        with self.transaction() as conn:
            for k in keys:
                conn.execute(
                    "UPDATE own_keys SET uploaded = 1 WHERE rolling_start = ?",
                    [k.rolling_start_interval_number],
                )

    # -- sightings ------------------------------------------------------------------

    def add_sightings(self, sightings: Iterable[Sighting]) -> int:
        """Store a group of sightings atomically; returns how many."""
        rows = [
            (s.identifier, s.interval, s.time, s.rssi, s.rssi_max, s.metadata,
             s.seconds_since_last_scan, s.source, s.tx_power)
            for s in sightings
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO sightings(identifier, interval, time, rssi, rssi_max, metadata, "
                "seconds_since_last_scan, source, tx_power) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def sightings(self, since: int | None = None, until: int | None = None) -> Iterator[Sighting]:
        sql = ("SELECT identifier, time, rssi, metadata, rssi_max, seconds_since_last_scan, source, tx_power "
               "FROM sightings WHERE time >= ? AND time < ? ORDER BY time")
        lo = since if since is not None else 0
        hi = until if until is not None else 2**62
        for row in self.db.execute(sql, [lo, hi]):
            yield Sighting(row[0], row[1], row[2], row[3] or b"", row[4], row[5], row[6], row[7])

    def sightings_by_rowid(self, rowids: list[int]) -> Iterator[tuple[int, Sighting]]:
        """(row id, sighting) of each of these rows still stored: the matcher
        indexes only identifiers and times, and reads the few rows it hits."""
        if not rowids:
            return
        marks = ", ".join("?" * len(rowids))
        sql = ("SELECT id, identifier, time, rssi, metadata, rssi_max, seconds_since_last_scan, source, tx_power "
               f"FROM sightings WHERE id IN ({marks})")
        for row in self.db.execute(sql, list(rowids)):
            yield row[0], Sighting(row[1], row[2], row[3], row[4] or b"", row[5], row[6], row[7], row[8])

    def sighting_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]

    # -- visits -----------------------------------------------------------------------

    def save_visit(self, visit: Visit) -> None:
        """Insert or replace a visit (check-in, checkout and edits all save)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO visits(visit_id, source, arrival, departure, auto_checkout, sealed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [visit.visit_id, visit.source, visit.arrival, visit.departure, visit.auto_checkout,
                 self.cipher.seal(visit.data)],
            )

    def visits(self, source: str | None = None) -> list[Visit]:
        sql = "SELECT visit_id, source, arrival, departure, sealed, auto_checkout FROM visits"
        args: list[Any] = []
        if source:
            sql += " WHERE source = ?"
            args.append(source)
        return [
            Visit(r[0], r[1], r[2], r[3], self.cipher.open(r[4]), r[5])
            for r in self.db.execute(sql + " ORDER BY arrival", args)
        ]

    def delete_visit(self, visit_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM visits WHERE visit_id = ?", [visit_id])

    # -- exposures and alerts -------------------------------------------------------

    def add_exposure(self, exposure: Exposure) -> bool:
        """Store an exposure unless the same one is stored; True when new."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO exposures(exposure_id, tier, source, day, score, minutes, details, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [exposure.exposure_id, int(exposure.tier), exposure.source, exposure.date.isoformat(),
                 exposure.score, exposure.minutes, json.dumps(exposure.details, sort_keys=True), self.now()],
            )
            return cur.rowcount == 1

    def exposures(self) -> list[Exposure]:
        return [
            Exposure(Tier(r[0]), r[1], dt.date.fromisoformat(r[2]), r[3], r[4], json.loads(r[5]))
            for r in self.db.execute(
                "SELECT tier, source, day, score, minutes, details FROM exposures ORDER BY day, tier"
            )
        ]

    def add_alert(self, alert: Alert) -> bool:
        """Persist an alert once per exposure; True when new. A withdrawn
        alert of the same exposure is replaced (a new key warns again)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO alerts(exposure_id, tier, source, exposure_day, created_at, "
                "isolate_until, messages, delivered, state) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) "
                "ON CONFLICT(exposure_id) DO UPDATE SET created_at = excluded.created_at, "
                "isolate_until = excluded.isolate_until, messages = excluded.messages, delivered = 0, "
                "state = excluded.state, changed_at = NULL WHERE alerts.state = 'withdrawn'",
                [alert.exposure_id, int(alert.tier), alert.source, alert.exposure_date.isoformat(),
                 alert.created_at, alert.isolate_until.isoformat(), json.dumps(alert.messages, ensure_ascii=False),
                 alert.state],
            )
            return cur.rowcount == 1

    def alerts(self, undelivered_only: bool = False) -> list[Alert]:
        sql = ("SELECT exposure_id, tier, source, exposure_day, created_at, isolate_until, messages, state "
               "FROM alerts")
        if undelivered_only:
            sql += " WHERE delivered = 0"
        return [
            Alert(r[0], Tier(r[1]), r[2], dt.date.fromisoformat(r[3]), r[4], dt.date.fromisoformat(r[5]),
                  json.loads(r[6]), r[7])
            for r in self.db.execute(sql + " ORDER BY exposure_day, tier")
        ]

    def change_alert(self, exposure_id: str, state: str, messages: dict[str, str]) -> bool:
        """Mark an alert ``upgraded`` or ``withdrawn`` with the words that say
        so; it is delivered again so the person learns of the change."""
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE alerts SET state = ?, messages = ?, changed_at = ?, delivered = 0 WHERE exposure_id = ?",
                [state, json.dumps(messages, ensure_ascii=False), self.now(), exposure_id]).rowcount == 1

    def replace_exposure(self, exposure: Exposure) -> None:
        """Store the new score, minutes and details of a re-scored exposure."""
        with self.transaction() as conn:
            conn.execute("UPDATE exposures SET score = ?, minutes = ?, details = ? WHERE exposure_id = ?",
                         [exposure.score, exposure.minutes, json.dumps(exposure.details, sort_keys=True),
                          exposure.exposure_id])

    def delete_exposure(self, exposure_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM exposures WHERE exposure_id = ?", [exposure_id])

    # -- own reports ------------------------------------------------------------------

    def add_own_report(self, *, reported_at: int, report_type: int, tier: int, isolate_until: dt.date, keys: int,
                       revision_token: str = "") -> None:
        """Remember an upload this phone made with an authority code; the
        server's revision token is sealed like the other secrets."""
        sealed = self.cipher.seal(revision_token.encode()) if revision_token else None
        with self.transaction() as conn:
            conn.execute("INSERT INTO own_reports(reported_at, report_type, tier, isolate_until, keys, sealed_revision)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         [reported_at, int(report_type), int(tier), isolate_until.isoformat(), keys, sealed])

    def own_reports(self) -> list[dict[str, Any]]:
        """Every remembered upload, oldest first (``revision_token`` opened)."""
        return [
            {"reported_at": r[0], "report_type": r[1], "tier": Tier(r[2]), "isolate_until": dt.date.fromisoformat(r[3]),
             "keys": r[4], "revision_token": self.cipher.open(r[5]).decode() if r[5] is not None else ""}
            for r in self.db.execute("SELECT reported_at, report_type, tier, isolate_until, keys, sealed_revision "
                                     "FROM own_reports ORDER BY reported_at, id")
        ]

    def mark_alert_delivered(self, exposure_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE alerts SET delivered = 1 WHERE exposure_id = ?", [exposure_id])

    # -- exposure windows (matching) ------------------------------------------------------

    def add_exposure_windows(self, feed: str, batch: str, windows: Iterable[tuple[Any, ...]]) -> int:
        """Keep the exposure windows a batch produced: ``(day, tier, window_json)``
        rows, or ``(day, tier, window_json, key_tag)`` (see
        :meth:`windows_of_key`); ``batch`` is the batch's content id. Call in
        the batch's transaction, after :meth:`claim_contributions` has
        removed what was already counted."""
        rows = [(feed, batch, w[0], int(w[1]), w[2], w[3] if len(w) > 3 else None) for w in windows]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO exposure_windows(feed, batch, day, tier, window, key_tag) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    def windows_of_key(self, key_tag: bytes) -> list[tuple[int, str, int, str]]:
        """``(id, day, tier, window_json)`` of the windows a published key made,
        by its keyed tag (:func:`bluezone.matching.revisions.key_tag`)."""
        return [(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT id, day, tier, window FROM exposure_windows WHERE key_tag = ? ORDER BY id", [key_tag])]

    def rewrite_window(self, window_id: int, tier: int, text: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE exposure_windows SET tier = ?, window = ? WHERE id = ?", [tier, text, window_id])

    def delete_window(self, window_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM exposure_windows WHERE id = ?", [window_id])

    def exposure_windows(self, days: Iterable[str]) -> list[tuple[str, int, str]]:
        """``(day, tier, window_json)`` of the given ISO days, every batch."""
        days = sorted(set(days))
        if not days:
            return []
        marks = ",".join("?" * len(days))
        return [
            (r[0], r[1], r[2])
            for r in self.db.execute(
                f"SELECT day, tier, window FROM exposure_windows WHERE day IN ({marks}) ORDER BY id", days
            )
        ]

    def contribution_tag(self, material: bytes) -> bytes:
        """The keyed tag under which a matched contribution (a published key
        and one of its intervals) is remembered; see :meth:`claim_contributions`."""
        return self.cipher.tag(material)

    def claim_contributions(self, tags: Iterable[tuple[bytes, str]]) -> set[bytes]:
        """Record ``(tag, day)`` pairs; returns the tags that were not recorded
        before, i.e. the contributions this batch may count.

        Run inside the batch's transaction: it is the check and the mark in
        one, so a contribution is counted once whichever file, name or
        process brings it (the same key in a renamed, re-signed or rebuilt
        batch adds nothing)."""
        fresh: set[bytes] = set()
        with self.transaction() as conn:
            for tag, day in tags:
                if conn.execute("INSERT OR IGNORE INTO matched_contributions(tag, day) VALUES (?, ?)",
                                [tag, day]).rowcount == 1:
                    fresh.add(tag)
        return fresh

    # -- sync state ---------------------------------------------------------------------

    def batch_processed(self, feed: str, content_id: str) -> bool:
        """Whether a batch with this content (``PublishedBatch.content_id``)
        was processed, under any name. Names are not part of what the
        authority signs, so they identify nothing."""
        return self.db.execute(
            "SELECT 1 FROM processed_batches WHERE feed = ? AND content_id = ?", [feed, content_id]
        ).fetchone() is not None

    def mark_batch_processed(self, feed: str, content_id: str, name: str = "") -> None:
        """Record a batch as done; call inside the same transaction that stores
        its exposures so an interrupted sync neither loses nor repeats them.
        ``name`` is kept for people reading the store, never for lookups."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO processed_batches(feed, content_id, name, processed_at) VALUES (?, ?, ?, ?)",
                [feed, content_id, name, self.now()],
            )

    def get_sync_state(self, feed: str) -> dict[str, Any]:
        row = self.db.execute("SELECT state FROM sync_state WHERE feed = ?", [feed]).fetchone()
        return json.loads(row[0]) if row else {}

    def set_sync_state(self, feed: str, state: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sync_state(feed, state, updated_at) VALUES (?, ?, ?)",
                [feed, json.dumps(state, sort_keys=True), self.now()],
            )

    # -- declarations ---------------------------------------------------------------

    def add_declaration(self, payload: bytes, created_at: int | None = None) -> int:
        """Keep a copy of the person's own declaration (only if they chose to)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO declarations(created_at, sealed) VALUES (?, ?)",
                [self.now() if created_at is None else created_at, self.cipher.seal(payload)],
            )
            if cur.lastrowid is None:  # sqlite3 sets it after every INSERT
                raise RuntimeError("SQLite reported no row id for a new declaration")
            return cur.lastrowid

    def declarations(self) -> list[tuple[int, int, bytes]]:
        return [
            (r[0], r[1], self.cipher.open(r[2]))
            for r in self.db.execute("SELECT id, created_at, sealed FROM declarations ORDER BY created_at")
        ]

    # -- retention ------------------------------------------------------------------------

    def purge(self, now: int | None = None) -> dict[str, int]:
        """Delete everything older than the retention window; returns counts per table.

        Deletion deletes: ``secure_delete`` (set on every connection, see
        :func:`.engine.connect`) zeroes the rows' bytes before the page is
        written, and when something was deleted the WAL is folded into the
        file and truncated, so the old page images it held go too. Every
        table has a rule (:data:`RETENTION`): purged here by age, or bounded
        by what it is."""
        now = self.now() if now is None else now
        cutoff = now - self.retention_days * DAY_SECONDS
        cutoff_day = dt.datetime.fromtimestamp(cutoff, dt.timezone.utc).date().isoformat()
        cutoff_interval = cutoff // INTERVAL_SECONDS
        args = {"time": cutoff, "day": cutoff_day, "interval": cutoff_interval}
        counts = {}
        with self.transaction() as conn:
            for table, rule in RETENTION.items():
                if rule.sql:
                    counts[table] = conn.execute(rule.sql, [args[rule.cutoff]]).rowcount
        if any(counts.values()) and not self.db.conn.in_transaction:
            # Best effort: a reader in another process may hold old frames; its
            # own purge (every open and sync) truncates them later.
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return counts


@dataclasses.dataclass(frozen=True)
class Retention:
    """How a table is kept from growing: a purge by age (``sql`` with one
    parameter, the cutoff of kind ``cutoff``: "time", "day" or "interval"),
    or ``bounded``, saying why it cannot grow (then ``sql`` is empty)."""

    sql: str = ""
    cutoff: str = "time"
    bounded: str = ""


#: Every table of the core's store and its rule; a test fails on a table without one.
RETENTION: dict[str, Retention] = {
    "sightings": Retention("DELETE FROM sightings WHERE time < ?"),
    "own_keys": Retention("DELETE FROM own_keys WHERE rolling_start + rolling_period <= ?", "interval"),
    "visits": Retention("DELETE FROM visits WHERE COALESCE(departure, arrival) < ?"),
    "declarations": Retention("DELETE FROM declarations WHERE created_at < ?"),
    "exposures": Retention("DELETE FROM exposures WHERE day < ?", "day"),
    "alerts": Retention("DELETE FROM alerts WHERE exposure_day < ?", "day"),
    "exposure_windows": Retention("DELETE FROM exposure_windows WHERE day < ?", "day"),
    "matched_contributions": Retention("DELETE FROM matched_contributions WHERE day < ?", "day"),
    "processed_batches": Retention("DELETE FROM processed_batches WHERE processed_at < ?"),
    # kept while the person isolates (its end is after the report day, so the report is past retention too)
    "own_reports": Retention("DELETE FROM own_reports WHERE isolate_until < ?", "day"),
    # A feed's state not written for a whole window is a feed no longer synced (removed from the
    # deployment, its plugin gone): dropping it costs at most one full download, deduplicated by
    # the content ids and contribution tags above.
    "sync_state": Retention("DELETE FROM sync_state WHERE updated_at < ?"),
    "meta": Retention(bounded="one row per setting name, each overwritten in place (language, F2 choice, "
                              "last sync, the key check); no history"),
    "_migrations": Retention(bounded="one row per schema step, a fixed list"),
    "consents": Retention(bounded="one row per consent purpose (bluezone.consent.PURPOSES), overwritten in "
                                  "place when the person decides again; no history"),
}
