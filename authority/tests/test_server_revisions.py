"""Revisions on a real server on 127.0.0.1 (Google exposure-notifications-server
rules): a revision token from publish, likely → confirmed with it, a
"negative" code revoking only with the reporting device's token, every
other change refused with a stable code and nothing stored, revised keys
in the next export's ``revised_keys``, and the embargo listing."""

from __future__ import annotations

import aiohttp
import pytest

from bluezone.export import read_export
from bluezone.models import ReportType
from bluezone.transport import TransportError
from bluezone.transports import HttpTransport
from bluezone.upload import upload_with_code

from bluezone_authority.server.testing import past_keys, start


@pytest.fixture
async def running(tmp_path, server_database):
    r = await start(tmp_path, min_batch_keys=0, uploads_per_client_per_minute=100)
    yield r
    await r.http.close()


async def issue(r, **body) -> dict:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}/v1/authority/codes", json=body, headers=r.auth) as resp:
            data = await resp.json()
            assert resp.status == 201, data
            return data


def public_keys(r):
    return [{"key_id": r.server.settings.key_id, "key_version": "v1", "pem": r.server.keys.export_public_pem()}]


async def refused(r, t, code: str, keys, token: str = "") -> TransportError:
    stored = r.server.db.all("SELECT * FROM exposure_keys ORDER BY key_data")
    with pytest.raises(TransportError) as e:
        await upload_with_code(t, code, keys, token)
    assert r.server.db.all("SELECT * FROM exposure_keys ORDER BY key_data") == stored  # nothing changed
    return e.value


async def test_likely_then_confirmed_with_the_token_and_the_next_export_announces_it(running):
    r = running
    keys = past_keys(3)
    async with HttpTransport(r.url, retries=0) as t:
        first = await upload_with_code(t, (await issue(r, reportType="likely"))["code"], keys)
        assert first.receipt.inserted == 3 and first.receipt.revision
        r.server.export_now()
        # the same keys again without the token: refused, as before revisions existed
        err = await refused(r, t, (await issue(r, reportType="confirmed"))["code"], keys)
        assert err.code == "duplicate_upload"
        # a token the server did not make
        err = await refused(r, t, (await issue(r, reportType="confirmed"))["code"], keys, "AAAA" + first.receipt.revision[4:])
        assert err.code == "invalid_revision_token"
        # a real token that does not list these keys (another device's upload)
        other = await upload_with_code(t, (await issue(r, reportType="likely"))["code"], past_keys(1))
        err = await refused(r, t, (await issue(r, reportType="confirmed"))["code"], keys, other.receipt.revision)
        assert err.code == "revision_token_mismatch"
        # the device's own token: likely → confirmed, plus one new key
        extra = past_keys(1)
        again = await upload_with_code(t, (await issue(r, reportType="confirmed"))["code"], keys + extra,
                                       first.receipt.revision)
        assert (again.receipt.inserted, again.receipt.revised) == (1, 3)
        # confirmed → likely is not a revision; nor is a second one
        err = await refused(r, t, (await issue(r, reportType="likely"))["code"], keys, again.receipt.revision)
        assert err.code == "invalid_revision"

    export = r.server.export_now()
    assert export["realKeys"] == 2 + 3  # the two new keys (extra, the other device's) and the 3 revised
    data = r.server.feed_file("keys", export["batch"])
    parsed = read_export(data, public_keys(r))
    assert {k.key_data: k.report_type for k in parsed.revised_keys} == \
        {k.key_data: ReportType.CONFIRMED_TEST for k in keys}
    assert extra[0].key_data in {k.key_data for k in parsed.keys}
    assert not {k.key_data for k in keys} & {k.key_data for k in parsed.keys}
    assert r.server.export_now() == {"batch": None}  # announced once
    # no exact second of the revising upload is kept
    assert {t % 3600 for (t,) in r.server.db.all("SELECT revised_at FROM exposure_keys WHERE revised_at IS NOT NULL")} == {0}


async def test_a_negative_code_revokes_only_with_the_reporting_devices_token(running):
    r = running
    keys = past_keys(2)
    confirmed = await issue(r, reportType="confirmed")
    async with HttpTransport(r.url, retries=0) as t:
        first = await upload_with_code(t, confirmed["code"], keys)
        r.server.export_now()
        negative = await issue(r, reportType="negative")
        assert negative["reportType"] == int(ReportType.REVOKED)
        # without the device's token a negative code revokes nothing (the server cannot find the keys)
        err = await refused(r, t, negative["code"], keys)
        assert err.code == "revision_token_required"
        other = await upload_with_code(t, (await issue(r, reportType="likely"))["code"], past_keys(1))
        err = await refused(r, t, (await issue(r, reportType="negative"))["code"], keys, other.receipt.revision)
        assert err.code == "revision_token_mismatch"
        # the reporting device: confirmed → revoked; a key the token does not list is not published
        unknown = past_keys(1)
        done = await upload_with_code(t, (await issue(r, reportType="negative"))["code"], keys + unknown,
                                      first.receipt.revision)
        assert (done.receipt.inserted, done.receipt.revised) == (0, 2)
        # revoked is final: confirming it again is refused
        err = await refused(r, t, (await issue(r, reportType="confirmed"))["code"], keys, done.receipt.revision)
        assert err.code == "invalid_revision"
    parsed = read_export(r.server.feed_file("keys", r.server.export_now()["batch"]), public_keys(r))
    assert {k.key_data: k.report_type for k in parsed.revised_keys} == {k.key_data: ReportType.REVOKED for k in keys}
    assert unknown[0].key_data not in {k.key_data for k in [*parsed.keys, *parsed.revised_keys]}
    # nothing on the server ties the keys to a code: no column names one
    with r.server.db.transaction() as c:
        columns = r.server.db.backend.columns(c, "exposure_keys")
    assert "revised_at" in columns  # (the catalogue query works on this backend)
    assert not columns & {"upload_id", "code_id", "issued_by"}


async def test_a_revoked_key_not_yet_published_is_never_published(running):
    r = running
    async with HttpTransport(r.url, retries=0) as t:
        first = await upload_with_code(t, (await issue(r, reportType="likely"))["code"], past_keys(1))
        keys = [k for k in first.keys]
        done = await upload_with_code(t, (await issue(r, reportType="negative"))["code"], keys, first.receipt.revision)
    assert done.receipt.revised == 1
    assert r.server.export_now() == {"batch": None}


async def test_the_embargo_lists_todays_key_with_its_release_time(running):
    from bluezone.models import ExposureKey, interval_number

    r = running
    now = int(r.clock())
    today = ExposureKey(b"\x01" * 16, interval_number(now) // 144 * 144, interval_number(now) % 144)  # ended now
    async with HttpTransport(r.url, retries=0) as t:
        await upload_with_code(t, (await issue(r))["code"], past_keys(1) + [today])
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{r.url}/v1/authority/embargo", headers=r.auth) as resp:
            view = await resp.json()
    release = (today.rolling_start_interval_number + 144) * 600 + 7200  # the end of its UTC day + the embargo
    assert view["embargoed"] == [{"availableAt": release, "keys": 1}]
    assert view["readyForNextExport"] == 1
    assert r.server.export_now()["realKeys"] == 1  # the embargoed key waits
    r.clock.t = release
    assert r.server.embargo()["embargoed"] == [] and r.server.export_now()["realKeys"] == 1
