"""Every class of bad input answers 4xx with a JSON error code and leaves the
database exactly as it was (row-by-row fingerprint), over a real socket."""

from __future__ import annotations

import base64
import json
import secrets

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from bluezone.models import INTERVALS_PER_DAY, ExposureKey, day_start_interval
from bluezone_authority.server.testing import NOW, past_keys, start
from bluezone.verification import keys_hmac
from bluezone.transports.wire import publish_body


@pytest.fixture
async def running(tmp_path, server_database):
    r = await start(tmp_path)
    yield r
    await r.http.close()


async def post(r, path, *, body=None, raw=None, headers=None):
    headers = dict(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    headers.setdefault("Content-Type", "application/json")
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}{path}", data=data, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers


async def certified(r, keys, **code_args):
    """A code issued, redeemed and certified for ``keys``: returns (certificate, secret)."""
    code = r.server.issue_code({"tier": "F0", **code_args})["code"]
    token = r.server.verify({"code": code})["token"]
    secret = secrets.token_bytes(32)
    cert = r.server.certificate({"token": token, "ekeyhmac": base64.b64encode(keys_hmac(secret, keys)).decode()})
    return cert["certificate"], secret


async def assert_refused(r, path, status, code, **kw):
    before = r.server.db.fingerprint()
    got_status, data, headers = await post(r, path, **kw)
    assert got_status == status, data
    assert data["error"]["code"] == code
    assert data["error"]["message"] and data["error"]["message_vi"]
    assert headers["Content-Type"].startswith("application/json")
    assert r.server.db.fingerprint() == before, "a refused request changed the database"


