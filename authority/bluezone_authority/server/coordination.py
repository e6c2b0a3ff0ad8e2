"""Named locks that hold across the server's worker processes.

Why: with ``bluezone serve --workers N`` every worker may be asked to build
an export (the schedule, ``POST /v1/authority/exports``, retention, a
plugin publishing to its feed). The database already keeps two batches from
taking one sequence number, but the export folder is plain files: two
workers rewriting the same ``index.txt`` or ``.name.tmp`` at once could
leave a file of one with the name of the other. So the whole "build a batch
and mirror the folder" step runs under one named lock, and the folder has
one writer at a time.

On SQLite the lock is ``flock`` on the folder that holds the database:
the kernel releases it when a worker dies, so a killed exporter never leaves
the others waiting. It used to be a file beside the database
(``server.db.export.lock``), but a lock file can be removed while a worker
holds it: the next process then creates a new file, locks that, and a
second exporter starts. The folder cannot be removed while it holds the
database, so its lock cannot be bypassed that way. On PostgreSQL it is a
session-level advisory lock (:class:`AdvisoryLocks`), released the same way
when the connection ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class LockProvider(Protocol):
    """What the server needs from a backend to serialise a job across processes."""

    def exclusive(self, name: str, *, wait: bool = True) -> contextlib.AbstractContextManager[bool]:
        """Hold the lock ``name`` for the ``with`` block. With ``wait=False``
        the block runs at once and receives ``False`` when another process
        holds it (the caller skips its work)."""
        ...


class FileLocks:
    """:class:`LockProvider` for SQLite: ``flock`` on the database's folder.

    One lock for every name: a folder has one ``flock``, and a per-name file
    could be deleted under its holder (see the module docstring). The
    server has one name today (``export``), so nothing waits that would not
    have waited anyway. Names are still checked, for the day that changes.

    Re-entrant inside one process (a job that already holds ``export`` may
    call another that takes it), which ``flock`` on a second descriptor
    would not be: it would wait for itself."""

    def __init__(self, database: Path):
        self.database = Path(database)
        self._depth = 0
        self._guard = threading.Lock()

    def folder(self, name: str) -> Path:
        """What is locked for ``name`` (ValueError for a name that is not a lock name)."""
        if not _NAME.match(name):
            raise ValueError(f"lock names are 1-32 of a-z, 0-9 and '-': {name!r}")
        return self.database.absolute().parent

    @contextlib.contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        folder = self.folder(name)
        with self._guard:
            nested = self._depth > 0
            if nested:
                self._depth += 1
        if nested:
            try:
                yield True
            finally:
                with self._guard:
                    self._depth -= 1
            return
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            with self._guard:
                self._depth = 1
            try:
                yield True
            finally:
                with self._guard:
                    self._depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class AdvisoryLocks:
    """:class:`LockProvider` for PostgreSQL: a session-level advisory lock
    (``pg_advisory_lock``) held on one pooled connection for the block.

    Session-level rather than ``pg_advisory_xact_lock`` because the block is
    not a transaction: the exporter writes files under it and commits its
    database work in transactions of its own. PostgreSQL drops the lock when
    the connection ends, so a killed worker never leaves the others waiting.
    On PostgreSQL request handlers run in threads (``db_call``), so the lock
    is re-entrant per thread, and threads of one process queue on an
    in-process lock first (an advisory lock would let a second session of
    the same process wait, but never tell two threads apart otherwise)."""

    def __init__(self, backend: Any):
        self.backend = backend  # a database.PostgreSQLDatabase (its pool)
        self._mine = threading.local()
        self._threads: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        from .database import lock_key

        if not _NAME.match(name):
            raise ValueError(f"lock names are 1-32 of a-z, 0-9 and '-': {name!r}")
        held: set[str] = self._mine.__dict__.setdefault("held", set())
        if name in held:  # this thread holds it already
            yield True
            return
        with self._guard:
            local = self._threads.setdefault(name, threading.Lock())
        if not local.acquire(blocking=wait):
            yield False
            return
        try:
            key = lock_key("job:" + name)
            with self.backend.pool.connection() as raw:
                if wait:
                    raw.execute("SELECT pg_advisory_lock(%s)", (key,))
                elif not raw.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                    yield False
                    return
                held.add(name)
                try:
                    yield True
                finally:
                    held.discard(name)
                    raw.execute("SELECT pg_advisory_unlock(%s)", (key,))
        finally:
            local.release()


__all__ = ["AdvisoryLocks", "FileLocks", "LockProvider"]
