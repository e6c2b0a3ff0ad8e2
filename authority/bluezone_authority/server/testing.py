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
