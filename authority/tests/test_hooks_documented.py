"""The examples in docs/hooks.md of the hooks only the authority calls (server
routes and migrations, staff roles, portal pages, menu links, dashboard
counters) run against the real server and portal code: each example is
executed as a plugin module, registered through the same manager as real
plugins, and its effect checked. The core's hooks: tests/test_hooks_documented.py."""

from __future__ import annotations

import inspect
import types
from pathlib import Path
from typing import Any, Callable

import pytest

from bluezone import hookspecs
from bluezone.config import config_from_dict
from bluezone.matching.fixtures import deployment, new_signing_key
from bluezone.testing import documented_example, load_documented_example
from bluezone.plugins import BluezonePluginManager

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"

AUTHORITY_SIDE = {"bluezone_server_routes", "bluezone_server_migrations", "bluezone_server_retention",
                  "bluezone_staff_roles",
                  "bluezone_portal_pages", "bluezone_portal_menu_links", "bluezone_dashboard_counters"}


def example(hook: str) -> str:
    return documented_example(DOCS, hook)


def load_example(hook: str) -> tuple[types.ModuleType, BluezonePluginManager]:
    """The example as a module, registered alone on a real plugin manager."""
    return load_documented_example(DOCS, hook)


@pytest.fixture
def config():
    _, pem = new_signing_key()
    return config_from_dict(deployment(pem))


async def check_server_routes(pm, module, config, tmp_path):
    import aiohttp
    from aiohttp.test_utils import TestServer

    from bluezone_authority.server import AuthorityServer, create_app
    from bluezone_authority.server.testing import settings_for

    config.pm.register(module, "hello-example")
    server = AuthorityServer(settings_for(tmp_path))
    _, token = server.create_staff_token("test admin", "admin")
    http = TestServer(create_app(server, config=config, background=False), host="127.0.0.1")
    await http.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            url = str(http.make_url("/v1/hello"))
            async with session.post(url, json={"name": "Pleiku"},
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200 and await r.json() == {"hello": "Pleiku"}
            async with session.post(url, json={}, headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "missing_name"
            async with session.post(url, json={"name": "x"}) as r:
                assert r.status == 401
    finally:
        await http.close()


def documented_revision(hook: str) -> tuple[str, str]:
    """The revision file shown under ``hook`` (a block opened as ```python NAME.py)."""
    import re

    [(name, source)] = re.findall(r"```python (\S+\.py)\n(.*?)```", DOCS.read_text().split(f"## {hook}\n")[1]
                                  .split("\n## ")[0], flags=re.S)
    return name, source


def check_server_migrations(pm, module, config, tmp_path):
    from bluezone_authority.server.db import ServerDB

    name, source = documented_revision("bluezone_server_migrations")
    (tmp_path / "server_migrations").mkdir()
    (tmp_path / "server_migrations" / name).write_text(source)
    module.__file__ = str(tmp_path / "plugin.py")  # the example names the folder beside its module
    db = ServerDB(tmp_path / "server.db", plugins=pm)
    assert "sms_alerts/sms_alerts_001_receipts" in [str(r) for r in db.migrations_applied]
    with db.transaction() as c:
        c.execute("INSERT INTO sms_receipts (id, received_hour) VALUES ('r1', 0)")
    assert ("sms_alerts_001_receipts",) in db.all("SELECT version_num FROM alembic_version")
    db.close()


def check_server_retention(pm, module, config, tmp_path):
    from bluezone_authority.server import AuthorityServer
    from bluezone_authority.server.testing import settings_for

    config.pm.register(module, "sms-retention-example")
    clock = [2_000_000_000]
    server = AuthorityServer(settings_for(tmp_path), config=config, clock=lambda: clock[0])
    with server.db.transaction() as c:
        c.execute("CREATE TABLE sms_receipts (id TEXT PRIMARY KEY, received_hour INTEGER NOT NULL)")
        c.execute("INSERT INTO sms_receipts VALUES ('old', ?), ('new', ?)", (clock[0] - 15 * 86400, clock[0]))
    assert server.purge()["sms_receipts"] == 1  # the server's own retention ran the plugin's
    assert server.db.all("SELECT id FROM sms_receipts") == [("new",)]
    server.close()


def check_staff_roles(pm, module, config, tmp_path):
    from bluezone_authority.server.staff import known_roles, roles_for_purpose

    roles = known_roles(pm)
    assert {"admin", "case-officer", "declarations", "sms-officer"} <= set(roles)
    assert roles["sms-officer"].label == "SMS officer"
    assert roles_for_purpose(roles, "sms-resend") == ("admin", "sms-officer")  # admin may do everything


def check_portal_pages(pm, module, config, tmp_path):
    from bluezone_authority.portal.extensions import ExtensionError, collect

    [page] = collect(pm, core_menu=[]).pages
    assert page.name == "sms" and [(m, p) for m, p, _ in page.routes] == [("GET", "/sms")]
    assert page.templates is not None and page.templates.name == "templates"
    pm.register(types.SimpleNamespace(bluezone_portal_pages=module.bluezone_portal_pages), "sms-copy")
    with pytest.raises(ExtensionError, match="sms"):
        collect(pm, core_menu=[])  # two plugins claiming one template namespace stop the server


def check_portal_menu_links(pm, module, config, tmp_path):
    from bluezone_authority.portal.extensions import collect

    from bluezone.i18n import text

    [link] = collect(pm, core_menu=["dashboard"]).menu
    assert (link.key, link.path, link.label, link.role) == ("sms", "/sms", "Messages waiting", "sms-officer")
    assert text(link.label, "en") == "Messages waiting"  # a msgid: shown through the catalogue


def check_dashboard_counters(pm, module, config, tmp_path):
    from bluezone_authority.portal.extensions import collect
    from bluezone_authority.server.db import ServerDB

    [counter] = collect(pm, core_menu=[]).counters
    assert counter.label == "SMS receipts"
    db = ServerDB(tmp_path / "server.db")
    with db.transaction() as c:
        c.execute("CREATE TABLE sms_receipts (id TEXT PRIMARY KEY, received_hour INTEGER NOT NULL)")
        c.executemany("INSERT INTO sms_receipts VALUES (?, ?)", [("a", 86400 * 3), ("b", 86400 * 3 + 3600),
                                                                ("c", 86400 * 4), ("d", 0)])
    assert counter.key == "sms-receipts"
    assert sorted(tuple(r) for r in counter.daily(db, 86400)) == [(3, 2), (4, 1)]
    db.close()


CHECKS: dict[str, Callable[..., Any]] = {
    name.removeprefix("check_"): value for name, value in dict(globals()).items() if name.startswith("check_")
}


def test_the_authority_side_hooks_exist_and_each_has_a_check():
    assert AUTHORITY_SIDE <= {n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction)}
    assert {f"bluezone_{n}" for n in CHECKS} == AUTHORITY_SIDE


@pytest.mark.parametrize("hook", sorted(AUTHORITY_SIDE))
async def test_documented_example_runs(hook, config, tmp_path):
    module, pm = load_example(hook)
    result = CHECKS[hook.removeprefix("bluezone_")](pm, module, config, tmp_path)
    if inspect.isawaitable(result):
        await result
