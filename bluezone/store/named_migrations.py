"""Named migrations, applied once each and recorded per owner.

Why names instead of one version number: a single ``user_version`` is a
closed list, so only the core could add tables. Here every migration is
``(owner, name, step)``; the core owns ``"core"`` and each plugin its own
owner name. What ran is recorded in a ``_migrations`` table (owner, name,
applied_at), so a plugin installed later gets its tables on the next open,
and a plugin removed or disabled later leaves its tables and records behind
untouched (nothing fails: unknown records are simply not ours to judge).

The device store uses this module (the authority server's database is
versioned with Alembic instead, and adopts an old ``_migrations`` ledger;
its code still borrows :func:`columns`, :func:`has_table`, :func:`split_statements`
and :class:`MigrationError` from here).
All pending steps run in one ``BEGIN IMMEDIATE`` transaction with their
records, so a database is never left half migrated, and a step that fails
leaves it exactly as it was.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ..i18n import _

CORE = "core"
TABLE = "_migrations"

Step = Union[str, Callable[[Any], None]]


class MigrationError(ValueError):
    """A contributed migration is malformed or failed; the database is unchanged.
    (A ValueError, so commands that refuse bad deployments say it in one line.)"""


class UnknownCoreMigration(MigrationError):
    """The database was migrated by a newer Bluezone (a core step this code lacks)."""

    def __init__(self, names: list[str]):
        super().__init__(str(_("made by a newer Bluezone (core migrations unknown here: {names}); left as it is: "
                                "upgrade Bluezone", names=", ".join(names))))
        self.names = names


@dataclass(frozen=True)
class Migration:
    """One named step. ``step`` is SQL (one or more statements) or a function
    given a connection-like object with ``execute`` and ``executescript``
    (the latter split into statements, so it never commits on its own)."""

    owner: str
    name: str
    step: Step

    @classmethod
    def of(cls, item: Any) -> "Migration":
        """Accept a :class:`Migration` or an ``(owner, name, step)`` tuple from a hook."""
        if isinstance(item, Migration):
            m = item
        elif isinstance(item, (tuple, list)) and len(item) == 3:
            m = cls(*item)
        else:
            raise MigrationError(f"a migration must be (owner, name, SQL-or-function), got {item!r}")
        for label, value in (("owner", m.owner), ("name", m.name)):
            if not isinstance(value, str) or not value.strip():
                raise MigrationError(f"a migration's {label} must be a non-empty string, got {value!r}")
        if not (isinstance(m.step, str) or callable(m.step)):
            raise MigrationError(f"migration {m.owner}/{m.name}: the step must be SQL text or a function")
        return m


def from_hook(results: Iterable[Any], hook: str) -> list[Migration]:
    """Plugins' migrations from a hook's results (lists of items).

    A plugin may not write under the core's owner name, and one (owner, name)
    may appear once: both would make "applied once" ambiguous."""
    out: list[Migration] = []
    for result in results:
        if result is None:
            continue
        for item in result:
            m = Migration.of(item)
            if m.owner == CORE:
                raise MigrationError(f"{hook}: the owner name {CORE!r} belongs to Bluezone itself; "
                                     f"use your plugin's name (migration {m.name!r})")
            out.append(m)
    return out


class _InTransaction:
    """What a function step sees: ``execute`` as usual, ``executescript`` split
    into single statements (sqlite3's own would COMMIT our transaction)."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.dialect = dialect(conn)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executescript(self, script: str) -> None:
        for statement in split_statements(script):
            self._conn.execute(statement)


def split_statements(script: str) -> list[str]:
    """One SQL text → its statements (the last one may omit the semicolon)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip() and sqlite3.complete_statement(buf + ";"):
        out.append(buf.strip())  # a last statement without its semicolon
    elif buf.strip():
        raise MigrationError(f"incomplete SQL statement in a migration: {buf.strip()[:80]!r}")
    return out


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (owner TEXT NOT NULL, name TEXT NOT NULL, "
                 "applied_at INTEGER NOT NULL, PRIMARY KEY (owner, name))")


def dialect(conn: Any) -> str:
    """"sqlite", or what a non-SQLite connection says it speaks (the authority
    server's PostgreSQL connections say "postgresql"): the few catalogue
    queries below differ, the migrations' own SQL does not."""
    return getattr(conn, "dialect", "sqlite")


def has_table(conn: sqlite3.Connection, table: str = TABLE) -> bool:
    if dialect(conn) == "postgresql":
        return bool(conn.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0])
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def columns(conn: Any, table: str) -> set[str]:
    """The column names of ``table`` (for steps that add a column only when missing)."""
    if dialect(conn) == "postgresql":
        return {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns"
                                           " WHERE table_schema = current_schema() AND table_name = ?", (table,))}
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def applied(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    """Every (owner, name) recorded, including those of plugins not installed now."""
    if not has_table(conn):
        return set()
    return {(o, n) for o, n in conn.execute(f"SELECT owner, name FROM {TABLE}")}


def check_core_known(conn: sqlite3.Connection, core: Sequence[Migration]) -> None:
    """Refuse a database carrying core steps this code does not know (made by a
    newer Bluezone): its tables may mean something we would misread. Reads only."""
    known = {m.name for m in core}
    unknown = sorted(n for o, n in applied(conn) if o == CORE and n not in known)
    if unknown:
        raise UnknownCoreMigration(unknown)


def check_unique(migrations: Sequence[Migration]) -> None:
    seen: set[tuple[str, str]] = set()
    for m in migrations:
        if (m.owner, m.name) in seen:
            raise MigrationError(f"migration {m.owner}/{m.name} is contributed twice")
        seen.add((m.owner, m.name))


def record(conn: sqlite3.Connection, owner: str, name: str, now: int) -> None:
    conn.execute(f"INSERT INTO {TABLE} (owner, name, applied_at) VALUES (?, ?, ?)", (owner, name, now))


def apply_pending(conn: sqlite3.Connection, migrations: Sequence[Migration], *,
                  now: int | None = None) -> list[tuple[str, str]]:
    """Run every migration not yet recorded, in the given order, inside the
    caller's transaction; returns the (owner, name) pairs applied.

    A failing step raises :class:`MigrationError` naming it; the caller rolls
    back, so neither the step's changes nor its record remain."""
    check_unique(migrations)
    ensure_table(conn)
    done = applied(conn)
    stamp = int(time.time()) if now is None else now
    ran: list[tuple[str, str]] = []
    for m in migrations:
        if (m.owner, m.name) in done:
            continue
        try:
            if isinstance(m.step, str):
                for statement in split_statements(m.step):
                    conn.execute(statement)
            else:
                m.step(_InTransaction(conn))
        except MigrationError:
            raise
        except Exception as e:
            raise MigrationError(f"migration {m.owner}/{m.name} failed: {e}; nothing was changed") from e
        record(conn, m.owner, m.name, stamp)
        ran.append((m.owner, m.name))
    return ran


def in_order(core: Sequence[Migration], contributed: Sequence[Migration]) -> list[Migration]:
    """Core steps first (plugins' tables may refer to them), then each owner's
    steps in the order that owner gave them, owners sorted for a stable run."""
    by_owner: dict[str, list[Migration]] = {}
    for m in contributed:
        by_owner.setdefault(m.owner, []).append(m)
    return [*core, *(m for owner in sorted(by_owner) for m in by_owner[owner])]


def contributed(pm: Any, hook: str) -> list[Migration]:
    """The migrations plugins contribute through ``hook`` (sync only)."""
    if pm is None:
        return []
    caller = getattr(pm.hook, hook, None)
    if caller is None:
        return []
    return from_hook(caller(), hook)
