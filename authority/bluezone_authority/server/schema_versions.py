"""Versioned schemas on Alembic: bring a database to every head, in one
transaction, under a lock held across processes.

Why this module and not Alembic's command line: the server migrates itself
on start (``ServerDB``) and from ``bluezone authority db current|upgrade``,
on SQLite and PostgreSQL alike, with revisions that come from two places:
the schema's own (``script_location``, branch ``core``) and those of the
installed plugins (each a folder of revision files on its own branch,
labelled with the plugin's name). :func:`upgrade` and :func:`status` take a
:class:`~.database.Database` and the locations, so a second schema (the
federation gateway's store, say) can use them with its own
``script_location`` and version table.

What :func:`upgrade` guarantees:

* Every pending revision runs in ONE transaction on a connection of its own
  (SQLAlchemy is only Alembic's connection layer here): PostgreSQL's DDL is
  transactional; SQLite's is too once pysqlite stops committing on its own
  (SQLAlchemy's documented recipe: ``isolation_level=None`` on connect and
  our own ``BEGIN IMMEDIATE`` on begin). A failing revision leaves the
  database exactly as it was.
* The lock ``migrate`` is the same one :meth:`~.database.Database.exclusive`
  takes (SQLite: ``flock`` on ``<db>.migrate.lock``; PostgreSQL: the advisory
  transaction lock of that name), so two workers starting together migrate
  once; the second finds nothing to do.
* A database carrying a revision of this schema that the code lacks (made by
  a newer version) is refused unchanged. Revisions of plugins that are not
  installed now are kept as they are (their tables too) and reported, not
  judged: Alembic would refuse an unknown row, so they are set aside for the
  run and written back in the same transaction.

How a revision's owner is told from its id (the version table holds ids
only): the base schema's ids begin with a digit (``001_schema``), a
plugin's with its branch label and ``_`` (``qr_checkin_001_venue_paper_log``).
:func:`load` checks both, and that an id fits ``alembic_version``'s 32
characters (PostgreSQL enforces them).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluezone.i18n import _
from bluezone.store.named_migrations import MigrationError, UnknownCoreMigration

from .database import POSTGRESQL, Database, SQLiteDatabase, lock_key

VERSION_TABLE = "alembic_version"
#: ``alembic_version.version_num`` is ``VARCHAR(32)``.
MAX_ID = 32
LOCK = "migrate"


@dataclass(frozen=True)
class Revision:
    """One revision: its branch (label) and id, shown as ``branch/id``."""

    branch: str
    id: str

    def __str__(self) -> str:
        return f"{self.branch}/{self.id}"


@dataclass(frozen=True)
class Status:
    """What a database holds and what :func:`upgrade` would do to it."""

    heads: list[Revision]  # recorded in the version table (known to this code)
    applied: list[Revision]  # the heads and everything below them, base first
    pending: list[Revision]  # what upgrade would run, base first
    absent: list[str]  # recorded by plugins not installed now (left alone)


#: ``adopt(connection, scripts)``: run first in the migrating transaction (the
#: server's: turn an older ``_migrations`` ledger into version rows).
Adopt = Callable[[Any, "Scripts"], None]


@dataclass
class Scripts:
    """One schema's revisions, loaded and checked: the Alembic config and
    script directory, and which branch each revision id is on."""

    config: Any  # alembic.config.Config
    directory: Any  # alembic.script.ScriptDirectory
    base_label: str
    branch_of: dict[str, str]
    plugin_labels: set[str]
    paths: dict[str, str]  # revision file (resolved) -> revision id
    version_table: str

    def revision(self, rev_id: str) -> Revision:
        return Revision(self.branch_of[rev_id], rev_id)

    def ancestors(self, rev_id: str) -> set[str]:
        """``rev_id`` and every revision it needs (down revisions and dependencies)."""
        return {r.revision for r in self.directory.iterate_revisions(rev_id, "base")}

    def in_order(self) -> list[str]:
        """Every revision, base first (each after those it needs)."""
        return [r.revision for r in reversed(list(self.directory.walk_revisions()))]


def _one_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _set(config: Any, key: str, value: str) -> None:
    config.set_main_option(key, value.replace("%", "%%"))  # configparser interpolation


def load(script_location: str | os.PathLike[str], extra_locations: Sequence[str | os.PathLike[str]] = (), *,
         base_label: str = "core", version_table: str = VERSION_TABLE) -> Scripts:
    """Configure Alembic in code (no ``alembic.ini``) and check every revision:
    the base's on ``base_label`` with ids beginning with a digit, each extra
    location's on a label of its own, ids beginning with that label and ``_``,
    none longer than :data:`MAX_ID`. A malformed set raises
    :class:`MigrationError` naming the file."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    base_dir = Path(script_location) / "versions"
    extra = [Path(p) for p in extra_locations]
    for where in extra:
        if not where.is_dir():
            raise MigrationError(str(_("{location} is not a folder of revision files", location=str(where))))
    config = Config()
    _set(config, "script_location", str(script_location))
    _set(config, "path_separator", "os")
    _set(config, "version_locations", os.pathsep.join(str(p) for p in [base_dir, *extra]))
    config.attributes["version_table"] = version_table
    directory = ScriptDirectory.from_config(config)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Alembic only warns of a revision id present twice
            revisions = list(directory.walk_revisions())
    except Exception as e:  # CommandError, a file that fails to import, a duplicate id
        raise MigrationError(str(_("the schema's revisions cannot be read: {error}", error=_one_line(e)))) from e
    branch_of: dict[str, str] = {}
    paths: dict[str, str] = {}
    plugin_labels: set[str] = set()
    resolved_base = base_dir.resolve()
    for rev in revisions:
        labels = set(rev.branch_labels)
        in_base = Path(rev.path).resolve().parent == resolved_base
        if in_base:
            ok = base_label in labels and rev.revision[:1].isdigit()
            branch = base_label
        else:
            own = sorted(label for label in labels if label != base_label and label[:1].isalpha())
            ok = base_label not in labels and len(own) == 1 and rev.revision.startswith(own[0] + "_")
            branch = own[0] if own else "?"
            plugin_labels.update(own)
        if not ok:
            raise MigrationError(str(_(
                "revision {revision} ({path}): a plugin's revisions are on a branch labelled with the plugin's "
                "name, and their ids begin with that name and '_'; the core's ids begin with a digit",
                revision=rev.revision, path=rev.path)))
        if len(rev.revision) > MAX_ID:
            raise MigrationError(str(_("revision {revision} ({path}): an id has at most {n} characters",
                                       revision=rev.revision, path=rev.path, n=MAX_ID)))
        branch_of[rev.revision] = branch
        paths[str(Path(rev.path).resolve())] = rev.revision
    return Scripts(config, directory, base_label, branch_of, plugin_labels, paths, version_table)


