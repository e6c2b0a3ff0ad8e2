"""A third-party plugin owns its server data and its portal UI through hooks.

The fixture distribution (real ``.dist-info`` metadata with a ``bluezone``
entry point, as tests/test_plugins.py installs one) contributes a device-store
migration, a server migration, a staff role, a portal page with its template
and words, a menu link and a dashboard counter. The tests open real SQLite
files and a real server on 127.0.0.1: the plugin's tables appear, are made
once, and a server database that has them opens fine once the plugin is
disabled; newer, malformed or failing migrations are refused with the file
left as it was. The device-store side (the phone's) is in the core's
tests/test_plugin_owned_store.py.
"""

from __future__ import annotations

import re
import sqlite3
import textwrap

import pytest

from bluezone.i18n import text
from bluezone.testing import install_plugin

from bluezone.plugins import make_plugin_manager
from bluezone_authority.portal.testing import PASSWORD, start
from bluezone_authority.portal.users import UserError, add_user
from bluezone_authority.server.db import ServerDB

OWNED = textwrap.dedent(
    '''
    from pathlib import Path

    from bluezone.hookspecs import hookimpl
    from bluezone.i18n import N_

    HERE = Path(__file__).parent


    def seed(conn):
        conn.executescript("INSERT INTO owned_notes (text) VALUES ('seeded once');")


    @hookimpl
    def bluezone_store_migrations():
        return [("owned_test", "001_notes",
                 "CREATE TABLE owned_notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"),
                ("owned_test", "002_seed", seed)]


    @hookimpl
    def bluezone_server_migrations():
        return [HERE / "server_migrations"]


    @hookimpl
    def bluezone_staff_roles():
        from bluezone_authority.server.staff import StaffRole

        return [StaffRole("auditor", N_("auditor"))]


    @hookimpl
    def bluezone_portal_pages():
        from bluezone_authority.portal.extensions import PortalPages, render, staff_page

        @staff_page("auditor")
        async def audit(request):
            return render(request, "owned/audit.html", active="audit")

        return [PortalPages("owned", routes=(("GET", "/audit", audit),), templates=HERE / "templates")]


    @hookimpl
    def bluezone_portal_menu_links():
        from bluezone_authority.portal.extensions import MenuLink

        return [MenuLink("audit", "/audit", N_("Audit book"), "auditor")]


    @hookimpl
    def bluezone_dashboard_counters():
        from bluezone_authority.portal.extensions import DashboardCounter

        def daily(db, since):
            return db.all("SELECT day, count(*) FROM owned_audit GROUP BY 1")

        return [DashboardCounter("audits", N_("Audits"), daily)]


    @hookimpl
    def bluezone_message_catalogues():
        from bluezone.i18n import MessageCatalogue

        return [MessageCatalogue("owned_test", HERE / "locale")]
    '''
)

#: the plugin's one server revision (no IF NOT EXISTS: running it twice would fail)
AUDIT_REVISION = textwrap.dedent(
    '''
    revision = "owned_test_001_audit"
    down_revision = None
    branch_labels = ("owned_test",)
    depends_on = "001_schema"


    def upgrade():
        from bluezone_authority.server.migrations import connection

        connection().execute("CREATE TABLE owned_audit (id INTEGER PRIMARY KEY, day INTEGER NOT NULL)")
    '''
)

TEMPLATE = """{% extends "base.html" %}
{% block title %}{{ _("Audit book") }}{% endblock %}
{% block main %}<h1 id="audit-h">{{ _("Audit book") }}</h1>{% endblock %}
"""
#: the plugin's own catalogue domain: its Vietnamese, compiled as `make messages` would
VIETNAMESE = {"auditor": "kiểm toán viên", "Audit book": "Sổ kiểm toán", "Audits": "Lượt kiểm toán"}

ENTRY = "owned-test"


@pytest.fixture
def owned(tmp_path, monkeypatch):
    """Install the fixture distribution on sys.path (found through its entry point)."""
    site = tmp_path / "site"
    package = install_plugin(site, "bz-owned-fixture", ENTRY, OWNED, files={
        "templates/audit.html": TEMPLATE, "server_migrations/owned_test_001_audit.py": AUDIT_REVISION})
    compile_mo(package / "locale" / "vi" / "LC_MESSAGES" / "owned_test.mo", VIETNAMESE)
    monkeypatch.syspath_prepend(str(site))
    return site


def compile_mo(path, entries: dict[str, str]) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale="vi", domain="owned_test")
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_mo(f, catalog)


def recorded(conn: sqlite3.Connection, prefix: str) -> list[str]:
    """The revisions recorded in alembic_version whose id begins with ``prefix``."""
    return [n for (n,) in conn.execute("SELECT version_num FROM alembic_version ORDER BY 1") if n.startswith(prefix)]


