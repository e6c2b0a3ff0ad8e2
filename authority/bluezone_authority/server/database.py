"""The server's database connection, behind one small interface for SQLite and PostgreSQL.

Why this module exists: the server's SQL (codes, uploads, exports, the
portal, plugins' server parts) is written once, with ``?`` placeholders and
the column types ``INTEGER``/``TEXT``/``BLOB``. A file path opens SQLite (the
default: nothing to install, one process); a ``postgresql://`` URL opens
PostgreSQL (several worker processes, several machines). Code above this layer
never asks which one it has, except through :attr:`Database.kind` where a
statement truly differs.

What every backend guarantees, and the server relies on:

* :meth:`Database.transaction` is all-or-nothing and takes the write lock at
  its start (SQLite ``BEGIN IMMEDIATE``; PostgreSQL's default isolation with
  row locks). Leaving the block commits; an exception rolls back, so a refused
  request writes nothing. The caller acknowledges only after the block exits.
* :meth:`Database.exclusive` is a *named* lock across processes held for one
  transaction (SQLite: an ``flock`` on a file beside the database;
  PostgreSQL: ``pg_advisory_xact_lock``), so N workers can agree that exactly
  one of them builds an export. With ``wait=False`` it raises :class:`Busy`
  instead of waiting.
* :meth:`Database.one`/:meth:`Database.all`/:meth:`Database.execute` run one
  statement outside any open transaction (each its own short transaction).
* Connections are thread-safe on PostgreSQL (a pool; each transaction takes
  one connection), so request handlers may run database work through
  ``asyncio.to_thread`` and never block the event loop on a network round
  trip. SQLite has one connection, used by one thread at a time (a lock).

The connection object a transaction yields has ``execute(sql, params)``
returning a cursor with ``fetchone``/``fetchall``/``rowcount`` and iteration,
like :class:`sqlite3.Connection`, so existing code runs unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import re
import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bluezone.i18n import Message, _
from bluezone.store import named_migrations as named

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_PG_SCHEMES = ("postgresql://", "postgres://")

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


class DatabaseError(ValueError):
    """The database named in the configuration cannot be opened (one line, no traceback)."""


class Busy(RuntimeError):
    """``exclusive(name, wait=False)``: another process holds that lock now."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What a transaction yields (``sqlite3.Connection`` fits as it is)."""

    def execute(self, sql: str, params: Params = ..., /) -> Any: ...


@dataclass(frozen=True)
class Target:
    """Where the configuration points: a kind and its file path or URL."""

    kind: str
    location: str

    @property
    def display(self) -> str:
        """The location without a password, for logs and error messages."""
        return target_display(self.location)


def target_display(location: str) -> str:
    """``location`` with any password in it shown as ``***``: the one after the
    user name and libpq's ``password=`` query parameter."""
    shown = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", location)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", shown, flags=re.IGNORECASE)


def _passwords(location: str) -> list[str]:
    """The passwords written in ``location``, as written and percent-decoded."""
    found = re.findall(r"://[^:/@]*:([^@]*)@", location)
    found += re.findall(r"[?&]password=([^&]*)", location, flags=re.IGNORECASE)
    return [p for raw in found for p in {raw, urllib.parse.unquote(raw)} if p]


def without_password(text: str, location: str) -> str:
    """``text`` (a driver's message, which may quote the URL it could not parse)
    with the URL shown as :func:`target_display` shows it and any password of
    ``location`` left out. Why: libpq quotes the whole URI in some errors."""
    text = text.replace(location, target_display(location))
    for password in sorted(_passwords(location), key=len, reverse=True):
        text = text.replace(password, "***")
    return text


def target(value: str | os.PathLike[str]) -> Target:
    """A ``postgresql://`` (or ``postgres://``) URL selects PostgreSQL; anything
    else is a SQLite file path (``sqlite:///path`` is accepted too)."""
    text = os.fspath(value)
    if text.startswith(_PG_SCHEMES):
        return Target(POSTGRESQL, text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]  # sqlite:///relative.db, sqlite:////absolute.db
    if "://" in text:
        raise DatabaseError(str(_("database {value}: use a file path (SQLite) or a postgresql:// URL",
                                  value=target_display(text))))
    return Target(SQLITE, text)


def lock_in(conn: Any, name: str) -> None:
    """Serialise this transaction with every other one that takes ``name``,
    until it ends. SQLite needs nothing: ``BEGIN IMMEDIATE`` already lets one
    writer in at a time. On PostgreSQL (READ COMMITTED, writers in parallel)
    a read-then-write step, such as "is this certificate still unused? then
    store its keys and spend it", takes it first, so two requests for the same
    thing cannot both pass the read (``pg_advisory_xact_lock``; any name)."""
    if getattr(conn, "dialect", SQLITE) == POSTGRESQL:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(b"bluezone-lock:" + name.encode()).digest()[:8], "big", signed=True)