def _engine(backend: Database) -> Any:
    """A SQLAlchemy engine on ``backend``'s database, one connection per use (no pool)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    location = backend.target.location
    if backend.kind == POSTGRESQL:
        import psycopg

        # libpq parses the URL, as for the server's own pool (host=/socket, sslmode, ...)
        return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(location, connect_timeout=10),
                             poolclass=NullPool)

    def connect() -> sqlite3.Connection:
        # isolation_level=None: pysqlite neither BEGINs on its own nor COMMITs before DDL
        conn = sqlite3.connect(location, isolation_level=None, timeout=30)
        for pragma in ("secure_delete=ON", "synchronous=FULL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)

    @event.listens_for(engine, "begin")
    def begin(conn: Any) -> None:  # SQLAlchemy's transaction is SQLite's: DDL and all
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextlib.contextmanager
def _migrating(backend: Database, lock: str, *, commit: bool) -> Iterator[Any]:
    """A SQLAlchemy connection in one transaction holding ``lock``; it commits
    when the block ends (``commit=False``: it rolls back, for reading)."""
    from sqlalchemy import text

    engine = _engine(backend)
    try:
        with contextlib.ExitStack() as stack:
            if isinstance(backend, SQLiteDatabase):
                stack.enter_context(backend.file_lock(lock))
            conn = stack.enter_context(engine.connect())
            transaction = conn.begin()
            try:
                if backend.kind == POSTGRESQL:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(lock)})
                yield conn
            except BaseException:
                transaction.rollback()
                raise
            if commit:
                transaction.commit()
            else:
                transaction.rollback()
    finally:
        engine.dispose()


def version_rows(conn: Any, table: str) -> list[str]:
    """The revision ids recorded in ``table`` (none when it does not exist)."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table(table):
        return []
    return [r[0] for r in conn.execute(text(f'SELECT version_num FROM "{table}"'))]


def _set_aside(conn: Any, scripts: Scripts, adopt: Adopt | None) -> list[str]:
    """Adopt an older ledger, refuse a newer database, and return the rows of
    plugins not installed now (Alembic cannot read them; kept by the caller)."""
    if adopt is not None:
        adopt(conn, scripts)
    unknown = [r for r in version_rows(conn, scripts.version_table) if r not in scripts.branch_of]
    newer_base = sorted(r for r in unknown if r[:1].isdigit())
    if newer_base:
        raise UnknownCoreMigration(newer_base)
    for label in sorted(scripts.plugin_labels):
        newer = sorted(r for r in unknown if r.startswith(label + "_"))
        if newer:
            raise MigrationError(str(_("made by a newer version of the plugin {plugin} (revisions unknown here: "
                                       "{names}); left as it is: upgrade the plugin", plugin=label,
                                       names=", ".join(newer))))
    return unknown


