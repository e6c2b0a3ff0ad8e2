"""Portal pages against the real server on 127.0.0.1: codes that a device
redeems (the venue-trace page is the QR check-in plugin's, tested there), sealed
declarations that only the offline tool opens, dashboard counts, headers,
both languages, and fuzzed form input that never crashes or writes."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.declarations import KeyPair, build_form, make_declaration, seal
from bluezone.models import ReportType
from bluezone_authority.portal.testing import start
from bluezone_authority.server import ApiError
from bluezone_authority.server.testing import NOW, past_keys
from bluezone.upload import upload_with_code
from bluezone.transports import HttpTransport

from bluezone.declarations.fixtures import TODAY, good_answers

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
# A plugin's page goes through the same guard, layout and headers: fuzz it too when the plugin is installed
# (the core's tests pass without it).
PLUGIN_FORMS = ["/portal/venue-trace"] if importlib.util.find_spec("bluezone_qr_checkin") else []


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path, users=(("admin", "admin"), ("officer", "case-officer")))
    yield r
    await r.http.close()


def day(offset: int) -> str:
    return (dt.datetime.fromtimestamp(NOW, dt.timezone.utc).date() + dt.timedelta(days=offset)).isoformat()


async def test_f0_code_from_the_portal_is_redeemed_by_a_device(running):
    r = running
    async with r.client() as c:
        await c.login("officer")
        page = await c.submit("/portal/codes", "/portal/codes",
                              {"tier": "F0", "reportType": "likely", "symptomOnsetDate": day(-2), "kind": "short"})
        assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
        code = page.by_id("issued-code")
        assert re.fullmatch(r"\d{8}", code)
        assert "Chẩn đoán lâm sàng" in page.by_id("issued-type")
        # the code is kept only as a keyed hash, and no page shows it again
        assert code.encode() not in Path(r.server.settings.database).read_bytes()
        for path in ("/portal/", "/portal/codes"):
            assert code not in (await c.get(path)).text
    row = r.server.db.one("SELECT issued_by, report_type, state FROM codes")
    assert row == ("portal:officer", int(ReportType.CONFIRMED_CLINICAL_DIAGNOSIS), "issued")
    async with HttpTransport(r.url, retries=0) as t:
        result = await upload_with_code(t, code, past_keys(4))
    assert result.report_type == ReportType.CONFIRMED_CLINICAL_DIAGNOSIS and result.receipt.inserted == 4


async def test_f1_recursive_long_code(running):
    async with running.client() as c:
        await c.login("officer")
        page = await c.submit("/portal/codes", "/portal/codes", {"tier": "F1", "kind": "long", "testDate": day(-1)})
        code = page.by_id("issued-code")
        assert re.fullmatch(r"[a-z0-9]{16}", code)
        assert "F1" in page.by_id("issued-type")
    async with HttpTransport(running.url, retries=0) as t:
        result = await upload_with_code(t, code, past_keys(3))
    assert result.report_type == ReportType.RECURSIVE


async def test_f1_refused_when_the_deployment_has_not_opted_in(tmp_path):
    r = await start(tmp_path, recursive=False)
    try:
        async with r.client() as c:
            await c.login()
            form = await c.get("/portal/codes")
            assert re.search(r'id="tier-f1"[^>]*disabled', form.text)
            before = r.server.db.fingerprint()
            page = await c.post("/portal/codes", {"tier": "F1", "csrf": form.csrf()})
            assert page.status == 403 and "F1" in page.by_id("form-error")
            assert r.server.db.fingerprint() == before
    finally:
        await r.http.close()


@pytest.mark.parametrize("fields,fragment", [
    ({"symptomOnsetDate": day(+1)}, "tương lai"),
    ({"symptomOnsetDate": day(-20)}, "14"),
    ({"testDate": "29/05/2026"}, "YYYY-MM-DD"),
    ({"kind": "medium"}, "kind"),
    ({"tier": "F9"}, "tier"),
    ({"reportType": "rumour"}, "reportType"),
])
async def test_bad_code_requests_are_shown_and_write_nothing(running, fields, fragment):
    r = running
    async with r.client() as c:
        await c.login("officer")
        before = r.server.db.fingerprint()
        page = await c.submit("/portal/codes", "/portal/codes", {"tier": "F0", **fields})
        assert page.status == 400
        assert fragment in page.by_id("form-error")
        assert r.server.db.fingerprint() == before
        # the form keeps the dates that were typed (radio buttons keep only valid choices)
        for name, value in fields.items():
            if name.endswith("Date"):
                assert f'value="{value}"' in page.text


async def test_declarations_are_listed_downloaded_as_ciphertext_and_opened_only_offline(running, tmp_path):
    r = running
    pair = KeyPair.generate()
    key_file = tmp_path / "authority-declarations.key"
    pair.write_private(key_file)
    form = build_form(None)
    async with HttpTransport(r.url, retries=0) as t:
        for name in ("Nguyễn Thị Lan", "Trần Văn Bình"):
            d = make_declaration(form, good_answers(full_name=name), language="vi", today=TODAY)
            await t.upload_declaration(seal(d, pair.private_key.public_key))
    async with r.client() as c:
        await c.login("admin")
        page = await c.get("/portal/declarations")
        assert page.by_id("decl-count").startswith("2 tờ khai")
        assert "Nguyễn" not in page.text  # the portal cannot read them either
        ids = re.findall(r'/portal/declarations/([0-9a-f]{24})\.sealed', page.text)
        assert len(set(ids)) == 2
        async with c.session.get(f"{r.url}/portal/declarations/{ids[0]}.sealed") as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
            assert await resp.read() == r.server.declaration(ids[0])
        async with c.session.get(f"{r.url}/portal/declarations/all.jsonl") as resp:
            assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
            body = await resp.read()
        missing = await c.get("/portal/declarations/" + "0" * 24 + ".sealed")
        assert missing.status == 404
    inbox = tmp_path / "declarations.jsonl"
    inbox.write_bytes(body)
    assert b"Nguy" not in body
    proc = await asyncio.create_subprocess_exec(
        BLUEZONE, "authority", "declarations", "--key", str(key_file), "--inbox", str(inbox), "list", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert sorted(row["ref"] for row in rows) == sorted(ids)
    # a wrong key opens nothing
    other = tmp_path / "other.key"
    KeyPair.generate().write_private(other)
    proc = await asyncio.create_subprocess_exec(
        BLUEZONE, "authority", "declarations", "--key", str(other), "--inbox", str(inbox), "list", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode != 0 and out.strip() == b""


async def test_dashboard_counts_per_day(running):
    r = running
    async with r.client() as c:
        await c.login("admin")
        # yesterday: an F0 upload; today: an F1 upload, an unused code, an export from the portal button
        r.clock.t = NOW - 86400
        code = (await c.submit("/portal/codes", "/portal/codes", {"tier": "F0"})).by_id("issued-code")
        async with HttpTransport(r.url, retries=0) as t:
            await upload_with_code(t, code, past_keys(3, now=NOW - 86400))
        r.clock.t = NOW
        await c.login("admin")  # the session above ended (idle for a day)
        f1 = (await c.submit("/portal/codes", "/portal/codes", {"tier": "F1", "kind": "long"})).by_id("issued-code")
        async with HttpTransport(r.url, retries=0) as t:
            await upload_with_code(t, f1, past_keys(2))
        await c.submit("/portal/codes", "/portal/codes", {"tier": "F0"})  # issued, never used
        done = await c.submit("/portal/", "/portal/exports", {})
        assert done.url.endswith("keys=5") and "5" in done.by_id("export-result")
        again = await c.submit("/portal/", "/portal/exports", {})
        assert again.by_id("export-result") == "Không có khoá mới để công bố."
        page = await c.get("/portal/")
        english = await c.get("/portal/", headers={"Accept-Language": "en"})
    assert page.by_id("total-uploads") == "2"
    assert page.by_id("total-keys") == "5"
    assert page.by_id("total-exports") == "1"
    assert page.by_id("total-codes-issued") == "3"
    assert page.by_id("codes-redeemed") == "2"
    assert page.by_id("codes-pending") == "1"
    today, yesterday = day(0), day(-1)

    def cells(d: str) -> dict[str, str]:
        row = re.search(rf'<tr data-day="{d}">(.*?)</tr>', page.text, re.S).group(1)
        return dict(re.findall(r'<td class="([a-z0-9-]+)">(\d+)</td>', row))

    venue = {"venue-traces": "0"} if PLUGIN_FORMS else {}  # the check-in plugin's counter, when installed
    assert cells(yesterday) == {"uploads-f0": "1", "uploads-f1": "0", "keys": "3", "exports": "0",
                                **venue, "codes-issued": "1", "declarations": "0"}
    assert cells(today) == {"uploads-f0": "0", "uploads-f1": "1", "keys": "2", "exports": "1",
                            **venue, "codes-issued": "2", "declarations": "0"}
    # nothing on the page could say who was warned: there is no such number
    # (read in English, where a counter of warned people would be labelled "warned"; the two
    # sentences saying the server cannot know are the only mentions)
    said = english.text.lower().replace("does not know who was warned", "").replace("never knows who was warned", "")
    assert '<html lang="en">' in english.text and "warned" not in said
    assert not re.search(r'(id|class)="[^"]*(warn|alert|notif)', page.text + english.text)
    r.clock.t = NOW + 15 * 60  # the unused short code expires
    async with r.client() as c:
        await c.login("admin")
        page = await c.get("/portal/")
    assert page.by_id("codes-expired") == "1" and page.by_id("codes-pending") == "0"


async def test_headers_static_css_and_no_inline_script_or_style(running):
    async with running.client() as c:
        login = await c.get("/portal/login")
        await c.login()
        pages = [login] + [await c.get(p) for p in ("/portal/", "/portal/codes", *PLUGIN_FORMS,
                                                     "/portal/declarations", "/portal/nothing-here")]
        for page in pages:
            h = page.headers
            assert "script-src" not in h["Content-Security-Policy"] and "default-src 'none'" in h["Content-Security-Policy"]
            assert "unsafe-inline" not in h["Content-Security-Policy"]
            assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
            assert h["Cache-Control"] == "no-store" and h["Referrer-Policy"] == "same-origin"
            assert "<script" not in page.text and "style=" not in page.text and " on" + "click=" not in page.text
            assert page.text.startswith("<!doctype html>")
        assert pages[-1].status == 404 and "Không có trang này" in pages[-1].text
        async with c.session.get(running.url + "/portal", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/portal/"
        css = await c.get("/portal/static/portal.css")
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
        assert (await c.get("/portal/static/../app.py")).status in (403, 404)


async def test_language_switch_and_accept_language(running):
    async with running.client() as c:
        assert '<html lang="vi">' in (await c.get("/portal/login")).text
        assert '<html lang="en">' in (await c.get("/portal/login", headers={"Accept-Language": "en-GB,en;q=0.8"})).text
        page = await c.get("/portal/lang/en?next=/portal/login")
        assert page.url.endswith("/portal/login") and '<html lang="en">' in page.text and "Log in" in page.text
        await c.login()
        assert "The last 14 days" in (await c.get("/portal/")).text
        page = await c.get("/portal/lang/vi?next=https://evil.example/")
        assert page.url.endswith("/portal/") and "Tổng quan 14 ngày qua" in page.text


FIELDS = st.dictionaries(st.sampled_from(["tier", "reportType", "symptomOnsetDate", "testDate", "kind", "venue",
                                          "from", "to", "username", "password", "next"]),
                         st.one_of(st.text(max_size=40), st.sampled_from(["F0", "F1", "long", "officer", day(-1)])),
                         max_size=6)


async def test_fuzzed_forms_never_crash_and_refusals_write_nothing(tmp_path):
    """One server; hypothesis runs in a worker thread and posts through the server's loop."""
    r = await start(tmp_path, users=(("officer", "admin"),),
                    extra="\n[portal]\nlogin_per_client_per_minute = 1000000\n")
    loop = asyncio.get_running_loop()
    client = r.client()
    await client.login("officer")
    fresh = r.client()

    async def one(path: str, fields: dict[str, str]) -> None:
        c = fresh if path == "/portal/login" else client
        token = (await c.get("/portal/login" if c is fresh else "/portal/")).csrf()
        before = r.server.db.fingerprint()
        page = await c.post(path, {**fields, "csrf": token})
        assert page.status in (200, 400, 401, 403, 423), (path, fields, page.status)
        assert "Traceback" not in page.text and page.text.startswith("<!doctype html>")
        if page.status not in (200, 401, 423):  # 401/423: a failed login only counts a failure
            assert r.server.db.fingerprint() == before, (path, fields)
        if c is fresh and c.cookie("bz_session"):  # the fuzzer logged in: log out to keep fuzzing the form
            await c.submit("/portal/", "/portal/logout", {})

    @settings(max_examples=120, deadline=None)
    @given(fields=FIELDS, path=st.sampled_from(["/portal/codes", "/portal/login", "/portal/exports",
                                                *PLUGIN_FORMS]))
    def fuzz(fields: dict[str, str], path: str) -> None:
        asyncio.run_coroutine_threadsafe(one(path, fields), loop).result(60)

    try:
        await loop.run_in_executor(None, fuzz)
    finally:
        await client.close()
        await fresh.close()
        await r.http.close()
