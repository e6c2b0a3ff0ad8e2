"""Privacy and security properties of the server (docs/privacy.md), on a real socket."""

from __future__ import annotations

import sqlite3

import aiohttp
import pytest

from bluezone_authority.server.db import TABLES
from bluezone_authority.server.middleware import RESPONSE_PAD, SECURITY_HEADERS
from bluezone_authority.server.testing import past_keys, start
from bluezone.transport import PAD_BLOCK, pad_body
from bluezone.upload import next_decoy_delay
from bluezone.transports import HttpTransport
from bluezone.transports.wire import certificate_body, decoy_body, publish_body, verify_body


@pytest.fixture
async def running(tmp_path, server_database):
    r = await start(tmp_path, verify_per_client_per_minute=5, verify_failures_per_minute=8)
    yield r
    await r.http.close()


class Recorder:
    """Counts the bytes of every request body the client sends."""

    def __init__(self):
        self.sizes: list[int] = []

    def trace(self) -> aiohttp.TraceConfig:
        tc = aiohttp.TraceConfig()

        async def on_chunk(session, ctx, params):
            self.sizes.append(len(params.chunk))

        tc.on_request_chunk_sent.append(on_chunk)
        return tc


async def test_decoys_are_the_same_size_as_real_uploads_and_are_dropped(running):
    r = running
    rec = Recorder()
    code = r.server.issue_code({"tier": "F0"})["code"]
    before = r.server.db.fingerprint()
    async with aiohttp.ClientSession(trace_configs=[rec.trace()]) as s:
        t = HttpTransport(r.url, retries=0, session=s)
        await t.send_decoy()
        decoy_sizes = list(rec.sizes)
        assert r.server.db.fingerprint() == before, "a decoy was stored"
        rec.sizes.clear()
        from bluezone.upload import upload_with_code
        await upload_with_code(t, code, past_keys(14))
        real_sizes = list(rec.sizes)
    assert set(decoy_sizes) == {PAD_BLOCK}
    assert set(real_sizes) == {PAD_BLOCK}  # verify, certificate and publish are one block each
    # and every body kind pads to the same block size
    for body in (verify_body("12345678"), certificate_body("bzt_x", b"\0" * 32), decoy_body(),
                 publish_body(past_keys(30), "x" * 500, b"\0" * 32)):
        assert len(pad_body(body)) == PAD_BLOCK


async def test_device_answers_are_padded_to_one_size(running):
    r = running
    sizes = set()
    async with aiohttp.ClientSession() as s:
        for path, body, headers in (("/v1/decoy", {}, {}), ("/v1/publish", {}, {"X-Chaff": "1"}),
                                    ("/v1/verify", {"code": r.server.issue_code({})["code"]}, {})):
            async with s.post(f"{r.url}{path}", data=pad_body(body),
                              headers={"Content-Type": "application/json", **headers}) as resp:
                assert resp.status == 200
                sizes.add(len(await resp.read()))
    assert sizes == {RESPONSE_PAD}


async def test_security_headers_on_every_answer(running):
    r = running
    async with aiohttp.ClientSession() as s:
        for method, path in (("GET", "/v1/health"), ("GET", "/v1/feeds/keys/index.txt"), ("POST", "/v1/verify"),
                             ("GET", "/nowhere")):
            async with s.request(method, f"{r.url}{path}") as resp:
                for name, value in SECURITY_HEADERS.items():
                    assert resp.headers[name] == value, (path, name)


async def test_code_guessing_is_rate_limited_per_client(running):
    r = running
    statuses = []
    async with aiohttp.ClientSession() as s:
        for i in range(7):
            async with s.post(f"{r.url}/v1/verify", json={"code": f"{i:08d}"}) as resp:
                statuses.append(resp.status)
                body = await resp.json()
    assert statuses == [400] * 5 + [429] * 2
    assert body["error"]["code"] == "rate_limited" and resp.headers["Retry-After"].isdigit()
    # the global bound and other clients: authority/tests/test_server_ratelimits.py


SERVE_CONFIG = """
[deployment]
name = "Privacy test"
region = "452"

[authority]
url = "http://127.0.0.1:1"

[server]
database = "server.db"
export_dir = "exports"
secrets_file = "server.secrets"
min_batch_keys = 0
verify_per_client_per_minute = 3
"""
CLIENT = "127.0.0.2"  # the phones' address: a loopback address the server does not listen on
FORWARDED = "203.0.113.77"  # what an untrusted X-Forwarded-For claims


