"""``bluezone sync --watch``: sync when the authority announces a batch.

Why: polling every few minutes costs every phone a request per poll and
still learns of a batch late. With the event stream
(``GET /v1/feeds/keys/events``, docs/api.md) a phone keeps one quiet
connection open and syncs once per announced batch.

The rules, each for a reason:

* **A random delay before each sync**, uniform in ``[0, max_delay]``: a
  province's phones all hear of a batch in the same second; spread over a few
  minutes, the download peak on the server (or CDN) is that much lower.
  Announcements that arrive during the delay join the one pending sync.
* **Reconnect with exponential backoff and jitter**, sending
  ``Last-Event-ID`` so the server replays what was missed; the jitter keeps a
  server restart from being met by every phone at the same instant.
* **Fall back to polling**: a server without the route (404) is polled every
  ``poll_seconds``; while the stream keeps failing, the phone syncs at least
  every ``poll_seconds`` too, so a broken stream never means no sync.
* One sync at a time, and one at start, to catch up on what was published
  while the phone was not watching.

The loop is written against two callables (``sync`` and ``events``) so it is
the same for any transport; one without ``events`` is simply polled.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .i18n import Message, _
from .transport import TransportError


@dataclass(frozen=True)
class WatchSettings:
    """How ``sync --watch`` behaves (command-line options)."""

    feed: str = "keys"
    #: most seconds between an announcement and the sync it causes
    max_delay: float = 300.0
    #: seconds between syncs when there is no event stream
    poll_seconds: float = 900.0
    #: first reconnection wait; doubled per failure up to ``max_backoff``
    backoff: float = 1.0
    max_backoff: float = 300.0
    #: a stream silent this long (not even a heartbeat) is taken as dropped
    idle_seconds: float = 90.0


Events = Callable[[str, str | None, float], AsyncIterator[tuple[str, str] | None]]


def plausible_announcement(event_id: str, name: str) -> bool:
    """True for what the server sends: an id of 1-12 ASCII digits (or none)
    and a plain printable ``*.zip`` file name. The sync itself downloads only
    what the feed index lists, so this guards the printout and ``Last-Event-ID``."""
    if event_id and not (event_id.isascii() and event_id.isdigit() and len(event_id) <= 12):
        return False
    return (name.isascii() and name.isprintable() and len(name) <= 128 and name.endswith(".zip")
            and not name.startswith(".") and "/" not in name and "\\" not in name and ":" not in name)


@dataclass
class Watcher:
    """State of one watch: the last event seen, failures in a row, the pending sync."""

    sync: Callable[[], Awaitable[Any]]
    say: Callable[[Message], None]
    settings: WatchSettings = field(default_factory=WatchSettings)
    events: Events | None = None
    rng: random.Random = field(default_factory=random.SystemRandom)
    last_event_id: str | None = None
    failures: int = 0
    syncs: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _pending: asyncio.Task[None] | None = None
    _last_sync: float = 0.0

    async def run_sync(self) -> None:
        """One sync (never two at once); a failure is said and waited out."""
        async with self._lock:
            self._last_sync = time.monotonic()
            try:
                await self.sync()
                self.syncs += 1
            except TransportError as e:
                self.say(_("Sync failed ({error}); trying again at the next announcement or poll.", error=e.code))

    def announced(self, event_id: str, name: str) -> None:
        """A batch was announced: schedule one sync after a random delay.

        An announcement that is not a batch number and a batch file name is
        dropped: the name is printed (a terminal escape must not be), and the
        id goes back to the server as ``Last-Event-ID`` on every reconnection
        (one it refuses would make every reconnection fail)."""
        if not plausible_announcement(event_id, name):
            return
        if event_id:
            self.last_event_id = event_id
        if self._pending is not None and not self._pending.done():
            return  # the sync already waiting will fetch this batch too
        delay = self.rng.uniform(0, self.settings.max_delay)
        self.say(_("New batch announced ({name}); syncing in {seconds} s.", name=name, seconds=round(delay)))
        self._pending = asyncio.create_task(self._after(delay))

    async def _after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.run_sync()

    def backoff(self) -> float:
        """Seconds before reconnection attempt number ``failures`` (full jitter on the upper half)."""
        s = self.settings
        ceiling = min(s.max_backoff, s.backoff * 2 ** max(0, self.failures - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    async def poll_forever(self) -> None:
        self.say(_("The server does not announce batches; checking every {seconds} s instead.",
                   seconds=round(self.settings.poll_seconds)))
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            await self.run_sync()

    async def listen_once(self) -> None:
        """One connection: announcements until it fails (raises TransportError)."""
        assert self.events is not None
        async for item in self.events(self.settings.feed, self.last_event_id, self.settings.idle_seconds):
            if item is None:  # connected
                if self.failures:
                    self.say(_("Connected again to the announcements."))
                self.failures = 0
                continue
            self.announced(*item)

    async def run(self) -> None:
        """Sync now, then on every announcement, until cancelled (Ctrl-C)."""
        self.say(_("Watching for new batches (Ctrl-C to stop)."))
        await self.run_sync()
        if self.events is None:
            await self.poll_forever()
            return
        try:
            while True:
                try:
                    await self.listen_once()
                except TransportError as e:
                    if e.code == "no_events":
                        await self.poll_forever()
                        return
                self.failures += 1
                wait = self.backoff()
                self.say(_("The connection to the announcements was lost; trying again in {seconds} s.",
                           seconds=round(wait)))
                if time.monotonic() - self._last_sync >= self.settings.poll_seconds:
                    await self.run_sync()  # a failing stream still leaves a sync every poll_seconds
                await asyncio.sleep(wait)
        finally:
            if self._pending is not None:
                self._pending.cancel()


__all__ = ["WatchSettings", "Watcher", "plausible_announcement"]
