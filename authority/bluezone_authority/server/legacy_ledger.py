"""Adopting a server database from before Alembic: its ``_migrations``
ledger (named steps, :mod:`bluezone.store.named_migrations`) becomes rows of
``alembic_version``, then the ledger is dropped, in the migrating transaction.

Why it is safe: each named step was ported to one revision with the id
``NAME`` (the core's: ``001_schema`` … ``005_federation``) or ``OWNER_NAME``
(a plugin's: ``qr_checkin_001_venue_paper_log``), so the ledger says exactly
which revisions a database already has; the latest of each owner becomes
that branch's head and nothing is run twice. Rows of data are not touched.

A step this code has no revision for stays visible instead of being lost:
one of the core's, or of an installed plugin's, is written as it is and the
database is then refused as newer (the transaction rolls back, the ledger is
kept); a plugin that is not installed keeps its latest step as its head, so
its revisions continue from there once it is installed again.
"""

from __future__ import annotations

from typing import Any

from .schema_versions import MAX_ID, Scripts, version_rows

TABLE = "_migrations"
CORE = "core"


def revision_id(owner: str, name: str) -> str:
    """The revision a named step became."""
    return name if owner == CORE else f"{owner}_{name}"


def heads(scripts: Scripts, ledger: list[tuple[str, str, int]]) -> list[str]:
    """The version rows the ledger's ``(owner, name, applied_at)`` rows stand for."""
    by_owner: dict[str, list[tuple[int, str]]] = {}
    for owner, name, applied_at in ledger:
        by_owner.setdefault(owner, []).append((applied_at, revision_id(owner, name)))
    out: list[str] = []
    for owner, steps in sorted(by_owner.items()):
        ids = [rev for _, rev in sorted(steps)]
        known = [rev for rev in ids if rev in scripts.branch_of]
        below = set().union(*(scripts.ancestors(rev) - {rev} for rev in known))
        out += [rev for rev in known if rev not in below]
        unknown = [rev for rev in ids if rev not in scripts.branch_of]
        if owner == CORE or owner in scripts.plugin_labels:
            out += unknown  # a newer version's: refused by the caller, ledger kept
        elif unknown and len(unknown[-1]) <= MAX_ID:  # longer: no revision can carry that id
            out.append(unknown[-1])  # a plugin not installed now: its latest step
    return out


def adopt(conn: Any, scripts: Scripts) -> None:
    """Turn ``_migrations`` into version rows and drop it (``conn``: the
    migrating SQLAlchemy connection, inside its transaction). A database
    that already has version rows keeps a stray ledger untouched."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table(TABLE) or version_rows(conn, scripts.version_table):
        return
    ledger = [(r[0], r[1], int(r[2])) for r in conn.execute(text(f"SELECT owner, name, applied_at FROM {TABLE}"))]
    table = scripts.version_table
    # the table Alembic itself creates
    conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{table}" (version_num VARCHAR(32) NOT NULL, '
                      f'CONSTRAINT "{table}_pkc" PRIMARY KEY (version_num))'))
    for rev in heads(scripts, ledger):
        conn.execute(text(f'INSERT INTO "{table}" (version_num) VALUES (:v)'), {"v": rev})
    conn.execute(text(f"DROP TABLE {TABLE}"))
