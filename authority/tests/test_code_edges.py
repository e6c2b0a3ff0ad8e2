"""Verification codes at their edges, over a real socket: how long each kind
lives, which HMACs a certificate is refused for, and that an F0 code still
goes all the way where F1 reports are switched off.

Each case was left open by the flow tests (mutation testing changed the
lifetime, the HMAC length check, the base64 strictness and the F1 gate, and
they still passed)."""

from __future__ import annotations

import base64
import dataclasses
import json

import aiohttp
import pytest

from bluezone_authority.server import codes
from bluezone_authority.server.errors import ApiError
from bluezone_authority.server.testing import NOW, start


async def post(r, path, body, headers=None):
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}{path}", data=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json", **(headers or {})}) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path)
    yield r
    await r.http.close()


async def test_a_short_code_lives_fifteen_minutes_and_a_long_one_a_day(running):
    r = running
    status, short = await post(r, "/v1/authority/codes", {"tier": "F0", "kind": "short"}, r.auth)
    assert status in (200, 201) and short["expiresAt"] == NOW + 15 * 60
    status, long = await post(r, "/v1/authority/codes", {"tier": "F0", "kind": "long"}, r.auth)
    assert status in (200, 201) and long["expiresAt"] == NOW + 24 * 3600
    r.clock.t = NOW + 15 * 60 - 1  # the short code's last second
    status, data = await post(r, "/v1/verify", {"code": short["code"]})
    assert status == 200 and data["token"].startswith("bzt_")
    assert data["expiresAt"] == r.clock.t + 24 * 3600  # a token lives a day
    status, cert = await post(r, "/v1/certificate", {"token": data["token"],
                                                     "ekeyhmac": base64.b64encode(b"\1" * 32).decode()})
    assert status == 200 and cert["expiresAt"] == r.clock.t + 15 * 60  # a certificate 15 minutes
    r.clock.t = NOW + 23 * 3600  # long past a short code's life, inside a long one's
    status, data = await post(r, "/v1/verify", {"code": long["code"]})
    assert status == 200 and data["token"].startswith("bzt_")


@pytest.mark.parametrize("mac", [
    base64.b64encode(b"\1" * 33).decode(),  # one byte too long
    base64.b64encode(b"\1" * 64).decode(),  # a SHA-512 HMAC
    "!!" + base64.b64encode(b"\1" * 32).decode(),  # 32 bytes behind characters base64 does not have
], ids=["33-bytes", "64-bytes", "not-base64"])
async def test_a_certificate_needs_the_base64_of_exactly_32_bytes(running, mac):
    r = running
    issued = r.server.issue_code({"tier": "F0"})
    token = r.server.verify({"code": issued["code"]})["token"]
    before = r.server.db.fingerprint()
    status, data = await post(r, "/v1/certificate", {"token": token, "ekeyhmac": mac})
    assert (status, data["error"]["code"]) == (400, "invalid_hmac")
    assert r.server.db.fingerprint() == before
    good = base64.b64encode(b"\1" * 32).decode()
    assert (await post(r, "/v1/certificate", {"token": token, "ekeyhmac": good}))[0] == 200  # the control


async def test_an_f0_code_is_redeemed_and_certified_where_f1_reports_are_off(tmp_path):
    r = await start(tmp_path, recursive_reports=False)
    try:
        status, issued = await post(r, "/v1/authority/codes", {"tier": "F0"}, r.auth)
        assert status in (200, 201)
        status, data = await post(r, "/v1/verify", {"code": issued["code"]})
        assert status == 200, data
        mac = base64.b64encode(b"\1" * 32).decode()
        status, cert = await post(r, "/v1/certificate", {"token": data["token"], "ekeyhmac": mac})
        assert status == 200 and cert["certificate"], cert
    finally:
        await r.http.close()


def test_short_codes_are_drawn_from_all_eight_digit_numbers():
    """1,000 draws: the chance that none is at or above 9**8 (43 % of the
    range) is 0.43**1000, so a narrowed range (or a constant code) fails."""
    from bluezone_authority.server.codes import new_code

    drawn = [new_code("short") for _ in range(1000)]
    assert all(len(c) == 8 and c.isdigit() for c in drawn)
    assert len(set(drawn)) > 990 and max(int(c) for c in drawn) >= 9 ** 8