def tables(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


# --- server database ----------------------------------------------------------------------------


def test_a_plugins_server_migration_applies_once_and_survives_disabling(owned, tmp_path):
    path = tmp_path / "server.db"
    with ServerDB(path, plugins=make_plugin_manager()) as db:
        assert "owned_test/owned_test_001_audit" in [str(r) for r in db.migrations_applied]
        with db.transaction() as c:
            c.execute("INSERT INTO owned_audit (day) VALUES (1)")
    with ServerDB(path, plugins=make_plugin_manager(disabled=[ENTRY])) as db:
        assert db.migrations_applied == []
        assert db.one("SELECT count(*) FROM owned_audit")[0] == 1
        assert recorded(db.conn, "owned_test") == ["owned_test_001_audit"]  # kept while the plugin is away
    with ServerDB(path, plugins=make_plugin_manager()) as db:
        assert db.migrations_applied == []  # its CREATE TABLE did not run again
        assert recorded(db.conn, "owned_test") == ["owned_test_001_audit"]


def test_a_server_database_from_before_named_migrations_keeps_its_rows(tmp_path):
    path = tmp_path / "server.db"
    with ServerDB(path) as db:
        with db.transaction() as c:
            c.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE alembic_version")  # what the server wrote before: tables, no ledger at all
    conn.close()
    with ServerDB(path) as db:
        # the old tables are taken as they are; the core's revisions (idempotent) run on them
        assert [r.id for r in db.migrations_applied] == ["001_schema", "002_coarse_upload_times",
                                                         "003_key_revisions", "004_rate_windows", "005_federation"]
        assert db.get_meta("kept") == "yes"


# --- staff roles and the portal -----------------------------------------------------------------


async def test_a_plugins_page_menu_link_role_and_counter_in_a_real_portal(owned, tmp_path):
    r = await start(tmp_path / "srv", users=(("admin", "admin"), ("audra", "auditor"), ("officer", "case-officer")))
    try:
        # the role's label is the plugin's msgid, translated through the plugin's own catalogue domain
        assert "auditor" in r.server.roles and text(r.server.roles["auditor"].label, "vi") == "kiểm toán viên"
        with pytest.raises(UserError, match="unknown role 'nobody'"):
            add_user(r.server.db, "nobody", "No Body", "nobody", PASSWORD, r.server.now(), r.server.roles)
        with pytest.raises(ValueError, match="unknown role 'nobody'"):
            r.server.create_staff_token("x", "nobody")
        assert r.server.create_staff_token("desk", "auditor")[0].role == "auditor"
        with r.server.db.transaction() as c:
            c.execute("INSERT INTO owned_audit (day) VALUES (?)", (r.server.now() // 86400,))
        async with r.client() as c:
            await c.login("audra")
            home = await c.get("/portal/")
            assert 'href="/portal/audit"' in home.text and "kiểm toán viên" in home.text
            assert home.by_id("total-audits") == "1"
            page = await c.get("/portal/audit")
            assert page.status == 200 and page.by_id("audit-h") == "Sổ kiểm toán"
            assert 'href="/portal/audit" aria-current="page"' in page.text
            await c.get("/portal/lang/en?next=/portal/audit")
            assert (await c.get("/portal/audit")).by_id("audit-h") == "Audit book"
        async with r.client() as c:
            await c.login("officer")
            assert 'href="/portal/audit"' not in (await c.get("/portal/")).text
            assert (await c.get("/portal/audit")).status == 403
    finally:
        await r.http.close()


async def test_without_the_plugin_its_page_and_role_are_gone(owned, tmp_path):
    r = await start(tmp_path / "srv", extra=f'\n[plugins]\ndisabled = ["{ENTRY}"]\n')
    try:
        assert "auditor" not in r.server.roles
        with pytest.raises(ValueError, match="unknown role 'auditor'"):
            r.server.create_staff_token("desk", "auditor")
        async with r.client() as c:
            await c.login("admin")
            assert 'href="/portal/audit"' not in (await c.get("/portal/")).text
            assert (await c.get("/portal/audit")).status == 404
    finally:
        await r.http.close()


def test_token_create_refuses_an_unknown_role_in_one_line_and_knows_a_plugins(owned, tmp_path):
    """Through the real console script: the role list is the server's (the
    core's plus the installed plugins'), not a list fixed in the command."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from bluezone_authority.portal.testing import write_config

    cfg = str(write_config(tmp_path / "srv"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(owned), os.environ.get("PYTHONPATH", "")])}
    bluezone = str(Path(sys.executable).with_name("bluezone"))

    def token(role: str) -> subprocess.CompletedProcess:
        return subprocess.run([bluezone, "authority", "token", "create", "--config", cfg, "--name", "desk",
                               "--role", role], capture_output=True, text=True, timeout=60, env=env)

    bad = token("nobody")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "unknown role 'nobody'" in bad.stderr and "vai trò không hợp lệ" in bad.stderr and "auditor" in bad.stderr
    good = token("auditor")
    assert good.returncode == 0, good.stderr
    assert "auditor" in good.stdout.splitlines()[1]


def _route_clash(page):
    from bluezone_authority.portal.extensions import PortalPages

    return [PortalPages("clash", routes=(("GET", "/codes", page),))]


def _name_clash(page):
    from bluezone_authority.portal.extensions import PortalPages

    return [PortalPages("clash"), PortalPages("clash")]


@pytest.mark.parametrize("pages, fragment", [(_route_clash, "GET /codes"), (_name_clash, "'clash'")])
def test_a_plugin_page_that_clashes_with_the_core_stops_the_portal_with_its_name(tmp_path, pages, fragment):
    from bluezone.config import load_config
    from bluezone.hookspecs import hookimpl
    from bluezone.i18n import N_
    from bluezone_authority.portal.app import create_portal_app
    from bluezone_authority.portal.extensions import ExtensionError
    from bluezone_authority.portal.settings import PortalSettings
    from bluezone_authority.portal.testing import write_config
    from bluezone_authority.server import AuthorityServer

    async def page(request):  # pragma: no cover - never served
        raise AssertionError

    class Clash:
        @hookimpl
        def bluezone_portal_pages(self):
            return pages(page)

    config = load_config(write_config(tmp_path))
    config.pm.register(Clash(), name="clash")
    server = AuthorityServer.from_config(config)
    try:
        with pytest.raises(ExtensionError, match=re.escape(fragment)):
            create_portal_app(server, PortalSettings.from_config(config))
    finally:
        server.close()


def test_a_server_database_from_a_newer_bluezone_or_a_failing_plugin_step_is_refused_unchanged(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from bluezone.hookspecs import hookimpl
    from bluezone.i18n import N_
    from bluezone_authority.portal.testing import write_config

    revisions = tmp_path / "broken_revisions"
    revisions.mkdir()
    (revisions / "broken_001_ok.py").write_text(
        'revision = "broken_001_ok"\ndown_revision = None\nbranch_labels = ("broken",)\ndepends_on = None\n'
        "def upgrade():\n    from bluezone_authority.server.migrations import connection\n"
        '    connection().execute("CREATE TABLE broken_ok (x)")\n')
    (revisions / "broken_002_bad.py").write_text(
        'revision = "broken_002_bad"\ndown_revision = "broken_001_ok"\nbranch_labels = None\ndepends_on = None\n'
        "def upgrade():\n    from bluezone_authority.server.migrations import connection\n"
        '    connection().execute("CREATE TABLE (")\n')

    class Broken:
        @hookimpl
        def bluezone_server_migrations(self):
            return [revisions]

    path = tmp_path / "server.db"
    ServerDB(path).close()
    pm = make_plugin_manager()
    pm.register(Broken(), name="broken")
    with pytest.raises(ValueError, match="revision broken/broken_002_bad failed: .*nothing was changed"):
        ServerDB(path, plugins=pm)
    assert "broken_ok" not in tables(path)

    cfg = write_config(tmp_path / "srv")
    from bluezone.config import load_config
    from bluezone_authority.server import AuthorityServer

    database = AuthorityServer.from_config(load_config(cfg))
    db_path = database.settings.database
    database.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("INSERT INTO alembic_version VALUES ('999_from_the_future')")
    conn.close()
    before = recorded(sqlite3.connect(db_path), "")
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "authority", "export", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "newer Bluezone" in out.stderr and "999_from_the_future" in out.stderr
    assert recorded(sqlite3.connect(db_path), "") == before and "999_from_the_future" in before


def test_two_plugins_claiming_one_role_stop_the_server_at_start(owned, tmp_path):
    from bluezone.config import load_config
    from bluezone.hookspecs import hookimpl
    from bluezone.i18n import N_
    from bluezone_authority.portal.testing import write_config
    from bluezone_authority.server import AuthorityServer
    from bluezone_authority.server.staff import RoleError, StaffRole

    class Twin:
        @hookimpl
        def bluezone_staff_roles(self):
            return [StaffRole("auditor", "auditor, again")]

    config = load_config(write_config(tmp_path))
    config.pm.register(Twin(), name="twin")
    with pytest.raises(RoleError, match="two roles are named 'auditor'"):
        AuthorityServer.from_config(config)
