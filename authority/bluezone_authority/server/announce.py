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
worker). On PostgreSQL :class:`PgNotifySource` LISTENs on an asyncio
connection of its own and asks only after a NOTIFY. Every read of a source
goes through :mod:`.offload`: in a thread on PostgreSQL, on the loop on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from bluezone.i18n import _

from .database import SQLITE
from .errors import ApiError
from .exporter import check_feed_name
from .offload import Runner, in_place, runner_for

log = logging.getLogger("bluezone.server")

#: At most this many batches are replayed after a ``Last-Event-ID`` (a feed
#: keeps about 14 days × 24 batches; a phone further behind syncs anyway).
MAX_REPLAY = 1000
#: What a client should wait before reconnecting (the SSE ``retry`` field), ms.
RETRY_MS = 10_000

Announcement = tuple[int, str]  # (seq, name)


class BatchSource(Protocol):
    """Where a worker learns which batches exist (one class per backend).

    ``changed``, ``latest`` and ``after`` may block on the database; the
    :class:`Announcer` calls them through its runner (:mod:`.offload`), so on
    PostgreSQL they run in a thread and never on the event loop."""

    def changed(self) -> bool:
        """Cheap: may anything have been committed since the last call?"""
        ...

    def latest(self) -> dict[str, int]:
        """The newest sequence number of every feed."""
        ...

    def after(self, feed: str, seq: int, limit: int = MAX_REPLAY) -> list[Announcement]:
        """Batches of ``feed`` after ``seq``, oldest first."""
        ...

    async def watch(self, wake: Callable[[], None]) -> None:
        """Background work of the source for as long as the announcer runs
        (a coroutine on the event loop; cancelled at stop). A source that
        hears of a change calls ``wake()`` so the announcer polls at once
        rather than at its next period. Most sources have none and return."""
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

    async def watch(self, wake: Callable[[], None]) -> None:
        return None

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

    async def watch(self, wake: Callable[[], None]) -> None:
        return None

    def close(self) -> None:
        pass  # the database is the server's, closed with it


