"""Rate limits on every unauthenticated write, over a real socket: per-client
budgets that one client cannot spend for another, a code-guessing bound that
attackers cannot turn into a lock-out of real citizens, and client addresses
taken from X-Forwarded-For only behind a configured trusted proxy."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.transports.wire import publish_body
from bluezone.verification import keys_hmac
from bluezone_authority.server import AuthorityServer, create_app
from bluezone_authority.server.ratelimit import LIMITS, limit
from bluezone_authority.server.testing import Clock, past_keys, settings_for, start

PROXY = ["127.0.0.1/32"]  # the test client is the "proxy"; X-Forwarded-For names the citizens


async def post(r, path, body, client=None, headers=None):
    h = {"Content-Type": "application/json", **(headers or {})}
    if client is not None:
        h["X-Forwarded-For"] = client
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}{path}", data=json.dumps(body), headers=h) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers


def assert_429(status, data, headers):
    assert status == 429, data
    assert data["error"]["code"] == "rate_limited"
    assert data["error"]["message"] and data["error"]["message_vi"] != data["error"]["message"]
    assert 1 <= int(headers["Retry-After"]) <= 120


@pytest.fixture
async def proxied(tmp_path):
    r = await start(tmp_path, trusted_proxies=PROXY, verify_per_client_per_minute=10,
                    verify_failures_per_minute=30)
    yield r
    await r.http.close()


async def test_attackers_on_several_addresses_cannot_lock_out_a_citizen_with_a_valid_code(proxied):
    """The issue's attack: 3 addresses × 10 wrong guesses spent the global
    budget and every redemption got 429 for the rest of the minute."""
    r = proxied
    attackers = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
    statuses = []
    for _ in range(12):
        for a in attackers:
            statuses.append((await post(r, "/v1/verify", {"code": f"{secrets.randbelow(10**8):08d}"}, a))[0])
    assert statuses.count(400) >= 30  # the global failure bound was crossed: the server is "under attack"
    assert await r.http.app[LIMITS].under_attack(30)
    # every attacker address is now refused without a code check ...
    for a in attackers:
        assert_429(*await post(r, "/v1/verify", {"code": "00000000"}, a))
    # ... while a citizen with a valid code, from another address, is served
    code = r.server.issue_code({"tier": "F0"})["code"]
    status, data, _ = await post(r, "/v1/verify", {"code": code}, "203.0.113.50")
    assert status == 200 and data["token"].startswith("bzt_")
    # a citizen who mistypes once during the attack is told so (not 429) ...
    status, data, _ = await post(r, "/v1/verify", {"code": "12345678"}, "203.0.113.51")
    assert status == 400 and data["error"]["code"] == "invalid_code"
    # ... and then waits like an attacker (at most until the next minute is clean)
    assert_429(*await post(r, "/v1/verify", {"code": code}, "203.0.113.51"))
    # two minutes later, with no more failures, the attackers' addresses may try again
    r.clock.t += 120
    assert not await r.http.app[LIMITS].under_attack(30)
    assert (await post(r, "/v1/verify", {"code": "00000000"}, attackers[0]))[0] == 400


async def test_the_per_client_budget_is_per_client(proxied):
    r = proxied
    for i in range(10):
        assert (await post(r, "/v1/verify", {"code": f"{i:08d}"}, "198.51.100.9"))[0] == 400
    assert_429(*await post(r, "/v1/verify", {"code": "00000011"}, "198.51.100.9"))
    # another address is not affected; an IPv6 client is counted per /64
    assert (await post(r, "/v1/verify", {"code": "00000012"}, "198.51.100.10"))[0] == 400
    for i in range(10):
        assert (await post(r, "/v1/verify", {"code": f"{i:08d}"}, f"2001:db8:1:2::{i + 1:x}"))[0] == 400
    assert_429(*await post(r, "/v1/verify", {"code": "00000013"}, "2001:db8:1:2:ffff::1"))
    assert (await post(r, "/v1/verify", {"code": "00000014"}, "2001:db8:1:3::1"))[0] == 400


async def test_forwarded_for_is_read_right_to_left_and_only_from_a_trusted_proxy(tmp_path):
    # behind the trusted proxy: the left part of the header is the client's claim and
    # changes nothing; the right-most untrusted address is the client
    r = await start(tmp_path / "a", trusted_proxies=PROXY + ["10.0.0.0/8"], verify_per_client_per_minute=3)
    try:
        for i in range(3):
            forged = f"192.0.2.{i}, 198.51.100.77, 10.1.2.3"  # client claim, real client, inner proxy
            assert (await post(r, "/v1/verify", {"code": f"{i:08d}"}, forged))[0] == 400
        assert_429(*await post(r, "/v1/verify", {"code": "00000009"}, "192.0.2.200, 198.51.100.77"))
        assert (await post(r, "/v1/verify", {"code": "00000009"}, "198.51.100.78"))[0] == 400
    finally:
        await r.http.close()
    # without a trusted proxy the header is ignored: a new value per request buys nothing
    r = await start(tmp_path / "b", verify_per_client_per_minute=3)
    try:
        for i in range(3):
            assert (await post(r, "/v1/verify", {"code": f"{i:08d}"}, f"198.51.100.{i}"))[0] == 400
        assert_429(*await post(r, "/v1/verify", {"code": "00000009"}, "198.51.100.99"))
    finally:
        await r.http.close()


async def test_every_unauthenticated_write_has_a_per_client_limit(tmp_path):
    r = await start(tmp_path, trusted_proxies=PROXY, uploads_per_client_per_minute=2,
                    declarations_per_client_per_minute=3, decoys_per_client_per_minute=2)
    try:
        sealed = {"sealed": base64.b64encode(secrets.token_bytes(80)).decode()}
        # a declaration flood from one client stops at its budget; nothing more is stored
        for _ in range(3):
            assert (await post(r, "/v1/declarations", sealed, "198.51.100.5"))[0] == 200
        before = r.server.db.fingerprint()
        for _ in range(5):
            assert_429(*await post(r, "/v1/declarations", sealed, "198.51.100.5"))
        assert r.server.db.fingerprint() == before and r.server.db.counts()["declarations"] == 3
        assert (await post(r, "/v1/declarations", sealed, "198.51.100.6"))[0] == 200  # someone else
        # certificate and publish share the "upload" budget
        assert (await post(r, "/v1/certificate", {"token": "bzt_x", "ekeyhmac": "x"}, "198.51.100.5"))[0] == 400
        assert (await post(r, "/v1/publish", {}, "198.51.100.5"))[0] == 400
        assert_429(*await post(r, "/v1/certificate", {"token": "bzt_x", "ekeyhmac": "x"}, "198.51.100.5"))
        assert_429(*await post(r, "/v1/publish", {}, "198.51.100.5"))
        # decoys: POST /v1/decoy and X-Chaff on any device path share the "decoy" budget
        assert (await post(r, "/v1/decoy", {}, "198.51.100.5"))[0] == 200
        assert (await post(r, "/v1/publish", {}, "198.51.100.5", {"X-Chaff": "1"}))[0] == 200
        assert_429(*await post(r, "/v1/decoy", {}, "198.51.100.5"))
        assert_429(*await post(r, "/v1/verify", {}, "198.51.100.5", {"X-Chaff": "1"}))
        # the next minute starts afresh
        r.clock.t += 60
        assert (await post(r, "/v1/declarations", sealed, "198.51.100.5"))[0] == 200
    finally:
        await r.http.close()


async def test_a_legitimate_upload_fits_in_the_budget(proxied):
    r = proxied
    keys = past_keys(3)
    code = r.server.issue_code({"tier": "F0"})["code"]
    status, data, _ = await post(r, "/v1/verify", {"code": code}, "203.0.113.9")
    secret = secrets.token_bytes(32)
    status, cert, _ = await post(r, "/v1/certificate", {"token": data["token"],
                                                        "ekeyhmac": base64.b64encode(keys_hmac(secret, keys)).decode()},
                                 "203.0.113.9")
    assert status == 200
    status, out, _ = await post(r, "/v1/publish", publish_body(keys, cert["certificate"], secret), "203.0.113.9")
    assert status == 200 and out["insertedExposures"] == 3


async def test_plugin_routes_use_the_same_helper(tmp_path):
    server = AuthorityServer(settings_for(tmp_path, trusted_proxies=tuple(PROXY)), clock=Clock())
    app = create_app(server, background=False)

    async def upload(request: web.Request) -> web.Response:
        await limit(request, "venue-trace", 2)  # what a plugin's unauthenticated route calls first
        return web.json_response({"ok": True})

    app.router.add_post("/v1/plugin-upload", upload)
    http = TestServer(app, host="127.0.0.1")
    await http.start_server()

    class R:
        url = str(http.make_url("")).rstrip("/")

    try:
        assert (await post(R, "/v1/plugin-upload", {}, "198.51.100.1"))[0] == 200
        assert (await post(R, "/v1/plugin-upload", {}, "198.51.100.1"))[0] == 200
        assert_429(*await post(R, "/v1/plugin-upload", {}, "198.51.100.1"))
        assert (await post(R, "/v1/plugin-upload", {}, "198.51.100.2"))[0] == 200
        # the limiter's tables hold keyed hashes, never an address
        limits = app[LIMITS]
        tables = repr(vars(limits.store))
        assert "venue-trace" in tables and "198.51.100" not in tables and "127.0.0.1" not in tables
    finally:
        await http.close()


def test_a_bad_trusted_proxy_stops_the_server_with_a_clear_message(tmp_path):
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   '[server]\ndatabase = "s.db"\nexport_dir = "e"\nsecrets_file = "s.secrets"\n'
                   'trusted_proxies = ["10.0.0.0/8", "not-a-network"]\n')
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    p = subprocess.run([bluezone, "serve", "--config", str(cfg), "--port", "0"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    assert "not-a-network" in p.stderr and "Traceback" not in p.stderr, p.stderr
    # and 'config check' reports it first, instead of answering OK for a file serve refuses
    check = subprocess.run([bluezone, "config", "check", str(cfg)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 1 and "deploy.toml:10: [server]: trusted_proxies: 'not-a-network'" in check.stderr, check.stderr
    assert "Traceback" not in check.stderr


async def test_under_attack_parallel_requests_of_one_client_get_one_guess(proxied):
    r = proxied
    for i in range(30):  # 30 failures from 3 addresses: the global bound is crossed
        await post(r, "/v1/verify", {"code": f"{i:08d}"}, f"198.51.100.{i % 3 + 1}")
    assert await r.http.app[LIMITS].under_attack(30)
    results = await asyncio.gather(*(post(r, "/v1/verify", {"code": f"{i:08d}"}, "198.51.100.200")
                                     for i in range(8)))
    statuses = sorted(s for s, _, _ in results)
    assert statuses == [400] + [429] * 7, statuses
    # and a citizen's valid code still goes through, also sent alongside a retry
    code = r.server.issue_code({"tier": "F0"})["code"]
    assert (await post(r, "/v1/verify", {"code": code}, "203.0.113.60"))[0] == 200


async def test_parallel_guesses_cannot_overrun_the_global_bound(proxied):
    """Attempts count as failures when admitted, not when their answer is
    known, so a burst in flight is still held to the bound."""
    r = proxied
    results = await asyncio.gather(*(post(r, "/v1/verify", {"code": f"{i:08d}"}, f"198.51.100.{i % 8 + 1}")
                                     for i in range(64)))
    statuses = [s for s, _, _ in results]
    assert statuses.count(400) <= 30 + 8 and set(statuses) == {400, 429}, statuses