def _failing(scripts: Scripts, e: BaseException) -> str | None:
    """The revision whose file raised ``e`` (the innermost revision frame)."""
    found = None
    for frame in traceback.extract_tb(e.__traceback__):
        found = scripts.paths.get(str(Path(frame.filename).resolve()), found)
    return found


def upgrade(backend: Database, script_location: str | os.PathLike[str],
            extra_locations: Sequence[str | os.PathLike[str]] = (), *, base_label: str = "core",
            version_table: str = VERSION_TABLE, lock: str = LOCK, adopt: Adopt | None = None) -> list[Revision]:
    """Bring ``backend``'s database to every head (the base schema's and each
    extra location's), all in one transaction under ``lock``; returns the
    revisions applied, in order. Raises :class:`MigrationError` (a
    ``ValueError``, one line) with the database unchanged."""
    from alembic import command
    from sqlalchemy import text

    scripts = load(script_location, extra_locations, base_label=base_label, version_table=version_table)
    with _migrating(backend, lock, commit=True) as conn:
        absent = _set_aside(conn, scripts, adopt)
        for rev_id in absent:
            conn.execute(text(f'DELETE FROM "{version_table}" WHERE version_num = :v'), {"v": rev_id})
        scripts.config.attributes.update(connection=conn, applied=[])
        try:
            command.upgrade(scripts.config, "heads")
        except MigrationError:
            raise
        except Exception as e:
            failing = _failing(scripts, e)
            raise MigrationError(str(_("revision {revision} failed: {error}; nothing was changed",
                                       revision=str(scripts.revision(failing)) if failing else "?",
                                       error=_one_line(e)))) from e
        for rev_id in absent:
            conn.execute(text(f'INSERT INTO "{version_table}" (version_num) VALUES (:v)'), {"v": rev_id})
        return [scripts.revision(r) for r in scripts.config.attributes["applied"]]


def status(backend: Database, script_location: str | os.PathLike[str],
           extra_locations: Sequence[str | os.PathLike[str]] = (), *, base_label: str = "core",
           version_table: str = VERSION_TABLE, lock: str = LOCK, adopt: Adopt | None = None) -> Status:
    """What :func:`upgrade` would find and do, read in a transaction that is
    rolled back (an older ledger is adopted only in that transaction): the
    database is left as it was."""
    scripts = load(script_location, extra_locations, base_label=base_label, version_table=version_table)
    with _migrating(backend, lock, commit=False) as conn:
        absent = _set_aside(conn, scripts, adopt)
        heads = sorted((r for r in version_rows(conn, version_table) if r in scripts.branch_of),
                       key=lambda r: (scripts.branch_of[r] != base_label, scripts.branch_of[r], r))  # core first
    done: set[str] = set()
    for head in heads:
        done |= scripts.ancestors(head)
    order = scripts.in_order()
    return Status(heads=[scripts.revision(r) for r in heads],
                  applied=[scripts.revision(r) for r in order if r in done],
                  pending=[scripts.revision(r) for r in order if r not in done], absent=sorted(absent))


def run_env(context: Any) -> None:
    """The body of ``env.py``: migrate on the connection :func:`upgrade` handed
    over, inside its transaction, recording which revisions ran."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise MigrationError(str(_("the server database is migrated by the server itself or by "
                                   "'bluezone authority db upgrade', not by the alembic command")))
    applied = config.attributes.setdefault("applied", [])

    def record(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        if step.is_upgrade:
            applied.extend(step.up_revision_ids)

    context.configure(connection=connection, version_table=config.attributes.get("version_table", VERSION_TABLE),
                      transactional_ddl=True, on_version_apply=record)
    with context.begin_transaction():  # part of the caller's transaction (Alembic sees it is open)
        context.run_migrations()


def plugin_locations(pm: Any, hook: str) -> list[Path]:
    """The revision folders plugins contribute through ``hook`` (sync; each
    plugin returns a list of paths)."""
    if pm is None:
        return []
    caller = getattr(pm.hook, hook, None)
    if caller is None:
        return []
    out: list[Path] = []
    for result in caller():
        for item in result or ():
            if not isinstance(item, (str, os.PathLike)):
                raise MigrationError(str(_("{hook}: return folders of revision files (paths), got {item}", hook=hook,
                                           item=repr(item)[:80])))
            out.append(Path(item))
    return out