#: Waits before reconnecting a lost LISTEN connection: doubled each failure, up to the last.
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class PgNotifySource(DatabaseBatchSource):
    """:class:`BatchSource` on PostgreSQL: a connection of its own LISTENs on
    :data:`~.exporter.BATCH_CHANNEL`, where the exporter notifies inside the
    batch's transaction (so the signal comes on commit, from any worker).
    The database is asked for the newest numbers only after a signal.

    The listening is psycopg's ``AsyncConnection`` on the worker's event
    loop (:meth:`watch`): a notification costs no thread, and it wakes the
    announcer at once, so listeners hear of a batch without waiting for the
    next ``events_poll_seconds``. When
    the connection drops (PostgreSQL restarted, the backend terminated, the
    network cut) the source says "changed" at every poll, so the announcer
    asks the database itself, and :meth:`watch` reconnects with a growing
    wait; after LISTEN is in place again one more signal makes the next poll
    read whatever was committed while nobody listened."""

    def __init__(self, db: Any):
        super().__init__(db)
        self._signals, self._seen_signals = 1, 0  # the first poll reads the current state
        self.listening = False  # a LISTEN connection is up now
        self.backend_pid: int | None = None  # its PostgreSQL backend (tests terminate it)

    async def watch(self, wake: Callable[[], None]) -> None:
        import psycopg

        from .exporter import BATCH_CHANNEL

        failures = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.db.backend.target.location, autocommit=True,
                                                             connect_timeout=10)
                async with conn:
                    await conn.execute(f"LISTEN {BATCH_CHANNEL}")
                    self.backend_pid, self.listening, failures = conn.info.backend_pid, True, 0
                    self._signals += 1  # what was committed while nobody listened is read at the next poll
                    wake()
                    async for _n in conn.notifies():
                        self._signals += 1  # a counter, not a flag: a signal between read and reset is never lost
                        wake()  # announced now, not at the next poll period
            except psycopg.Error as e:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # psycopg may answer a cancellation (the server closing) with its own
                    # error: that is the end, not a lost connection to listen on again
                    raise asyncio.CancelledError from e
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
                log.warning("announcements: LISTEN connection lost (%s); polling the database until it is back",
                            reason)
            finally:
                self.listening = False
            await asyncio.sleep(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)])
            failures += 1

    def changed(self) -> bool:
        if not self.listening:
            return True
        now = self._signals
        changed, self._seen_signals = now != self._seen_signals, now
        return changed


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
    batch to every listener of its feed on this worker.

    ``run`` is where the source's blocking reads run (:mod:`.offload`): on
    the event loop for SQLite, in a thread on PostgreSQL."""

    def __init__(self, source: BatchSource, *, poll_seconds: float, max_listeners: int, run: Runner = in_place):
        self.source = source
        self.poll_seconds = poll_seconds
        self.max_listeners = max_listeners
        self.run = run
        self._listeners: dict[str, set[asyncio.Queue[Announcement | None]]] = {}
        self._seen: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()

    @property
    def listeners(self) -> int:
        return sum(len(s) for s in self._listeners.values())

    async def start(self) -> None:
        def current() -> dict[str, int]:
            self.source.changed()
            return self.source.latest()

        self._seen = await self.run(current)
        self._tasks = [asyncio.create_task(self.source.watch(self._wake.set)), asyncio.create_task(self._run())]

    async def stop(self) -> None:
        """End every stream (their handlers return) and the polling."""
        for queues in self._listeners.values():
            for q in queues:
                q.put_nowait(None)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
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

    def _fresh(self) -> dict[str, list[Announcement]]:
        """The blocking part of a poll: what is new in each feed since the last one."""
        if not self.source.changed():
            return {}
        fresh: dict[str, list[Announcement]] = {}
        for feed, newest in self.source.latest().items():
            last = self._seen.get(feed, 0)
            if newest <= last:
                continue
            fresh[feed] = self.source.after(feed, last)
            self._seen[feed] = newest
        return fresh

    async def poll(self) -> None:
        """One look at the source; announces what is new (also called by tests).
        The queues are filled here, on the event loop (they are not thread-safe)."""
        for feed, items in (await self.run(self._fresh)).items():
            for q in self._listeners.get(feed, ()):
                for item in items:
                    q.put_nowait(item)

    async def _run(self) -> None:
        while True:
            # the period, or sooner when the source wakes us. asyncio.timeout, not
            # wait_for: on Python 3.11 wait_for swallows a cancellation that lands
            # just as the event is set (the LISTEN task wakes us as the server
            # closes), and this loop then ran for ever, so the server's close never ended
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.poll()
            except Exception:  # a database that is away for a moment: the next poll tries again
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
            sent = min(after, (await announcer.run(announcer.source.latest)).get(feed, 0))
        if after is not None:
            for seq, name in await announcer.run(announcer.source.after, feed, after):
                await response.write(event(seq, name))
                sent = seq
        while True:
            try:
                async with asyncio.timeout(heartbeat):  # not wait_for: see Announcer._run
                    item = await queue.get()
            except TimeoutError:
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
    app[ANNOUNCER] = Announcer(source_for(db), poll_seconds=poll_seconds, max_listeners=max_listeners,
                               run=runner_for(getattr(db, "kind", SQLITE)))

    async def on_startup(app: web.Application) -> None:
        await app[ANNOUNCER].start()

    async def on_shutdown(app: web.Application) -> None:  # before connections close: streams end by themselves
        await app[ANNOUNCER].stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)


__all__ = ["ANNOUNCER", "Announcer", "BatchSource", "DatabaseBatchSource", "PgNotifySource", "SqliteBatchSource", "feed_events",
           "install", "source_for"]
