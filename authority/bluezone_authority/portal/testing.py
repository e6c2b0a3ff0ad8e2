"""Test helpers: the authority server with the portal mounted, on 127.0.0.1,
with a settable clock, and a small cookie-keeping form client.

Used by tests/test_portal*.py; not used in production code.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from bluezone.config import Config, load_config

from ..server import AuthorityServer, create_app
from ..server.testing import Clock
from .users import add_user

PASSWORD = "correct horse battery staple"

CONFIG = """
[deployment]
name = "Portal test"
region = "452"
languages = {languages}

[authority]
url = "http://127.0.0.1:1"

[server]
database = "server.db"
export_dir = "exports"
secrets_file = "server.secrets"
recursive_reports = {recursive}
min_batch_keys = 0
"""


def write_config(folder: Path, *, recursive: bool = True, extra: str = "",
                 languages: tuple[str, ...] = ("vi", "en")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deploy.toml"
    listed = "[" + ", ".join(f'"{lang}"' for lang in languages) + "]"
    path.write_text(CONFIG.format(recursive=str(recursive).lower(), languages=listed) + extra)
    return path


@dataclass
class Running:
    server: AuthorityServer
    http: TestServer
    clock: Clock
    config: Config

    @property
    def url(self) -> str:
        return str(self.http.make_url("")).rstrip("/")

    def client(self) -> "PortalClient":
        return PortalClient(self.url)


async def start(tmp: Path, *, recursive: bool = True, extra: str = "",
                users: tuple[tuple[str, str], ...] = (("admin", "admin"),),
                languages: tuple[str, ...] = ("vi", "en")) -> Running:
    """A server with the portal and one account per ``(username, role)``, password :data:`PASSWORD`.
    Loading the deployment file makes ``languages`` the process's languages."""
    config = load_config(write_config(tmp, recursive=recursive, extra=extra, languages=languages))
    clock = Clock()
    server = AuthorityServer.from_config(config, clock=clock)
    for username, role in users:
        add_user(server.db, username, username.title(), role, PASSWORD, server.now(), server.roles)
    http = TestServer(create_app(server, config=config, background=False), host="127.0.0.1")
    await http.start_server()
    return Running(server, http, clock, config)


CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Page:
    status: int
    text: str
    url: str
    headers: Any

    def csrf(self) -> str:
        m = CSRF.search(self.text)
        assert m, "no CSRF field on the page"
        return html.unescape(m.group(1))

    def by_id(self, ident: str) -> str:
        m = re.search(rf'id="{re.escape(ident)}"[^>]*>([^<]*)<', self.text)
        assert m, f"no element #{ident}"
        return html.unescape(m.group(1)).strip()


class PortalClient:
    """A form-posting client with its own cookie jar (as a browser tab would be)."""

    def __init__(self, base: str):
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> "PortalClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def get(self, path: str, **kw: Any) -> Page:
        async with self.session.get(self.base + path, **kw) as r:
            return Page(r.status, await r.text(), str(r.url), r.headers)

    async def post(self, path: str, data: dict[str, str], **kw: Any) -> Page:
        async with self.session.post(self.base + path, data=data, **kw) as r:
            return Page(r.status, await r.text(), str(r.url), r.headers)

    async def submit(self, form_path: str, action: str, data: dict[str, str], **kw: Any) -> Page:
        """GET the page with the form, then POST ``data`` with its CSRF token."""
        page = await self.get(form_path)
        return await self.post(action, {**data, "csrf": page.csrf()}, **kw)

    async def login(self, username: str = "admin", password: str = PASSWORD) -> Page:
        return await self.submit("/portal/login", "/portal/login", {"username": username, "password": password})

    def cookie(self, name: str) -> str | None:
        for c in self.session.cookie_jar:
            if c.key == name:
                return c.value
        return None
