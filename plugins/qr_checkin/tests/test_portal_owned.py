"""Venue tracing's server table, staff role, portal page, menu entry,
dashboard counter and alert wording all come from this plugin, through the
core's hooks, and work through a real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import pytest

from bluezone.i18n import text
from bluezone.matching.alerts import alert_sources, build_alert
from bluezone.models import Exposure, Tier
from bluezone.plugins import make_plugin_manager
from bluezone_authority.portal.testing import start
from bluezone_authority.server import ApiError

ENTRY = "qr-checkin"


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path, users=(("admin", "admin"), ("tracer", "venue-tracer"), ("officer", "case-officer")))
    yield r
    await r.http.close()


def test_the_plugins_hooks_are_registered():
    pm = make_plugin_manager()
    for hook in ("bluezone_server_migrations", "bluezone_staff_roles", "bluezone_portal_pages",
                 "bluezone_portal_menu_links", "bluezone_dashboard_counters", "bluezone_alert_sources"):
        assert ENTRY in {impl.plugin_name for impl in getattr(pm.hook, hook).get_hookimpls()}, hook


async def test_the_paper_log_is_the_plugins_server_revision(running):
    db = running.server.db
    assert ("qr_checkin_001_venue_paper_log",) in db.all("SELECT version_num FROM alembic_version")
    assert db.one("SELECT count(*) FROM venue_paper_log")[0] == 0


def test_a_server_that_had_the_named_step_is_stamped_at_the_revision(tmp_path):
    """A database from before Alembic that recorded ``qr_checkin/001_venue_paper_log``
    in ``_migrations`` gets the revision ``qr_checkin_001_venue_paper_log``
    as the plugin's head, without running it again; its rows stay."""
    import sqlite3

    from bluezone_authority.server.db import ServerDB

    path = tmp_path / "server.db"
    with ServerDB(path, plugins=make_plugin_manager()) as db, db.transaction() as c:
        c.execute("INSERT INTO venue_paper_log VALUES ('t', 0, x'00')")
        c.execute("DROP TABLE alembic_version")
        c.execute("CREATE TABLE _migrations (owner TEXT, name TEXT, applied_at INTEGER)")
        c.executemany("INSERT INTO _migrations VALUES (?, ?, 0)", [("core", n) for n in (
            "001_schema", "002_coarse_upload_times", "003_key_revisions", "004_rate_windows", "005_federation")]
            + [("qr_checkin", "001_venue_paper_log")])
    with ServerDB(path, plugins=make_plugin_manager()) as db:
        assert db.migrations_applied == []
        assert db.one("SELECT count(*) FROM venue_paper_log")[0] == 1
    conn = sqlite3.connect(path)
    assert sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version")) == [
        "005_federation", "qr_checkin_001_venue_paper_log"]
    conn.close()


async def test_venue_trace_token_carries_the_scope_and_is_spent_once(running):
    r = running
    async with r.client() as c:
        await c.login("tracer")
        home = await c.get("/portal/")
        # the role's label is the plugin's msgid, shown through the catalogue in the page's language (vi)
        assert 'href="/portal/venue-trace"' in home.text and text("venue tracer", "vi") in home.text
        assert home.by_id("total-venue-traces") == "0"
        page = await c.submit("/portal/venue-trace", "/portal/venue-trace",
                              {"venue": "Văn phòng Sở Y tế", "from": "2026-05-27T08:00", "to": "2026-05-27T17:30"})
        token = page.by_id("issued-token")
        assert token.startswith("bzo_") and f"--token {token}" in page.text
        assert 'href="/portal/venue-trace" aria-current="page"' in page.text
        bad = await c.submit("/portal/venue-trace", "/portal/venue-trace",
                             {"from": "2026-05-27T18:00", "to": "2026-05-27T08:00"})
        assert bad.status == 400 and "YYYY-MM-DDTHH:MM" in bad.by_id("form-error")
        only_one = await c.submit("/portal/venue-trace", "/portal/venue-trace", {"from": "2026-05-27T08:00"})
        assert only_one.status == 400
        await c.get("/portal/lang/en?next=/portal/venue-trace")
        assert "Open a venue trace" in (await c.get("/portal/venue-trace")).text
    # the plugin's upload route spends it with server.consume_one_time_token
    meta = r.server.consume_one_time_token(token, "venue-trace")
    ict = dt.timezone(dt.timedelta(hours=7))  # the deployment's Asia/Ho_Chi_Minh
    assert meta == {"venue": "Văn phòng Sở Y tế",
                    "from": int(dt.datetime(2026, 5, 27, 8, 0, tzinfo=ict).timestamp()),
                    "to": int(dt.datetime(2026, 5, 27, 17, 30, tzinfo=ict).timestamp())}
    with pytest.raises(ApiError) as e:
        r.server.consume_one_time_token(token, "venue-trace")
    assert e.value.code == "authority_token_used"
    assert r.server.db.one("SELECT issued_by FROM one_time_tokens")[0] == "portal:tracer"


async def test_other_roles_do_not_see_or_open_the_venue_page(running):
    async with running.client() as c:
        await c.login("officer")
        assert 'href="/portal/venue-trace"' not in (await c.get("/portal/")).text
        assert (await c.get("/portal/venue-trace")).status == 403


async def test_the_generic_token_route_follows_the_roles_purposes(running):
    r = running
    _, tracer = r.server.create_staff_token("desk", "venue-tracer")
    _, officer = r.server.create_staff_token("codes", "case-officer")
    async with r.client() as c:
        for token, purpose, status in ((tracer, "venue-trace", 201), (tracer, "something-else", 403),
                                       (officer, "venue-trace", 403)):
            async with c.session.post(r.url + "/v1/authority/one-time-tokens", json={"purpose": purpose},
                                      headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == status, (purpose, await resp.text())


async def test_with_the_plugin_disabled_its_role_and_page_are_gone(tmp_path):
    r = await start(tmp_path, extra=f'\n[plugins]\ndisabled = ["{ENTRY}"]\n')
    try:
        assert "venue-tracer" not in r.server.roles
        with pytest.raises(ValueError, match="unknown role 'venue-tracer'"):
            r.server.create_staff_token("desk", "venue-tracer")
        async with r.client() as c:
            await c.login("admin")
            home = await c.get("/portal/")
            assert 'href="/portal/venue-trace"' not in home.text and 'id="total-venue-traces"' not in home.text
            assert (await c.get("/portal/venue-trace")).status == 404
    finally:
        await r.http.close()


def test_venue_alerts_are_worded_by_the_plugin():
    words = alert_sources(make_plugin_manager())
    alert = build_alert(Exposure(Tier.F1, "venue", dt.date(2024, 5, 3), 900, 15), {"isolation_days": 10},
                        ["vi", "en"], 1_714_700_000, words)
    assert "quét mã QR check-in" in alert.messages["vi"] and "venue you checked in to" in alert.messages["en"]
    assert "Bluetooth" not in alert.messages["en"]
