"""Where the rate-limit counters live: in one process, or in the database.

:class:`~.ratelimit.RateLimits` decides (who may try, what "under attack"
means); a *window store* only counts, in fixed one-minute windows, per
bucket and per client (the client as an HMAC, never an address). Two stores:

* :class:`MemoryWindows` — a dict in the process. The default with one
  worker: nothing to write, nothing survives a restart.
* :class:`SqlWindows` — the ``rate_windows`` table of the server database,
  so every worker of ``bluezone serve --workers N`` counts against one
  budget: N workers do not give a client N times the budget, nor the
  guessers N times the global verify bound. Each check-and-count is one
  ``BEGIN IMMEDIATE`` transaction on its own connection with
  ``synchronous=OFF``: counters are worth nothing after a crash (the HMAC key
  that names the clients dies with the processes), so they need no fsync.
  Rows of windows before the previous one are deleted as windows roll.
  The SQL is plain, so the same class runs on another backend's
  transactions (PostgreSQL); a Redis store would implement the same four
  methods.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bluezone.store.engine import immediate_transaction

T = TypeVar("T")

#: The bucket of failed verification attempts (count = failures outstanding).
FAILED = "~failed"
#: Per bucket, the number of distinct clients in a window (client = b"").
CLIENTS = "~clients:"


class Guess:
    """Answers of :meth:`WindowStore.guess`."""

    ALLOWED = 0
    FAILED_NOW = 1  # failed in this window while under attack: wait until clean for a minute
    FAILED_BEFORE = 2  # failed in the previous window while under attack
    FULL = 3  # too many clients tracked this minute


class WindowStore(Protocol):
    def hit(self, window: int, bucket: str, client: bytes, per_minute: int, max_clients: int) -> bool:
        """Count one request; False (nothing counted) when over ``per_minute``
        or when ``client`` is new and ``max_clients`` are already counted."""
        ...

    def failures(self, window: int) -> int:
        """Failed verification attempts of all clients in ``window``."""
        ...

    def guess(self, window: int, client: bytes, failures_per_minute: int, max_clients: int) -> int:
        """Admit a verification attempt as a failure in advance, or refuse it (:class:`Guess`)."""
        ...

    def succeeded(self, window: int, client: bytes) -> None:
        """Undo the failure :meth:`guess` counted for ``client``."""
        ...


class MemoryWindows:
    """:class:`WindowStore` in this process's memory (one worker)."""

    def __init__(self) -> None:
        self._window = -1
        self._counts: dict[tuple[str, bytes], int] = {}
        self._failed_now: dict[bytes, int] = {}
        self._failed_before: dict[bytes, int] = {}

    def _roll(self, window: int) -> None:
        if window == self._window:
            return
        self._failed_before = self._failed_now if window == self._window + 1 else {}
        self._window, self._counts, self._failed_now = window, {}, {}

    def hit(self, window: int, bucket: str, client: bytes, per_minute: int, max_clients: int) -> bool:
        self._roll(window)
        slot = (bucket, client)
        count = self._counts.get(slot)
        if count is None and len(self._counts) >= max_clients:
            return False
        if (count or 0) >= per_minute:
            return False
        self._counts[slot] = (count or 0) + 1
        return True

    def failures(self, window: int) -> int:
        if window > self._window:
            self._roll(window)
        if window == self._window:
            return sum(self._failed_now.values())
        return sum(self._failed_before.values()) if window == self._window - 1 else 0

    def guess(self, window: int, client: bytes, failures_per_minute: int, max_clients: int) -> int:
        self._roll(window)
        if max(self.failures(window), self.failures(window - 1)) >= failures_per_minute:
            if client in self._failed_now:
                return Guess.FAILED_NOW
            if client in self._failed_before:
                return Guess.FAILED_BEFORE
        if client not in self._failed_now and len(self._failed_now) >= max_clients:
            return Guess.FULL
        self._failed_now[client] = self._failed_now.get(client, 0) + 1
        return Guess.ALLOWED

    def succeeded(self, window: int, client: bytes) -> None:
        self._roll(window)
        left = self._failed_now.get(client, 0) - 1
        if left > 0:
            self._failed_now[client] = left
        else:
            self._failed_now.pop(client, None)