class Database:
    """An open server database; see the module docstring for the guarantees."""

    kind: str
    target: Target

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def exclusive(self, name: str, *, wait: bool = True) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def one(self, sql: str, params: Params = ()) -> Any:
        with self.transaction() as c:
            return c.execute(sql, params).fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Any]:
        with self.transaction() as c:
            return list(c.execute(sql, params).fetchall())

    def execute(self, sql: str, params: Params = ()) -> int:
        """One write statement in its own transaction; the number of rows it touched."""
        with self.transaction() as c:
            return int(c.execute(sql, params).rowcount)

    def table_exists(self, conn: Any, table: str) -> bool:
        """Whether ``table`` exists (``conn``: an open transaction's connection)."""
        return named.has_table(conn, table)

    def columns(self, conn: Any, table: str) -> set[str]:
        """``table``'s column names (``conn``: an open transaction's connection)."""
        return named.columns(conn, table)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SQLiteDatabase(Database):
    """One file, one connection, WAL with ``synchronous=FULL`` (a committed
    transaction survives SIGKILL and power loss)."""

    kind = SQLITE

    def __init__(self, where: Target):
        self.target = where
        self.path = Path(where.location)
        problem = file_problem(self.path)
        if problem is not None:
            raise DatabaseError(str(problem))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as e:  # a symlink loop, a folder not writable: one line, not a traceback
            raise DatabaseError(str(_("cannot open the database file {path}: {reason}", path=self.path,
                                      reason=e.strerror or e))) from e
        old = os.umask(0o077)  # the -wal and -shm files the connection creates are private too
        try:
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "secure_delete=ON", "synchronous=FULL", "foreign_keys=ON"):
                self.conn.execute(f"PRAGMA {pragma}")
        finally:
            os.umask(old)
        self._depth = 0
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:  # one thread at a time on the one connection (SQLite has one writer anyway)
            if self._depth:  # one/all inside this thread's open transaction: part of it
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def one(self, sql: str, params: Params = ()) -> Any:
        # a read needs no write lock: autocommit (or part of this thread's open transaction), as before
        with self._lock:
            return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Any]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    @contextlib.contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[sqlite3.Connection]:
        with self.file_lock(name, wait=wait), self.transaction() as c:
            yield c

    @contextlib.contextmanager
    def file_lock(self, name: str, *, wait: bool = True) -> Iterator[None]:
        """The cross-process half of :meth:`exclusive` without its transaction:
        for work on another connection to this file (the schema migration)."""
        lock_path = self.path.with_name(f"{self.path.name}.{_safe(name)}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise Busy(name) from None
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def close(self) -> None:
        self.conn.close()


def _safe(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ValueError(f"lock name {name!r}: letters, digits, '_', '.', '-' only")
    return name


# --- PostgreSQL -------------------------------------------------------------

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%")
_DDL = re.compile(r"^\s*(CREATE\s+TABLE|ALTER\s+TABLE)", re.IGNORECASE)
_TYPES = re.compile(r"\b(BLOB|INTEGER)\b")
_IDENTITY = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE)


def to_pyformat(sql: str) -> str:
    """``?`` placeholders → psycopg's ``%s``, and every literal ``%`` → ``%%``
    (psycopg reads ``%`` everywhere once there are parameters); a ``?`` inside
    a quoted string, identifier or comment stays as it is."""
    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        return "%s" if token == "?" else token.replace("%", "%%")
    return _TOKEN.sub(swap, sql)


def to_postgresql_ddl(sql: str) -> str:
    """The one schema, in PostgreSQL's words: ``BLOB`` is ``BYTEA`` and
    ``INTEGER`` is ``BIGINT`` (SQLite's integers are 64-bit; times in
    microseconds and byte totals need it). SQLite's ``INTEGER PRIMARY KEY
    AUTOINCREMENT`` (numbers that only grow, never reused after a delete) is an
    identity column, which gives the same promise."""
    if not _DDL.match(sql):
        return sql
    sql = _IDENTITY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    return _TYPES.sub(lambda m: "BYTEA" if m.group(1) == "BLOB" else "BIGINT", sql)


class PgConnection:
    """A pooled psycopg connection inside one transaction, speaking the
    server's SQL dialect (``?`` placeholders, SQLite type names in DDL)."""

    dialect = POSTGRESQL  # read by bluezone.store.named_migrations' catalogue queries

    def __init__(self, raw: Any):
        self.raw = raw

    def executemany(self, sql: str, rows: Sequence[Params]) -> Any:
        cur = self.raw.cursor()
        cur.executemany(to_pyformat(sql), rows)
        return cur

    def execute(self, sql: str, params: Params = ()) -> Any:
        sql = to_postgresql_ddl(sql)
        if not params:  # without parameters psycopg sends the text as it is
            return self.raw.execute(sql)
        return self.raw.execute(to_pyformat(sql), params)


def _configure(raw: Any) -> None:
    """Each new pooled connection: ``sum()`` of integers (PostgreSQL's
    ``numeric``) comes back as an int, as on SQLite, not a Decimal."""
    from psycopg.types.numeric import NumericLoader

    class WholeNumeric(NumericLoader):
        def load(self, data: Any) -> Any:
            value = super().load(data)
            return int(value) if value == value.to_integral_value() else float(value)

    raw.adapters.register_loader("numeric", WholeNumeric)


class PostgreSQLDatabase(Database):
    """psycopg 3 with a thread-safe connection pool (psycopg_pool)."""

    kind = POSTGRESQL

    def __init__(self, where: Target, *, max_size: int = 8):
        try:
            import psycopg
            import psycopg_pool
        except ImportError as e:  # pragma: no cover - the dependency is declared
            raise DatabaseError(str(_("PostgreSQL needs its driver: pip install 'bluezone-authority[postgresql]'"))) from e
        self.target = where
        self._local = threading.local()
        self._psycopg = psycopg
        try:
            # one plain connection first: a wrong URL or a server that is down gives libpq's own
            # reason at once, where the pool would retry until its timeout
            psycopg.connect(where.location, connect_timeout=10).close()
            self.pool = psycopg_pool.ConnectionPool(where.location, min_size=1, max_size=max_size, open=False,
                                                    kwargs={"autocommit": True}, configure=_configure)
            self.pool.open(wait=True, timeout=30)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as e:
            reason = without_password((str(e).strip().splitlines() or [type(e).__name__])[0], where.location)
            raise DatabaseError(str(_("cannot connect to {database}: {reason}", database=where.display,
                                      reason=reason))) from e

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        current = getattr(self._local, "conn", None)
        if current is not None:  # one/all inside this thread's open transaction: part of it
            yield current
            return
        with self.pool.connection() as raw:
            with raw.transaction():
                self._local.conn = PgConnection(raw)
                try:
                    yield self._local.conn
                finally:
                    self._local.conn = None

    # A single statement outside a transaction runs on a pooled autocommit
    # connection as it is: PostgreSQL makes it its own transaction, so it is
    # as atomic as BEGIN; statement; COMMIT, in one round trip instead of
    # three. Downloads (the index, then the file) are two such reads; with
    # the explicit transaction they cost 4 round trips each.

    @contextlib.contextmanager
    def _single(self, sql: str, params: Params) -> Iterator[Any]:
        current = getattr(self._local, "conn", None)
        if current is not None:  # inside this thread's open transaction: part of it
            yield current.execute(sql, params)
            return
        with self.pool.connection() as raw:
            yield PgConnection(raw).execute(sql, params)

    def one(self, sql: str, params: Params = ()) -> Any:
        with self._single(sql, params) as cur:
            return cur.fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Any]:
        with self._single(sql, params) as cur:
            return list(cur.fetchall())

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._single(sql, params) as cur:
            return int(cur.rowcount)

    @contextlib.contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[PgConnection]:
        _safe(name)
        with self.transaction() as c:
            if wait:
                c.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))
            elif not c.execute("SELECT pg_try_advisory_xact_lock(?)", (lock_key(name),)).fetchone()[0]:
                raise Busy(name)
            yield c

    def close(self) -> None:
        self.pool.close()


