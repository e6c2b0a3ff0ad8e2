"""A storage cap for sealed declarations, kept exact and cheap to check.

``POST /v1/declarations`` is unauthenticated by design (a person declares
without an account), so without a cap a flood fills the disk: 1,292
declarations/s were accepted, 617 MiB in 10 s. The per-client rate limit
slows one client down; this cap bounds what everybody together can make
the server store within the retention window (``declaration_quota_count``
declarations and ``declaration_quota_bytes`` bytes). Past it the server
answers 507 ``declarations_full`` and stores nothing.

Why a usage table and not ``count(*)``/``sum(length(sealed))``: summing
over tens of thousands of 4–48 KiB rows on every upload would turn the
flood into a disk-read storm. ``declaration_usage`` keeps one row per
reception hour (the only time a declaration keeps), updated in the same
transaction as the insert and purged with the declarations, so the check
reads at most ``retention_days × 24`` small rows and can never drift.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bluezone.i18n import _

from .database import lock_in
from .errors import ApiError

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS declaration_usage (
        hour INTEGER PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL)""",
]
#: Marker in ``meta``: the usage table was filled from the declarations already stored.
MARKER = "declaration_usage_v1"


@dataclass(frozen=True)
class Usage:
    """Declarations stored within the retention window, and the caps."""

    count: int
    bytes: int
    max_count: int
    max_bytes: int

    @property
    def full(self) -> bool:
        return self.count >= self.max_count or self.bytes >= self.max_bytes

    def fits(self, size: int) -> bool:
        return self.count + 1 <= self.max_count and self.bytes + size <= self.max_bytes

    @property
    def percent(self) -> int:
        """The larger of the two fill levels, in whole percent (for staff pages)."""
        return int(100 * max(self.count / self.max_count, self.bytes / self.max_bytes))


def migrate(conn: sqlite3.Connection) -> None:
    """Create the usage table; on a database from before it, count what is stored once."""
    for stmt in SCHEMA:
        conn.execute(stmt)
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (MARKER,)).fetchone() is None:
        conn.execute("DELETE FROM declaration_usage")
        conn.execute("INSERT INTO declaration_usage (hour, count, bytes) SELECT received_hour, count(*),"
                     " sum(length(sealed)) FROM declarations GROUP BY received_hour")
        conn.execute("INSERT INTO meta (key, value) VALUES (?, '1')", (MARKER,))


def usage(conn: sqlite3.Connection, since: int, max_count: int, max_bytes: int) -> Usage:
    row = conn.execute("SELECT coalesce(sum(count), 0), coalesce(sum(bytes), 0) FROM declaration_usage"
                       " WHERE hour >= ?", (since,)).fetchone()
    return Usage(int(row[0]), int(row[1]), max_count, max_bytes)


def reserve(conn: sqlite3.Connection, hour: int, size: int, *, since: int, max_count: int,
            max_bytes: int) -> Usage:
    """Count one declaration of ``size`` bytes received in ``hour``, or raise
    507 ``declarations_full`` when it would pass a cap. Call inside the
    transaction that inserts the declaration, so the check and the insert
    are one step (``BEGIN IMMEDIATE``: no two uploads race past the cap)."""
    lock_in(conn, "declaration-quota")  # PostgreSQL: the check and the count as one step, as SQLite's one writer
    now = usage(conn, since, max_count, max_bytes)
    if not now.fits(size):
        raise ApiError(507, "declarations_full",
                       _("the server holds as many declarations as it may; please try again later"),
                       {"Retry-After": "3600"})
    conn.execute("INSERT INTO declaration_usage (hour, count, bytes) VALUES (?, 1, ?) ON CONFLICT (hour)"
                 " DO UPDATE SET count = declaration_usage.count + 1,"  # qualified: PostgreSQL finds bare names ambiguous
                 " bytes = declaration_usage.bytes + excluded.bytes", (hour, size))
    return now


def release(conn: sqlite3.Connection, hour: int, size: int) -> None:
    """Give back the usage of one declaration deleted before retention would."""
    # CASE, not SQLite's two-argument MAX (PostgreSQL has none): one statement for both backends
    conn.execute("UPDATE declaration_usage SET count = CASE WHEN count > 1 THEN count - 1 ELSE 0 END,"
                 " bytes = CASE WHEN bytes > ? THEN bytes - ? ELSE 0 END WHERE hour = ?", (size, size, hour))


def forget_before(conn: sqlite3.Connection, cutoff: int) -> None:
    """Drop usage of hours whose declarations retention deletes (same cutoff)."""
    conn.execute("DELETE FROM declaration_usage WHERE hour < ?", (cutoff,))


def per_day(conn: sqlite3.Connection, since: int) -> list[tuple[int, int, int]]:
    """(UTC day number, declarations, bytes) per day, for staff pages."""
    return [tuple(r) for r in conn.execute(
        "SELECT hour / 86400, sum(count), sum(bytes) FROM declaration_usage WHERE hour >= ? GROUP BY 1 ORDER BY 1",
        (since,))]