Transaction = Callable[[], contextlib.AbstractContextManager[Any]]


def sqlite_transactions(database: Path) -> tuple[Transaction, Callable[[], None]]:
    """Write transactions on a connection of their own to the SQLite file, with
    ``synchronous=OFF`` (see the module docstring), and its ``close``."""
    conn = sqlite3.connect(str(database), isolation_level=None, timeout=30)
    conn.execute("PRAGMA synchronous=OFF")

    return (lambda: immediate_transaction(conn)), conn.close


class SqlWindows:
    """:class:`WindowStore` in the ``rate_windows`` table (every worker, one budget).

    ``transaction`` opens one all-or-nothing write transaction and yields a
    connection with ``execute(sql, params)`` and ``?`` placeholders: the
    SQLite one of :func:`sqlite_transactions`, or another backend's. The SQL
    is plain (``ON CONFLICT ... DO UPDATE``, no SQLite-only function)."""

    def __init__(self, transaction: Transaction, close: Callable[[], None] = lambda: None):
        self._transaction = transaction
        self._close = close
        self._cleared = -1

    @classmethod
    def on_sqlite(cls, database: Path) -> "SqlWindows":
        return cls(*sqlite_transactions(database))

    def close(self) -> None:
        self._close()

    @staticmethod
    def _count(c: Any, minute: int, bucket: str, client: bytes) -> int | None:
        row = c.execute("SELECT count FROM rate_windows WHERE minute = ? AND bucket = ? AND client = ?",
                        (minute, bucket, client)).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _add(c: Any, minute: int, bucket: str, client: bytes, delta: int) -> None:
        c.execute("INSERT INTO rate_windows (minute, bucket, client, count) VALUES (?,?,?,?)"
                  " ON CONFLICT (minute, bucket, client) DO UPDATE SET count = rate_windows.count + excluded.count",
                  (minute, bucket, client, delta))

    @staticmethod
    def _failures(c: Any, minute: int) -> int:
        row = c.execute("SELECT coalesce(sum(count), 0) FROM rate_windows WHERE minute = ? AND bucket = ?",
                        (minute, FAILED)).fetchone()
        return int(row[0])

    def _atomic(self, minute: int, work: Callable[[Any], T]) -> T:
        with self._transaction() as c:
            if minute != self._cleared:  # first use of a new minute in this worker: drop old windows
                c.execute("DELETE FROM rate_windows WHERE minute < ?", (minute - 1,))
                self._cleared = minute
            return work(c)

    def hit(self, window: int, bucket: str, client: bytes, per_minute: int, max_clients: int) -> bool:
        def work(c: Any) -> bool:
            count = self._count(c, window, bucket, client)
            if count is None and (self._count(c, window, CLIENTS + bucket, b"") or 0) >= max_clients:
                return False
            if (count or 0) >= per_minute:
                return False
            if count is None:
                self._add(c, window, CLIENTS + bucket, b"", 1)
            self._add(c, window, bucket, client, 1)
            return True

        return self._atomic(window, work)

    def failures(self, window: int) -> int:
        with self._transaction() as c:
            return self._failures(c, window)

    def guess(self, window: int, client: bytes, failures_per_minute: int, max_clients: int) -> int:
        def work(c: Any) -> int:
            if max(self._failures(c, window), self._failures(c, window - 1)) >= failures_per_minute:
                if self._count(c, window, FAILED, client):
                    return Guess.FAILED_NOW
                if self._count(c, window - 1, FAILED, client):
                    return Guess.FAILED_BEFORE
            if self._count(c, window, FAILED, client) is None:
                if (self._count(c, window, CLIENTS + FAILED, b"") or 0) >= max_clients:
                    return Guess.FULL
                self._add(c, window, CLIENTS + FAILED, b"", 1)
            self._add(c, window, FAILED, client, 1)
            return Guess.ALLOWED

        return self._atomic(window, work)

    def succeeded(self, window: int, client: bytes) -> None:
        def work(c: Any) -> None:
            c.execute("UPDATE rate_windows SET count = count - 1"
                      " WHERE minute = ? AND bucket = ? AND client = ? AND count > 0", (window, FAILED, client))

        self._atomic(window, work)


__all__ = ["FAILED", "Guess", "MemoryWindows", "SqlWindows", "WindowStore"]
