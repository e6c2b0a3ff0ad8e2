"""Pushed announcements of new batches: ``GET /v1/feeds/{feed}/events``.

Why: phones that poll learn of a batch up to one polling period late, and
all of them poll whether or not anything changed. An event stream tells
every connected phone once, when a batch exists; the phone then waits a
random delay before downloading, so the download peak is spread
(``bluezone sync --watch``, docs/client.md).

What an event holds: ``id`` = the batch's sequence number in its feed,
``data`` = the batch's file name — nothing else, the same for everyone.
``Last-Event-ID`` (a sequence number) replays the batches after it, so a
phone that reconnects misses nothing. An idle stream carries a comment line
every ``events_heartbeat_seconds`` so proxies keep the connection open. No
address or identifier of the listener is kept; a listener is an anonymous
queue for as long as its connection lasts.

How every worker learns of a batch another worker built: each worker has one
:class:`Announcer` that watches a *batch source*. :class:`SqliteBatchSource`
polls (every ``events_poll_seconds``) ``PRAGMA data_version`` — which
changes only when another connection committed — and only then asks for the
newest sequence number of each feed. On any other database
:class:`DatabaseBatchSource` asks for the newest numbers at every poll
through the server database's own ``all()`` (one indexed query a second per
worker). A PostgreSQL source that waits on LISTEN/NOTIFY instead is one
small class with the same methods (not written yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from bluezone.i18n import _

from .errors import ApiError
from .exporter import check_feed_name

log = logging.getLogger("bluezone.server")

#: At most this many batches are replayed after a ``Last-Event-ID`` (a feed
#: keeps about 14 days × 24 batches; a phone further behind syncs anyway).
MAX_REPLAY = 1000
#: What a client should wait before reconnecting (the SSE ``retry`` field), ms.
RETRY_MS = 10_000

Announcement = tuple[int, str]  # (seq, name)


class BatchSource(Protocol):
    """Where a worker learns which batches exist (one class per backend)."""

    def changed(self) -> bool:
        """Cheap: may anything have been committed since the last call?"""
        ...

    def latest(self) -> dict[str, int]:
        """The newest sequence number of every feed."""
        ...

    def after(self, feed: str, seq: int, limit: int = MAX_REPLAY) -> list[Announcement]:
        """Batches of ``feed`` after ``seq``, oldest first."""
        ...

    def close(self) -> None:
        ...


class SqliteBatchSource:
    """:class:`BatchSource` on the SQLite server database: a read-only
    connection of its own, so ``data_version`` sees every other writer."""

    def __init__(self, database: Path):
        self.conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None, timeout=30)
        self._version: int | None = None

    def changed(self) -> bool:
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        changed, self._version = version != self._version, version
        return changed

    def latest(self) -> dict[str, int]:
        return {feed: seq for feed, seq in self.conn.execute("SELECT feed, max(seq) FROM batches GROUP BY feed")}

    def after(self, feed: str, seq: int, limit: int = MAX_REPLAY) -> list[Announcement]:
        return [(int(s), str(n)) for s, n in self.conn.execute(
            "SELECT seq, name FROM batches WHERE feed = ? AND seq > ? ORDER BY seq LIMIT ?", (feed, seq, limit))]

    def close(self) -> None:
        self.conn.close()


class DatabaseBatchSource:
    """:class:`BatchSource` through the server database's own ``all()``, for
    a backend with no cheaper change signal wired yet: every poll asks for
    each feed's newest number (one indexed query)."""

    def __init__(self, db: Any):
        self.db = db

    def changed(self) -> bool:
        return True

    def latest(self) -> dict[str, int]:
        return {feed: seq for feed, seq in self.db.all("SELECT feed, max(seq) FROM batches GROUP BY feed")}

    def after(self, feed: str, seq: int, limit: int = MAX_REPLAY) -> list[Announcement]:
        return [(int(s), str(n)) for s, n in self.db.all(
            "SELECT seq, name FROM batches WHERE feed = ? AND seq > ? ORDER BY seq LIMIT ?", (feed, seq, limit))]

    def close(self) -> None:
        pass  # the database is the server's, closed with it


