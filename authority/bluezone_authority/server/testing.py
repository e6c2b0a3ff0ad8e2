"""Test helpers: a real authority server on 127.0.0.1 with a settable clock.

Used by this project's tests and by plugins' tests (check-in, declarations)
that need a running server. Not used in production code.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp.test_utils import TestServer

from bluezone.models import INTERVALS_PER_DAY, ExposureKey, day_start_interval
from bluezone_authority.server import AuthorityServer, ServerSettings, create_app

NOW = 1_780_000_000  # a fixed "now" (2026-05-28), so day arithmetic is deterministic
#: Set by the ``server_database`` test fixture to a PostgreSQL URL: settings_for then uses it.
DATABASE: str | None = None


class Clock:
    def __init__(self, t: float = NOW):
        self.t = t

    def __call__(self) -> float:
        return self.t


def settings_for(tmp: Path, **kw) -> ServerSettings:
    # answer_floor_ms=0: tests never measure time (benchmarks/bench_cover.py does), so the
    # production floor would only make every device request of every test slower
    base = ServerSettings(database=DATABASE or tmp / "server.db", export_dir=tmp / "exports", secrets_file=tmp / "secrets.json",
                          recursive_reports=True, answer_floor_ms=0)
    return replace(base, **kw)


def past_keys(days: int, now: int = NOW) -> list[ExposureKey]:
    """One full-day key for each of the ``days`` days before today."""
    today = day_start_interval(now)
    return [ExposureKey(secrets.token_bytes(16), today - d * INTERVALS_PER_DAY, INTERVALS_PER_DAY)
            for d in range(1, days + 1)]


@dataclass
class Running:
    server: AuthorityServer
    http: TestServer
    clock: Clock
    admin_token: str

    @property
    def url(self) -> str:
        return str(self.http.make_url("")).rstrip("/")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}


async def start(tmp: Path, **kw) -> Running:
    clock = Clock()
    server = AuthorityServer(settings_for(tmp, **kw), clock=clock)
    _, token = server.create_staff_token("test admin", "admin")
    http = TestServer(create_app(server, background=False), host="127.0.0.1")
    await http.start_server()
    return Running(server, http, clock, token)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


#: Bookkeeping tables of the schema's versions, not part of the schema itself.
VERSION_TABLES = ("_migrations", "alembic_version")


def describe_schema(location: str | Path) -> list[str]:
    """The database's schema as sorted lines (tables, columns, types,
    defaults, keys, indexes; not the version bookkeeping), for comparing two
    ways of building it (tests/data/server_schema_005)."""
    from .database import open_database

    skip = VERSION_TABLES
    with open_database(location) as db:
        if db.kind == "sqlite":
            rows = [(t, n, tbl, " ".join(sql.split())) for t, n, tbl, sql in  # one line each
                    db.all("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master")]
            return sorted(" | ".join(str(v) for v in r) for r in rows if r[2] not in skip)
        columns = db.all("SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')"
                         " FROM information_schema.columns WHERE table_schema = current_schema()")
        indexes = db.all("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        constraints = db.all("SELECT table_name, constraint_name, constraint_type FROM"
                             " information_schema.table_constraints WHERE table_schema = current_schema()"
                             " AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')")
        return sorted([" | ".join(["column", *map(str, r)]) for r in columns if r[0] not in skip]
                      + [" | ".join(["index", *map(str, r)]) for r in indexes if r[0] not in skip]
                      + [" | ".join(["constraint", *map(str, r)]) for r in constraints if r[0] not in skip])