async def test_an_onset_today_is_accepted_and_a_date_that_does_not_exist_refused(running):
    import datetime as dt

    r = running
    today = dt.datetime.fromtimestamp(NOW, dt.timezone.utc).date().isoformat()
    status, data = await post(r, "/v1/authority/codes", {"tier": "F0", "symptomOnsetDate": today}, r.auth)
    assert status in (200, 201), data
    before = r.server.db.fingerprint()
    for bad in ("2023-02-30", "2023-13-01"):
        status, data = await post(r, "/v1/authority/codes", {"tier": "F0", "symptomOnsetDate": bad}, r.auth)
        assert (status, data["error"]["code"]) == (400, "invalid_date")
    assert r.server.db.fingerprint() == before


async def test_an_issued_code_is_a_fixed_record_of_what_was_stored(running):
    """What ``issue_code`` returns is what the codes table holds (its hash, kind,
    expiry); the handler and the portal only read it. Frozen, so no later step
    can show staff a code or an expiry other than the stored one; hashable, so
    two reads of one issue compare as one value."""
    r = running
    issued = codes.issue_code(r.server.db, r.server.keys, r.server.settings, {"tier": "F0"},
                              now=NOW, issued_by=None, allow_recursive=False)
    row = r.server.db.one("SELECT kind, expires_at FROM codes WHERE code_hash = ?",
                          (codes.code_hash(r.server.keys, issued.code),))
    assert tuple(row) == (issued.kind, issued.expires_at)
    with pytest.raises(dataclasses.FrozenInstanceError):
        issued.expires_at = NOW + 10 ** 6  # type: ignore[misc]
    assert {issued, dataclasses.replace(issued)} == {issued}


async def test_a_short_code_is_eight_digits_and_a_long_one_sixteen_characters(running):
    """Asked for over HTTP (the kind is a string parsed from JSON, not the
    default literal): a short code is one a person can type from a phone call."""
    r = running
    status, short = await post(r, "/v1/authority/codes", {"tier": "F0", "kind": "short"}, r.auth)
    assert status in (200, 201) and len(short["code"]) == 8 and short["code"].isdigit()
    status, long = await post(r, "/v1/authority/codes", {"tier": "F0", "kind": "long"}, r.auth)
    assert status in (200, 201) and len(long["code"]) == 16
    assert set(long["code"]) <= set(codes.LONG_ALPHABET)


@pytest.mark.parametrize("tier", ["", "F0x", "E1", "F"])
async def test_a_tier_other_than_f0_or_f1_is_refused(running, tier):
    """Strings sorting near "F0" and "F1" are not those tiers."""
    r = running
    before = r.server.db.fingerprint()
    status, data = await post(r, "/v1/authority/codes", {"tier": tier}, r.auth)
    assert (status, data["error"]["code"]) == (400, "invalid_tier")
    assert r.server.db.fingerprint() == before


async def test_an_onset_fourteen_days_ago_is_accepted_and_fifteen_refused(running):
    import datetime as dt

    r = running
    today = dt.datetime.fromtimestamp(NOW, dt.timezone.utc).date()
    day = (today - dt.timedelta(days=14)).isoformat()
    status, data = await post(r, "/v1/authority/codes", {"tier": "F0", "symptomOnsetDate": day}, r.auth)
    assert status in (200, 201), data
    day = (today - dt.timedelta(days=15)).isoformat()
    status, data = await post(r, "/v1/authority/codes", {"tier": "F0", "symptomOnsetDate": day}, r.auth)
    assert (status, data["error"]["code"]) == (400, "invalid_date")


async def test_a_token_past_its_day_gets_no_certificate(running):
    """The token lives 24 hours: from its end on, the certificate is refused
    and the code stays claimed (the phone asks for a new code)."""
    r = running
    issued = r.server.issue_code({"tier": "F0"})
    token = r.server.verify({"code": issued["code"]})["token"]
    mac = base64.b64encode(b"\1" * 32).decode()
    before = r.server.db.fingerprint()
    for t in (NOW + 24 * 3600, NOW + 24 * 3600 + 1):  # its end, and a second after
        r.clock.t = t
        status, data = await post(r, "/v1/certificate", {"token": token, "ekeyhmac": mac})
        assert (status, data["error"]["code"]) == (400, "token_expired")
    assert r.server.db.fingerprint() == before