async def off_loop(db: Database, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run ``fn`` (work that uses ``db``) so that the event loop never waits on
    a network round trip: on PostgreSQL in a worker thread (the pool is
    thread-safe; each transaction takes one connection), on SQLite right here
    (a local file, one writer). Whatever the caller answers comes after ``fn``
    returned, i.e. after its commit. The choice is :func:`.offload.runner_for`'s,
    the one the announcer and the shared rate limits make too."""
    from .offload import runner_for  # late: offload imports this module

    return await runner_for(db.kind)(functools.partial(fn, *args, **kw))


def file_problem(path: Path) -> Message | None:
    """Why ``path`` (followed through symlinks) cannot be a SQLite database, or
    None. Why: SQLite opens a FIFO or a device as if it were a file and fails
    later with a traceback, after writing its journal and our lock file beside
    it (``/dev/null`` gave ``/dev/null-journal``)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None  # made on first start
    except OSError as e:
        return _("cannot open the database file {path}: {reason}", path=path, reason=e.strerror or e)
    if stat.S_ISDIR(mode):
        return _("{path} is a folder, not a database file", path=path)
    if not stat.S_ISREG(mode):
        return _("{path} is not a regular file (a FIFO, a device or a socket cannot hold a database)", path=path)
    return None


def open_database(value: str | os.PathLike[str]) -> Database:
    """Open the database the ``[server] database`` setting names (see :func:`target`)."""
    where = target(value)
    if where.kind == POSTGRESQL:
        return PostgreSQLDatabase(where)
    return SQLiteDatabase(where)
