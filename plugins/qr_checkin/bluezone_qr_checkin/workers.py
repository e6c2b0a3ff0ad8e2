"""A small, bounded pool for the pairing work of venue-trace uploads.

Completing and checking an owner's pre-traces costs two pairings and a hash to
G1 per hour of the window — tens of milliseconds per upload, all of it inside
pymcl, which holds the GIL. Run on the event loop (or in a thread of the
server process) it stalls every other request: four clients once took
``/v1/health`` from 1 ms to 605 ms. So the work runs in separate worker
processes, only after the one-time token has been checked, and at most
``workers`` jobs run with at most ``queue`` more waiting: an authorised but
abusive client gets a clean 503, it cannot queue unbounded work.

``executor = "thread"`` runs the same jobs in a thread of the server process;
it exists so the benchmark can show the difference, not for production.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class PoolBusy(RuntimeError):
    """Every worker is busy and the waiting line is full."""


class TraceWorkers:
    """Runs heavy jobs off the event loop, ``workers`` at a time, ``queue`` waiting."""

    def __init__(self, workers: int = 1, queue: int = 4, executor: str = "process"):
        if executor not in ("process", "thread"):
            raise ValueError(f"executor must be 'process' or 'thread', not {executor!r}")
        self.workers, self.queue, self.kind = workers, queue, executor
        self._executor: Executor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._admitted = 0  # running + waiting
        #: jobs handed to the executor since start (tests prove junk never gets here)
        self.started = 0

    def _pool(self) -> Executor:
        # Created on first use: a server that never traces a venue starts no processes.
        if self._executor is None:
            if self.kind == "process":
                # spawn, not fork: the server process has a running loop, open
                # sockets and a SQLite connection that a fork would copy.
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            else:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="venue-trace")
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; :class:`PoolBusy` at once when the line is full."""
        if self._admitted >= self.workers + self.queue:
            raise PoolBusy("venue tracing is busy")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        self._admitted += 1
        try:
            async with self._slots:
                self.started += 1
                return await asyncio.get_running_loop().run_in_executor(self._pool(), fn, *args)
        finally:
            self._admitted -= 1

    def close(self) -> None:
        """Stop the workers (server shutdown); running jobs are abandoned."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