async def test_bluezone_serve_keeps_no_client_address_in_output_or_files(tmp_path):
    """The real ``bluezone serve`` process (its own logging set-up, not the
    tests' in-process app): phones connect from 127.0.0.2, upload, declare,
    send decoys, make mistakes and get rate limited; then its stdout, stderr
    and every file it wrote are searched for their address, as text and as
    the four bytes of an IPv4 address."""
    import asyncio
    import os
    import re
    import signal
    import sys
    import time
    from pathlib import Path

    from bluezone.config import load_config
    from bluezone.upload import upload_with_code
    from bluezone_authority.server import AuthorityServer

    cfg = tmp_path / "deploy.toml"
    cfg.write_text(SERVE_CONFIG)
    server = AuthorityServer.from_config(load_config(cfg))
    code = server.issue_code({"tier": "F0", "kind": "long"})["code"]
    _, admin = server.create_staff_token("admin", "admin")
    server.close()
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "bluezone"), "serve", "--config", str(cfg), "--host", "127.0.0.1",
        "--port", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    first = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    url = re.search(r"http://127\.0\.0\.1:\d+", first).group(0)
    try:
        headers = {"X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED}
        connector = aiohttp.TCPConnector(local_addr=(CLIENT, 0))
        async with aiohttp.ClientSession(connector=connector, headers=headers) as s:
            t = HttpTransport(url, retries=0, session=s)
            await upload_with_code(t, code, past_keys(3, now=int(time.time())))
            await t.upload_declaration(b"\x01" * 80)
            await t.send_decoy()
            for i in range(5):  # wrong codes until rate limited, and junk
                async with s.post(f"{url}/v1/verify", json={"code": f"{i:08d}"}) as resp:
                    assert resp.status in (400, 429)
            async with s.post(f"{url}/v1/publish", data=b"{not json", headers={"Content-Type": "application/json"}):
                pass
            async with s.post(f"{url}/v1/authority/exports", headers={"Authorization": f"Bearer {admin}"}) as resp:
                assert resp.status == 200
            async with s.get(f"{url}/v1/feeds/keys/index.txt") as resp:
                assert resp.status == 200 and ".zip" in await resp.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    output = first.encode() + out + err
    assert proc.returncode == 0, output
    packed = bytes([127, 0, 0, 2])
    for where, data in [("the server's output", output)] + [
            (str(p), p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file() and p != cfg]:
        for needle in (CLIENT.encode(), FORWARDED.encode(), packed):
            assert needle not in data, (where, needle)
    db = sqlite3.connect(tmp_path / "server.db")
    columns = {c[1] for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
               for c in db.execute(f'PRAGMA table_info("{t}")')}
    db.close()
    assert not columns & {"ip", "address", "remote", "user_agent", "device_id", "phone"}


async def test_no_ip_address_is_stored_anywhere(running, tmp_path):
    r = running
    code = r.server.issue_code({"tier": "F0"})["code"]
    async with HttpTransport(r.url, retries=0) as t:
        from bluezone.upload import upload_with_code
        await upload_with_code(t, code, past_keys(3))
        await t.upload_declaration(b"\x01" * 80)
    r.server.export_now()
    db = r.server.db
    if db.kind == "sqlite":
        db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"127.0.0.1" not in data and b"localhost" not in data, path
    for t in TABLES:  # every stored value, on either backend
        for row in db.all(f"SELECT * FROM {t}"):
            assert "127.0.0.1" not in repr(tuple(row)) and "localhost" not in repr(tuple(row)), t
    with db.transaction() as c:
        columns = {col for t in ("codes", "exposure_keys", "declarations", "batches", "one_time_tokens")
                   for col in db.backend.columns(c, t)}
    assert "key_data" in columns  # (the catalogue query works on this backend)
    assert not columns & {"ip", "address", "remote", "user_agent", "device_id", "phone"}


def test_decoy_delays_are_random_and_positive():
    import random
    rng = random.Random(4)
    delays = [next_decoy_delay(rng, mean_seconds=100) for _ in range(2000)]
    assert min(delays) > 0 and len(set(delays)) == 2000
    assert 80 < sum(delays) / len(delays) < 120