class PgNotifySource(DatabaseBatchSource):
    """:class:`BatchSource` on PostgreSQL: a connection of its own LISTENs on
    :data:`~.exporter.BATCH_CHANNEL`, where the exporter notifies inside the
    batch's transaction (so the signal comes on commit, from any worker).
    The database is asked for the newest numbers only after a signal. A
    thread waits on the connection; its flag is read by the poll."""

    def __init__(self, db: Any):
        import psycopg

        from .exporter import BATCH_CHANNEL

        super().__init__(db)
        self._signals, self._seen_signals = 1, 0  # the first poll reads the current state
        self._stop = threading.Event()
        self._conn = psycopg.connect(db.backend.target.location, autocommit=True)
        self._conn.execute(f"LISTEN {BATCH_CHANNEL}")
        self._thread = threading.Thread(target=self._wait, name="bluezone-listen", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        while not self._stop.is_set():
            try:
                for _n in self._conn.notifies(timeout=1.0):
                    self._signals += 1  # a counter, not a flag: a signal between read and reset is never lost
            except Exception:  # connection lost: fall back to asking on every poll
                log.warning("announcements: LISTEN connection lost; polling the database instead")
                self._stop.set()

    def changed(self) -> bool:
        if self._stop.is_set():
            return True
        now = self._signals
        changed, self._seen_signals = now != self._seen_signals, now
        return changed

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()


def source_for(db: Any) -> BatchSource:
    """The cheapest source the database offers: ``data_version`` on a SQLite
    file, LISTEN/NOTIFY on PostgreSQL, else :class:`DatabaseBatchSource`."""
    path = getattr(db, "path", None)
    if isinstance(path, Path) and path.exists():
        return SqliteBatchSource(path)
    if getattr(db, "kind", None) == "postgresql":
        return PgNotifySource(db)
    return DatabaseBatchSource(db)


class Announcer:
    """One per worker: polls its :class:`BatchSource` and hands each new
    batch to every listener of its feed on this worker."""

    def __init__(self, source: BatchSource, *, poll_seconds: float, max_listeners: int):
        self.source = source
        self.poll_seconds = poll_seconds
        self.max_listeners = max_listeners
        self._listeners: dict[str, set[asyncio.Queue[Announcement | None]]] = {}
        self._seen: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def listeners(self) -> int:
        return sum(len(s) for s in self._listeners.values())

    def start(self) -> None:
        self.source.changed()
        self._seen = self.source.latest()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """End every stream (their handlers return) and the polling."""
        for queues in self._listeners.values():
            for q in queues:
                q.put_nowait(None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.source.close()

    def listen(self, feed: str) -> asyncio.Queue[Announcement | None]:
        if self.listeners >= self.max_listeners:
            raise ApiError(503, "too_many_listeners", _("too many open event streams; poll the index instead"),
                           {"Retry-After": "60"})
        q: asyncio.Queue[Announcement | None] = asyncio.Queue()
        self._listeners.setdefault(feed, set()).add(q)
        return q

    def forget(self, feed: str, q: asyncio.Queue[Announcement | None]) -> None:
        self._listeners.get(feed, set()).discard(q)

    def poll(self) -> None:
        """One look at the source; announces what is new (also called by tests)."""
        if not self.source.changed():
            return
        for feed, newest in self.source.latest().items():
            last = self._seen.get(feed, 0)
            if newest <= last:
                continue
            fresh = self.source.after(feed, last)
            self._seen[feed] = newest
            for q in self._listeners.get(feed, ()):
                for item in fresh:
                    q.put_nowait(item)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                self.poll()
            except sqlite3.Error:
                log.exception("cannot read new batches to announce")


ANNOUNCER: web.AppKey[Announcer] = web.AppKey("bluezone_announcer", Announcer)


def event(seq: int, name: str) -> bytes:
    return f"id: {seq}\ndata: {name}\n\n".encode()


def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID")
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    # isascii: "²" and "١٢" pass isdigit, and int("²") raises
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise ApiError(400, "invalid_event_id", _("Last-Event-ID must be a batch number"))
    return int(raw)


async def feed_events(request: web.Request) -> web.StreamResponse:
    """The event stream of one feed (see the module docstring)."""
    from .middleware import SECURITY_HEADERS

    feed = check_feed_name(request.match_info["feed"])
    after = _last_event_id(request)
    announcer = request.app[ANNOUNCER]
    heartbeat = request.app[HEARTBEAT]
    queue = announcer.listen(feed)  # before the replay, so nothing committed meanwhile is missed
    try:
        response = web.StreamResponse(headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        sent = after if after is not None else 0
        if after is not None:
            # An id beyond the newest batch (a restored database, a wrong id)
            # would otherwise silence this stream for good: nothing new is
            # above it, and heartbeats keep the stream — and the phone — waiting.
            sent = min(after, announcer.source.latest().get(feed, 0))
        if after is not None:
            for seq, name in announcer.source.after(feed, after):
                await response.write(event(seq, name))
                sent = seq
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), heartbeat)
            except asyncio.TimeoutError:
                await response.write(b": \n\n")
                continue
            if item is None:  # the worker is stopping
                break
            if item[0] > sent:
                await response.write(event(*item))
                sent = item[0]
    except ConnectionResetError:  # the listener went away
        pass
    finally:
        announcer.forget(feed, queue)
    return response


HEARTBEAT: web.AppKey[float] = web.AppKey("bluezone_events_heartbeat", float)


def install(app: web.Application, db: Any, *, poll_seconds: float, heartbeat_seconds: float,
            max_listeners: int) -> None:
    """Add the events route and its announcer (started and stopped with the app)."""
    app.router.add_get("/v1/feeds/{feed}/events", feed_events)
    app[HEARTBEAT] = heartbeat_seconds
    app[ANNOUNCER] = Announcer(source_for(db), poll_seconds=poll_seconds, max_listeners=max_listeners)

    async def on_startup(app: web.Application) -> None:
        app[ANNOUNCER].start()

    async def on_shutdown(app: web.Application) -> None:  # before connections close: streams end by themselves
        await app[ANNOUNCER].stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)


__all__ = ["ANNOUNCER", "Announcer", "BatchSource", "DatabaseBatchSource", "PgNotifySource", "SqliteBatchSource", "feed_events",
           "install", "source_for"]