async def test_an_empty_onset_means_unknown_and_a_number_is_refused(running):
    r = running
    status, data = await post(r, "/v1/authority/codes", {"tier": "F0", "symptomOnsetDate": ""}, r.auth)
    assert status in (200, 201), data
    before = r.server.db.fingerprint()
    status, data = await post(r, "/v1/authority/codes", {"tier": "F0", "symptomOnsetDate": 20231101}, r.auth)
    assert (status, data["error"]["code"]) == (400, "invalid_date")
    assert r.server.db.fingerprint() == before


async def test_a_redeemed_code_tried_again_after_its_expiry_is_already_used(running):
    """The person is told the truth (their code was used), not to ask for a new one."""
    r = running
    status, issued = await post(r, "/v1/authority/codes", {"tier": "F0"}, r.auth)
    assert (await post(r, "/v1/verify", {"code": issued["code"]}))[0] == 200
    r.clock.t = NOW + 15 * 60 + 1
    status, data = await post(r, "/v1/verify", {"code": issued["code"]})
    assert (status, data["error"]["code"]) == (400, "code_used")


@pytest.mark.parametrize("token", [None, 12345, ["bzt_x"]], ids=["null", "number", "list"])
async def test_a_token_that_is_not_text_is_refused_as_invalid(running, token):
    r = running
    mac = base64.b64encode(b"\1" * 32).decode()
    status, data = await post(r, "/v1/certificate", {"token": token, "ekeyhmac": mac})
    assert (status, data["error"]["code"]) == (400, "invalid_token")


async def test_a_code_not_redeemed_in_its_fifteen_minutes_has_expired(running):
    r = running
    status, issued = await post(r, "/v1/authority/codes", {"tier": "F0"}, r.auth)
    before = r.server.db.fingerprint()
    for t in (NOW + 15 * 60, NOW + 15 * 60 + 1):  # its end, and a second after
        r.clock.t = t
        status, data = await post(r, "/v1/verify", {"code": issued["code"]})
        assert (status, data["error"]["code"]) == (400, "code_expired")
    assert r.server.db.fingerprint() == before


async def test_a_code_another_request_claimed_first_gives_no_token(running):
    """Two phones send one code at once: both read it as issued, one claims it.
    The SQLite trigger stands in for the request that wins (its UPDATE comes
    first, so ours changes no row); the loser must get ``code_used``, not a
    token that was never stored."""
    r = running
    status, issued = await post(r, "/v1/authority/codes", {"tier": "F0"}, r.auth)
    with r.server.db.transaction() as c:
        c.execute("CREATE TRIGGER lost_race BEFORE UPDATE OF state ON codes WHEN NEW.state = 'claimed'"
                  " BEGIN SELECT RAISE(IGNORE); END")
    status, data = await post(r, "/v1/verify", {"code": issued["code"]})
    assert (status, data["error"]["code"]) == (400, "code_used")


async def test_a_token_another_request_certified_first_gets_no_certificate(running):
    """The same race one step on: a token sent twice at once gets one certificate."""
    r = running
    issued = r.server.issue_code({"tier": "F0"})
    token = r.server.verify({"code": issued["code"]})["token"]
    with r.server.db.transaction() as c:
        c.execute("CREATE TRIGGER lost_race BEFORE UPDATE OF state ON codes WHEN NEW.state = 'certified'"
                  " BEGIN SELECT RAISE(IGNORE); END")
    mac = base64.b64encode(b"\1" * 32).decode()
    status, data = await post(r, "/v1/certificate", {"token": token, "ekeyhmac": mac})
    assert (status, data["error"]["code"]) == (400, "token_used")


async def test_a_revocation_code_goes_all_the_way_where_f1_reports_are_off(tmp_path):
    """The F1 gate is for F1 alone: "negative" (a revocation) sorts after it
    as a report type number and must still be issued, redeemed and certified."""
    r = await start(tmp_path, recursive_reports=False)
    try:
        status, issued = await post(r, "/v1/authority/codes", {"tier": "F0", "reportType": "negative"}, r.auth)
        assert status in (200, 201), issued
        status, data = await post(r, "/v1/verify", {"code": issued["code"]})
        assert status == 200, data
        mac = base64.b64encode(b"\1" * 32).decode()
        status, cert = await post(r, "/v1/certificate", {"token": data["token"], "ekeyhmac": mac})
        assert status == 200 and cert["certificate"], cert
    finally:
        await r.http.close()