async def test_malformed_json_wrong_types_and_media_type(running):
    r = running
    await assert_refused(r, "/v1/verify", 400, "invalid_json", raw=b"{not json")
    await assert_refused(r, "/v1/verify", 400, "invalid_json", body=[1, 2])
    await assert_refused(r, "/v1/verify", 400, "invalid_code", body={"code": 12345678})
    await assert_refused(r, "/v1/publish", 400, "invalid_certificate", body={"temporaryExposureKeys": "x"})
    await assert_refused(r, "/v1/verify", 415, "unsupported_media_type", raw=b"code=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    await assert_refused(r, "/v1/nothing", 404, "not_found", body={})


async def test_oversize_body(running):
    r = running
    await assert_refused(r, "/v1/publish", 413, "too_large", raw=b"{" + b" " * 70_000 + b"}")


async def test_wrong_expired_and_reused_codes(running):
    r = running
    await assert_refused(r, "/v1/verify", 400, "invalid_code", body={"code": "00000000"})
    code = r.server.issue_code({"tier": "F0"})["code"]
    r.clock.t = NOW + 15 * 60  # exactly the end of a short code's life
    await assert_refused(r, "/v1/verify", 400, "code_expired", body={"code": code})
    r.clock.t = NOW
    status, data, _ = await post(r, "/v1/verify", body={"code": code})
    assert status == 200 and data["token"].startswith("bzt_")
    await assert_refused(r, "/v1/verify", 400, "code_used", body={"code": code})
    # a token gives one certificate only
    mac = base64.b64encode(b"\0" * 32).decode()
    assert (await post(r, "/v1/certificate", body={"token": data["token"], "ekeyhmac": mac}))[0] == 200
    await assert_refused(r, "/v1/certificate", 400, "token_used", body={"token": data["token"], "ekeyhmac": mac})
    await assert_refused(r, "/v1/certificate", 400, "invalid_hmac", body={"token": "bzt_x", "ekeyhmac": "short"})


async def test_publish_refusals_leave_nothing(running):
    r = running
    keys = past_keys(3)
    cert, secret = await certified(r, keys)
    good = publish_body(keys, cert, secret)

    wrong_secret = publish_body(keys, cert, secrets.token_bytes(32))
    await assert_refused(r, "/v1/publish", 400, "hmac_mismatch", body=wrong_secret)
    other_keys = publish_body(past_keys(3), cert, secret)
    await assert_refused(r, "/v1/publish", 400, "hmac_mismatch", body=other_keys)
    forged = dict(good, verificationPayload=cert[:-4] + ("AAAA" if not cert.endswith("AAAA") else "BBBB"))
    await assert_refused(r, "/v1/publish", 400, "invalid_certificate", body=forged)
    r.clock.t = NOW + 15 * 60
    await assert_refused(r, "/v1/publish", 400, "certificate_expired", body=good)
    r.clock.t = NOW

    status, data, _ = await post(r, "/v1/publish", body=good)
    assert status == 200 and data["insertedExposures"] == 3
    await assert_refused(r, "/v1/publish", 409, "certificate_used", body=good)
    # the same keys with a fresh certificate: duplicate upload
    cert2, secret2 = await certified(r, keys)
    await assert_refused(r, "/v1/publish", 409, "duplicate_upload", body=publish_body(keys, cert2, secret2))


@pytest.mark.parametrize("case,code", [
    ("too_old", "key_too_old"), ("too_many", "too_many_keys"), ("bad_length", "invalid_key_length"),
    ("bad_period", "invalid_rolling_period"), ("future", "key_in_future"), ("dup_in_request", "duplicate_keys"),
    ("same_start", "too_many_keys_per_day"), ("empty", "no_keys"),
])
async def test_key_validation(running, case, code):
    r = running
    today = day_start_interval(NOW)
    k = lambda start, data=None, period=144: ExposureKey(data or secrets.token_bytes(16), start, period)
    keys = {
        "too_old": [k(today - 15 * INTERVALS_PER_DAY)],
        "too_many": past_keys(31),
        "bad_length": [k(today - 144, secrets.token_bytes(15))],
        "bad_period": [k(today - 144, period=145)],
        "future": [k(today + 144)],
        "dup_in_request": [k(today - 144, b"\1" * 16), k(today - 288, b"\1" * 16)],
        "same_start": [k(today - 144, period=p) for p in (10, 20, 30, 40)],
        "empty": [],
    }[case]
    cert, secret = await certified(r, keys)
    await assert_refused(r, "/v1/publish", 400, code, body=publish_body(keys, cert, secret))


async def test_staff_api_needs_a_token_with_the_right_role(running):
    r = running
    await assert_refused(r, "/v1/authority/codes", 401, "unauthenticated", body={})
    await assert_refused(r, "/v1/authority/codes", 401, "unauthenticated", body={},
                         headers={"Authorization": "Bearer bzs_nope"})
    _, reader = r.server.create_staff_token("reader", "declarations")
    await assert_refused(r, "/v1/authority/codes", 403, "forbidden", body={},
                         headers={"Authorization": f"Bearer {reader}"})
    await assert_refused(r, "/v1/authority/codes", 400, "invalid_tier", body={"tier": "F3"}, headers=r.auth)
    await assert_refused(r, "/v1/authority/codes", 400, "invalid_date", body={"symptomOnsetDate": "2020-01-01"},
                         headers=r.auth)


async def test_f1_codes_refused_unless_the_deployment_opts_in(tmp_path, server_database):
    r = await start(tmp_path, recursive_reports=False)
    try:
        await assert_refused(r, "/v1/authority/codes", 403, "recursive_disabled", body={"tier": "F1"}, headers=r.auth)
        assert r.server.db.counts()["codes"] == 0
        status, data, _ = await post(r, "/v1/authority/codes", body={"tier": "F0"}, headers=r.auth)
        assert status in (200, 201) and data["code"]  # the control: F0 codes are still issued
    finally:
        await r.http.close()


async def test_declaration_refusals(running):
    r = running
    await assert_refused(r, "/v1/declarations", 400, "invalid_declaration", body={"sealed": "not base64!"})
    await assert_refused(r, "/v1/declarations", 400, "invalid_declaration", body={"sealed": base64.b64encode(b"x").decode()})
    await assert_refused(r, "/v1/declarations", 400, "invalid_declaration", body={"sealed": 5})


def test_fuzzed_publish_bodies_never_crash_or_write(tmp_path, server_database):
    """Each mutated body is POSTed to a real server on loopback (one event loop
    for the whole run; hypothesis drives it example by example)."""
    import asyncio

    loop = asyncio.new_event_loop()
    r = loop.run_until_complete(start(tmp_path, uploads_per_client_per_minute=100_000))
    server = r.server
    keys = past_keys(2)
    cert, secret = loop.run_until_complete(certified(r, keys))
    base = publish_body(keys, cert, secret)
    before = server.db.fingerprint()
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                               lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                               max_leaves=10)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(["temporaryExposureKeys", "verificationPayload", "hmacKey", "key", "rollingStartNumber",
                                  "rollingPeriod", "transmissionRisk"]), value=json_values)
    def run(field, value):
        body = json.loads(json.dumps(base))
        if field in body:
            body[field] = value
        else:
            body["temporaryExposureKeys"][0][field] = value
        assume(body != base)
        status, data, headers = loop.run_until_complete(post(r, "/v1/publish", body=body))
        # only the untouched body may pass, and it is not sent here
        assert 400 <= status < 500 and status != 429, (field, value, status, data)
        assert data["error"]["code"] and headers["Content-Type"].startswith("application/json")
        assert server.db.fingerprint() == before

    try:
        run()
    finally:
        loop.run_until_complete(r.http.close())
        loop.close()
