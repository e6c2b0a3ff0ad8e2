"""Where blocking database work runs: on the event loop, or in a thread.

Why one helper: every piece of the server that touches the database from a
coroutine (request handlers, the portal, background jobs, the shared rate
limits, the announcer of new batches) must make the same choice. On SQLite
the work stays on the event loop, as it always has: the database is a local
file with one writer, and a thread hop would only add latency. On PostgreSQL
each statement is a network round trip, so the work runs in a worker thread
(``asyncio.to_thread``) and the loop keeps serving other clients; the
connection pool is thread-safe and each transaction takes one connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .database import SQLITE

T = TypeVar("T")


class Runner(Protocol):
    """``await run(fn, *args)``: ``fn(*args)`` somewhere, its result back on the loop."""

    def __call__(self, fn: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


async def in_place(fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
    """Run ``fn`` right here, on the event loop (SQLite, in-memory counters)."""
    return fn(*args, **kw)


async def in_thread(fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
    """Run ``fn`` in a worker thread (PostgreSQL: a network round trip)."""
    return await asyncio.to_thread(fn, *args, **kw)


def runner_for(kind: str) -> Runner:
    """The runner for a database of ``kind`` (:data:`~.database.SQLITE` or another)."""
    return in_place if kind == SQLITE else in_thread


__all__ = ["Runner", "in_place", "in_thread", "runner_for"]
