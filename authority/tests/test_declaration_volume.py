"""Declaration volume (issue 17, item 6): a storage cap on the unauthenticated
intake, a paginated staff list, and a streamed "download all".

Through real servers on loopback: the in-process aiohttp server for the
quota and the pages, and a real ``bluezone serve`` subprocess holding
thousands of declarations for the download, whose peak memory is read from
/proc (the old download built the whole JSONL in memory, 152 MiB → 2.5 GiB).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from bluezone.config import load_config
from bluezone_authority.declarations import fetch_from_server
from bluezone.models import DAY_SECONDS
from bluezone_authority.portal.testing import PASSWORD, PortalClient, write_config
from bluezone_authority.portal.testing import start as start_portal
from bluezone_authority.portal.users import add_user
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.declaration_pages import DEFAULT_LIMIT, MAX_LIMIT
from bluezone_authority.server.process import ServerProcess, free_port
from bluezone_authority.server.testing import settings_for, start

ROOT = Path(__file__).resolve().parents[2]
SEALED = 4144  # what every normal declaration seals to


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def post(session: aiohttp.ClientSession, url: str, sealed: bytes) -> tuple[int, dict, aiohttp.typedefs.LooseHeaders]:
    async with session.post(f"{url}/v1/declarations", json={"sealed": b64(sealed), "form": "ncovi"}) as r:
        return r.status, await r.json(), r.headers


# --- the storage cap ---------------------------------------------------------------------------


async def test_the_count_cap_refuses_with_507_and_stores_nothing(tmp_path, caplog):
    r = await start(tmp_path, declaration_quota_count=5)
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(5):
                status, body, _ = await post(s, r.url, os.urandom(SEALED))
                assert status == 200 and "receipt" in body
            before = r.server.db.fingerprint()
            with caplog.at_level(logging.WARNING, logger="bluezone.server"):
                for _ in range(3):
                    status, body, headers = await post(s, r.url, os.urandom(SEALED))
                    assert status == 507
                    assert body["error"]["code"] == "declarations_full"
                    assert body["error"]["message_vi"] and body["error"]["message"] != body["error"]["message_vi"]
                    assert headers["Retry-After"] == "3600"
            assert r.server.db.fingerprint() == before  # a refused declaration leaves no trace
            quota_lines = [m for m in caplog.messages if "declaration quota reached" in m]
            assert len(quota_lines) == 1 and "5 declarations" in quota_lines[0]  # staff see it, once an hour
            assert "127.0.0.1" not in caplog.text
            # the cap is within the retention window: once those expire there is room again
            r.clock.t += 15 * DAY_SECONDS
            assert r.server.declaration_usage().count == 0
            status, _, _ = await post(s, r.url, os.urandom(SEALED))
            assert status == 200
            r.server.purge()
            assert r.server.db.one("SELECT count(*) FROM declaration_usage")[0] == 1
            assert r.server.db.counts()["declarations"] == 1
    finally:
        await r.http.close()


async def test_the_byte_cap_counts_sizes(tmp_path):
    # 17 posts from one loopback client: lift the per-client limit, the byte cap is under test
    r = await start(tmp_path, declaration_quota_bytes=65536, declarations_per_client_per_minute=100)
    try:
        async with aiohttp.ClientSession() as s:
            statuses = [(await post(s, r.url, os.urandom(SEALED)))[0] for _ in range(17)]
        assert statuses == [200] * 15 + [507] * 2  # 15 × 4144 = 62160 fits, a 16th would pass 65536
        usage = r.server.declaration_usage()
        assert (usage.count, usage.bytes) == (15, 15 * SEALED) and usage.full is False
        stored = r.server.db.one("SELECT count(*), sum(length(sealed)) FROM declarations")
        assert stored == (15, 15 * SEALED)
    finally:
        await r.http.close()


def test_usage_is_counted_for_a_database_from_before_the_cap(tmp_path):
    server = AuthorityServer(settings_for(tmp_path))
    for size in (100, 200, 300):
        server.accept_declaration({"sealed": b64(os.urandom(size))})
    server.close()
    with sqlite3.connect(tmp_path / "server.db") as c:  # as an older version left it
        c.execute("DROP TABLE declaration_usage")
        c.execute("DELETE FROM meta WHERE key = 'declaration_usage_v1'")
        c.execute("DROP TABLE alembic_version")  # older versions had no schema versions either
    server = AuthorityServer(settings_for(tmp_path))
    usage = server.declaration_usage()
    assert (usage.count, usage.bytes) == (3, 600)
    server.close()


async def test_the_portal_shows_the_cap_and_when_it_is_reached(tmp_path):
    r = await start_portal(tmp_path, extra="declaration_quota_count = 2\n")
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(3):
                await post(s, r.url, os.urandom(SEALED))
        async with r.client() as c:
            await c.login("admin")
            page = await c.get("/portal/declarations")
            assert page.by_id("decl-quota").startswith("Giới hạn lưu trữ: 2 / 2 tờ khai")
            assert "507" in page.by_id("decl-quota-full")
            page = await c.get("/portal/declarations", headers={"Accept-Language": "en"})
            assert page.by_id("decl-quota").startswith("Storage cap: 2 / 2 declarations")
    finally:
        await r.http.close()


def test_the_cap_is_in_the_settings_docs():
    text = (ROOT / "docs" / "server.md").read_text()
    assert "declaration_quota_count" in text and "declaration_quota_bytes" in text and "507" in text


# --- the paginated staff list -----------------------------------------------------------------------


async def test_the_staff_list_is_paged_by_cursor(tmp_path):
    r = await start(tmp_path)
    try:
        receipts = []
        for i in range(23):
            r.clock.t += 600 * (i % 3)  # several reception hours
            receipts.append(r.server.accept_declaration({"sealed": b64(os.urandom(64))})["receipt"])
        async with aiohttp.ClientSession(headers=r.auth) as s:
            seen, after, pages = [], None, 0
            while True:
                params = {"limit": "5", **({"after": after} if after else {})}
                async with s.get(f"{r.url}/v1/authority/declarations", params=params) as resp:
                    assert resp.status == 200
                    page = await resp.json()
                assert set(page) == {"declarations", "next"}  # as docs/api.md says
                assert len(page["declarations"]) <= 5
                seen += page["declarations"]
                pages += 1
                after = page["next"]
                if after is None:
                    break
            assert pages == 5 and len(seen) == 23
            assert [d["id"] for d in seen] == [d["id"] for d in r.server.list_declarations()]
            assert sorted(d["id"] for d in seen) == sorted(receipts)
            assert set(seen[0]) == {"id", "receivedHour", "form", "bytes"}
            async with s.get(f"{r.url}/v1/authority/declarations") as resp:
                assert len((await resp.json())["declarations"]) == 23  # default page holds them
            for query, code in [({"limit": "0"}, "invalid_limit"), ({"limit": str(MAX_LIMIT + 1)}, "invalid_limit"),
                                ({"limit": "x"}, "invalid_limit"), ({"after": "'; DROP TABLE"}, "invalid_cursor"),
                                ({"after": "1-2-3"}, "invalid_cursor")]:
                async with s.get(f"{r.url}/v1/authority/declarations", params=query) as resp:
                    assert resp.status == 400 and (await resp.json())["error"]["code"] == code
        # the offline tool's fetch follows the cursor page by page
        new, total, failures = await fetch_from_server(r.url, r.admin_token, tmp_path / "inbox", page_size=4)
        assert total == 23 and len(new) == 23 and failures == []
        assert {p.stem for p in (tmp_path / "inbox").glob("*.sealed")} == set(receipts)
    finally:
        await r.http.close()


def test_the_paging_docs_are_true():
    api = (ROOT / "docs" / "api.md").read_text()
    assert f"1–{MAX_LIMIT}, default {DEFAULT_LIMIT}" in api
    row = next(line for line in api.splitlines() if line.startswith("| `GET /v1/authority/declarations` |"))
    assert "`limit`" in row and "`after`" in row and '"next"' in row
    assert "`invalid_limit`" in api and "`invalid_cursor`" in api


# --- the streamed download from a real `bluezone serve` ------------------------------------------


def _kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak memory")
async def test_download_all_streams_thousands_without_holding_them(tmp_path):
    n, size = 2000, 32 * 1024
    port = free_port()
    config_path = write_config(tmp_path, extra=f"port = {port}\n")
    config = load_config(config_path)
    server = AuthorityServer.from_config(config)  # fill the real database file before the process opens it
    add_user(server.db, "lan", "Lan", "declarations", PASSWORD, server.now())
    digests = {}
    for _ in range(n):
        sealed = os.urandom(size)
        digests[server.accept_declaration({"sealed": b64(sealed)})["receipt"]] = hashlib.sha256(sealed).hexdigest()
    server.close()
    url = f"http://127.0.0.1:{port}"
    with ServerProcess(config_path, url, tmp_path / "server.log") as proc:
        pid = proc.proc.pid
        async with PortalClient(url) as c:
            await c.login("lan")
            page = await c.get("/portal/declarations")
            assert page.by_id("decl-count").startswith(f"{n} tờ khai")
            assert page.by_id("decl-latest").startswith("Hiển thị 200")
            try:  # reset the peak to the current size (login's Argon2 peak would hide the download's)
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass
            peak_before, rss_before = _kib(pid, "VmHWM"), _kib(pid, "VmRSS")
            got, total, lines, rest = {}, 0, 0, b""
            async with c.session.get(f"{url}/portal/declarations/all.jsonl") as resp:
                assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert "Content-Length" not in resp.headers  # streamed, not built first
                first = True
                async for chunk in resp.content.iter_chunked(1 << 16):
                    total += len(chunk)
                    if first:  # mid-download, the server still answers health checks
                        first = False
                        async with aiohttp.ClientSession() as other:
                            async with other.get(f"{url}/v1/health", timeout=aiohttp.ClientTimeout(total=60)) as h:
                                assert h.status == 200
                    *complete, rest = (rest + chunk).split(b"\n")
                    for line in complete:
                        rec = json.loads(line)
                        got[rec["id"]] = hashlib.sha256(base64.b64decode(rec["sealed"])).hexdigest()
                        lines += 1
            assert rest == b""
        peak_after = _kib(pid, "VmHWM")
    assert lines == n and got == digests  # complete and correct
    growth = (peak_after - peak_before) * 1024
    print(f"\ndownload {total / 2**20:.1f} MiB of {n} declarations; server RSS before {rss_before / 1024:.1f} MiB, "
          f"peak {peak_before / 1024:.1f} → {peak_after / 1024:.1f} MiB (growth {growth / 2**20:.1f} MiB)")
    # The old handler held the whole body (several copies) before sending a byte: growth ≥ the download.
    assert growth < total / 4, f"peak memory grew {growth / 2**20:.1f} MiB for a {total / 2**20:.1f} MiB download"


async def test_a_form_name_that_staff_would_see_is_plain(tmp_path):
    r = await start(tmp_path)
    try:
        before = r.server.db.fingerprint()
        async with aiohttp.ClientSession() as s:
            for form in ("ncovi\u202e", "a\x1b[2J", "", "x" * 33, "NCOVI", 5):
                async with s.post(f"{r.url}/v1/declarations", json={"sealed": b64(os.urandom(SEALED)), "form": form}) as resp:
                    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_declaration"
            assert r.server.db.fingerprint() == before
            async with s.post(f"{r.url}/v1/declarations",
                              json={"sealed": b64(os.urandom(SEALED)), "form": "ncovi/1+gia-lai-2"}) as resp:
                assert resp.status == 200
    finally:
        await r.http.close()


async def test_a_download_abandoned_halfway_leaves_the_portal_serving(tmp_path, caplog):
    r = await start_portal(tmp_path, users=(("lan", "declarations"),))
    try:
        receipts = {r.server.accept_declaration({"sealed": b64(os.urandom(40_000))})["receipt"] for _ in range(200)}
        async with r.client() as c:
            await c.login("lan")
            with caplog.at_level(logging.WARNING):
                async with c.session.get(f"{r.url}/portal/declarations/all.jsonl") as resp:
                    assert len(await resp.content.read(1000)) > 0  # then the browser goes away
                await asyncio.sleep(0.2)
                async with c.session.get(f"{r.url}/portal/declarations/all.jsonl") as resp:
                    lines = (await resp.read()).splitlines()
            assert {json.loads(line)["id"] for line in lines} == receipts
            assert "unexpected error" not in caplog.text
    finally:
        await r.http.close()