@pytest.mark.parametrize("body,error", [
    ({"tier": "F0", "kind": "medium"}, "invalid_kind"),
    ({"tier": "F0", "reportType": "positive"}, "invalid_report_type"),
], ids=["kind", "report-type"])
async def test_an_unknown_kind_or_report_type_is_refused(running, body, error):
    r = running
    before = r.server.db.fingerprint()
    status, data = await post(r, "/v1/authority/codes", body, r.auth)
    assert (status, data["error"]["code"]) == (400, error)
    assert r.server.db.fingerprint() == before


@pytest.mark.parametrize("field", ["symptomOnsetDate", "testDate"])
async def test_a_date_in_the_future_or_fifteen_days_ago_is_refused_and_fourteen_accepted(running, field):
    import datetime as dt

    r = running
    today = dt.datetime.fromtimestamp(NOW, dt.timezone.utc).date()
    status, data = await post(r, "/v1/authority/codes",
                              {"tier": "F0", field: (today - dt.timedelta(days=14)).isoformat()}, r.auth)
    assert status in (200, 201), data
    for days in (-1, 15):  # tomorrow, and a day before the fortnight
        day = (today - dt.timedelta(days=days)).isoformat()
        status, data = await post(r, "/v1/authority/codes", {"tier": "F0", field: day}, r.auth)
        assert (status, data["error"]["code"]) == (400, "invalid_date"), day


async def test_an_unknown_token_is_invalid(running):
    r = running
    mac = base64.b64encode(b"\1" * 32).decode()
    status, data = await post(r, "/v1/certificate", {"token": "bzt_" + "A" * 43, "ekeyhmac": mac})
    assert (status, data["error"]["code"]) == (400, "invalid_token")


async def test_a_certified_token_sent_again_after_its_day_is_already_used(running):
    r = running
    issued = r.server.issue_code({"tier": "F0"})
    token = r.server.verify({"code": issued["code"]})["token"]
    mac = base64.b64encode(b"\1" * 32).decode()
    assert (await post(r, "/v1/certificate", {"token": token, "ekeyhmac": mac}))[0] == 200
    r.clock.t = NOW + 24 * 3600 + 1
    status, data = await post(r, "/v1/certificate", {"token": token, "ekeyhmac": mac})
    assert (status, data["error"]["code"]) == (400, "token_used")


def test_a_certificate_is_refused_from_its_expiry_and_for_another_audience(tmp_path):
    """Signed with the server's own certificate key, so only the claims differ."""
    from bluezone_authority.server import jws
    from bluezone_authority.server.keys import load_or_create

    keys = load_or_create(tmp_path / "secrets.json", None)
    claims = {"iss": "bluezone", "aud": codes.CERT_AUDIENCE, "jti": "x", "iat": NOW, "exp": NOW + 900}
    good = jws.sign(claims, keys.certificate_key, kid="cert-v1")
    assert codes.check_certificate(keys, good, now=NOW + 899)["jti"] == "x"
    for now in (NOW + 900, NOW + 901):
        with pytest.raises(ApiError) as refused:
            codes.check_certificate(keys, good, now=now)
        assert refused.value.code == "certificate_expired"
    for aud in ("bluezone-portal", "bluezone-publish-x", "a"):
        other = jws.sign(dict(claims, aud=aud), keys.certificate_key, kid="cert-v1")
        with pytest.raises(ApiError) as refused:
            codes.check_certificate(keys, other, now=NOW)
        assert refused.value.code == "invalid_certificate"


async def test_codes_used_before_forgetting_existed_are_scrubbed(running):
    """The migration step: a used code's hashes and its issuer are forgotten and its times cut to the hour."""
    r = running
    issued = codes.issue_code(r.server.db, r.server.keys, r.server.settings, {"tier": "F0"},
                              now=NOW, issued_by="staff-1", allow_recursive=False)
    digest = codes.code_hash(r.server.keys, issued.code)
    with r.server.db.transaction() as c:
        c.execute("UPDATE codes SET state = 'used', used_at = ? WHERE id = ?", (NOW, issued.id))
    with r.server.db.transaction() as c:
        codes.scrub_used(c)
    row = r.server.db.one("SELECT issued_by, code_hash, used_at FROM codes WHERE id = ?", (issued.id,))
    assert row[0] is None and bytes(row[1]) != digest and row[2] == NOW - NOW % 3600
