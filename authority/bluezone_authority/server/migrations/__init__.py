"""The server database's Alembic environment: ``env.py``, the revision
template and ``versions/`` (the core's revisions, branch ``core``).

Why a package: the revisions ship inside ``bluezone_authority`` and are found
from here (:data:`LOCATION`), so an operator needs no ``alembic.ini`` and no
path of their own; :mod:`..schema_versions` configures Alembic in code.

Revision files (the core's and plugins') write the server's one SQL dialect,
the same as every other query in :mod:`..database`: ``?`` placeholders and
``INTEGER``/``TEXT``/``BLOB`` columns, which PostgreSQL receives as
``BIGINT``/``TEXT``/``BYTEA``. :func:`connection` gives a revision that
dialect on the migrating connection (inside its one transaction).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluezone.store import named_migrations

#: ``script_location`` of the server's schema (env.py, script.py.mako, versions/).
LOCATION = Path(__file__).parent
#: The core's revisions (a version location of their own, beside the plugins').
VERSIONS = LOCATION / "versions"


class RevisionConnection:
    """The migrating connection in the server's SQL dialect: ``execute(sql,
    params)`` with ``?`` placeholders, ``executescript`` (split into single
    statements: none of them commits), ``columns(table)``, and ``dialect``
    (``"sqlite"`` or ``"postgresql"``) where a statement truly differs."""

    def __init__(self, raw: Any, dialect: str):
        self.dialect = dialect
        if dialect == "postgresql":
            from ..database import PgConnection

            self._conn: Any = PgConnection(raw)
        else:
            self._conn = raw

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._conn.execute(sql, params)

    def executescript(self, script: str) -> None:
        for statement in named_migrations.split_statements(script):
            self._conn.execute(statement)

    def columns(self, table: str) -> set[str]:
        return named_migrations.columns(self, table)


def connection() -> RevisionConnection:
    """Inside a revision's ``upgrade()``: the connection Alembic migrates on,
    speaking the server's SQL (see the module docstring)."""
    from alembic import op

    bind = op.get_bind()
    raw = bind.connection.dbapi_connection
    return RevisionConnection(raw, "postgresql" if bind.dialect.name == "postgresql" else "sqlite")
