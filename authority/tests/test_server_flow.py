"""End-to-end flows against a real aiohttp server on 127.0.0.1.

F0: a case officer issues a code → the device redeems it, gets a certificate
bound to the HMAC of its keys, publishes → an export is built → a client
downloads it over http and from the export directory (file transport) →
the signature verifies → the keys parse with the report type, DSOS and
transmission risk the server derived. F1: the same with RECURSIVE.
"""

from __future__ import annotations

import datetime as dt
import os
import stat

import aiohttp
import pytest

from bluezone.export import read_export
from bluezone.feeds import open_payload
from bluezone.models import INTERVALS_PER_DAY, ReportType, day_start_interval
from bluezone.transport import FeedState
from bluezone.upload import upload_with_code
from bluezone.transports import FileTransport, HttpTransport

from bluezone_authority.server.testing import NOW, past_keys, start


@pytest.fixture
async def running(tmp_path, server_database):
    r = await start(tmp_path)
    yield r
    await r.http.close()


async def issue(r, **body) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}/v1/authority/codes", json=body, headers=r.auth) as resp:
            data = await resp.json()
            assert resp.status == 201, data
            return data["code"]


def public_keys(r):
    return [{"key_id": r.server.settings.key_id, "key_version": "v1", "pem": r.server.keys.export_public_pem()}]


async def test_f0_flow_over_http_and_file(running):
    r = running
    onset = (dt.datetime.fromtimestamp(NOW, dt.timezone.utc).date() - dt.timedelta(days=3)).isoformat()
    code = await issue(r, tier="F0", reportType="confirmed", symptomOnsetDate=onset)
    assert len(code) == 8 and code.isdigit()
    keys = past_keys(10)
    async with HttpTransport(r.url, retries=0) as t:
        result = await upload_with_code(t, code, keys)
        assert result.receipt.inserted == 10
        assert result.report_type == ReportType.CONFIRMED_TEST
        assert r.server.export_now()["realKeys"] == 10

        batches, state = await t.download("keys", FeedState())
        assert len(batches) == 1
        export = read_export(batches[0].payload, public_keys(r))
        # padded like the Google key server: 1000 + random(0..100)
        assert 1000 <= len(export.keys) <= 1100
        mine = {k.key_data: k for k in export.keys if k.key_data in {x.key_data for x in keys}}
        assert len(mine) == 10
        onset_interval = day_start_interval(NOW) - 3 * INTERVALS_PER_DAY
        for k in keys:
            got = mine[k.key_data]
            assert got.report_type == ReportType.CONFIRMED_TEST
            assert got.rolling_start_interval_number == k.rolling_start_interval_number
            dsos = (k.rolling_start_interval_number - onset_interval) // INTERVALS_PER_DAY
            assert got.days_since_onset_of_symptoms == dsos
            assert got.transmission_risk_level == (2 if -2 <= dsos <= 5 else 1)
        # second sync: the index is unchanged → one 304, nothing downloaded
        again, state2 = await t.download("keys", state)
        assert again == [] and state2 == state and t.stats["not_modified"] == 1

    files, _ = await FileTransport(r.server.settings.export_dir).download("keys")
    assert [b.payload for b in files] == [batches[0].payload]
    assert len(read_export(files[0].payload, public_keys(r)).keys) == len(export.keys)


async def test_f1_recursive_flow_with_a_long_code(running):
    r = running
    code = await issue(r, tier="F1", kind="long")
    assert len(code) == 16 and code.isalnum() and code == code.lower()
    keys = past_keys(5)
    async with HttpTransport(r.url, retries=0) as t:
        result = await upload_with_code(t, code, keys)
        assert result.report_type == ReportType.RECURSIVE
    r.server.export_now()
    files, _ = await FileTransport(r.server.settings.export_dir).download("keys")
    export = read_export(files[0].payload, public_keys(r))
    mine = [k for k in export.keys if k.key_data in {x.key_data for x in keys}]
    assert len(mine) == 5 and {k.report_type for k in mine} == {ReportType.RECURSIVE}
    assert {k.report_type for k in export.keys} == {ReportType.RECURSIVE}  # padding copies real fields


async def test_todays_key_is_embargoed_until_its_end_plus_two_hours(running):
    r = running
    today = day_start_interval(NOW)
    from bluezone.models import ExposureKey
    import secrets
    current = ExposureKey(secrets.token_bytes(16), today, INTERVALS_PER_DAY)
    code = await issue(r)
    async with HttpTransport(r.url, retries=0) as t:
        await upload_with_code(t, code, [current] + past_keys(2))
    assert r.server.export_now()["realKeys"] == 2
    end = (today + INTERVALS_PER_DAY) * 600
    r.clock.t = end + 2 * 3600 - 1
    assert r.server.export_now()["batch"] is None
    r.clock.t = end + 2 * 3600
    assert r.server.export_now()["realKeys"] == 1


async def test_venue_trace_feed_is_signed_and_served(running):
    r = running
    batch = r.server.publish_payload("venue-traces", b"trace-bytes", start_ts=NOW - 3600, end_ts=NOW)
    async with HttpTransport(r.url, retries=0) as t:
        got, _ = await t.download("venue-traces")
    assert [b.name for b in got] == [batch.name]
    assert open_payload(got[0].payload, public_keys(r)).payload == b"trace-bytes"
    files, _ = await FileTransport(r.server.settings.export_dir).download("venue-traces")
    assert files[0].payload == got[0].payload


async def test_one_time_authority_token_is_spent_once(running):
    r = running
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}/v1/authority/one-time-tokens", json={"purpose": "venue-trace",
                          "meta": {"case": "x"}}, headers=r.auth) as resp:
            tok = (await resp.json())["token"]
    assert r.server.consume_one_time_token(tok, "venue-trace") == {"case": "x"}
    from bluezone_authority.server import ApiError
    with pytest.raises(ApiError) as e:
        r.server.consume_one_time_token(tok, "venue-trace")
    assert e.value.code == "authority_token_used"


async def test_declaration_intake_stores_ciphertext_staff_can_download(running):
    r = running
    import nacl.public
    authority = nacl.public.PrivateKey.generate()
    sealed = nacl.public.SealedBox(authority.public_key).encrypt(b'{"fever": true}')
    async with HttpTransport(r.url, retries=0) as t:
        receipt = await t.upload_declaration(sealed)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{r.url}/v1/authority/declarations", headers=r.auth) as resp:
            listing = (await resp.json())["declarations"]
        async with s.get(f"{r.url}/v1/authority/declarations/{receipt}", headers=r.auth) as resp:
            got = await resp.json()
        async with s.get(f"{r.url}/v1/authority/declarations") as resp:
            assert resp.status == 401
    assert [d["id"] for d in listing] == [receipt]
    import base64
    stored = base64.b64decode(got["sealed"])
    assert stored == sealed and b"fever" not in stored
    assert nacl.public.SealedBox(authority).decrypt(stored) == b'{"fever": true}'


async def test_retention_deletes_old_keys_batches_and_files(running):
    r = running
    code = await issue(r)
    async with HttpTransport(r.url, retries=0) as t:
        await upload_with_code(t, code, past_keys(3))
    name = r.server.export_now()["batch"]
    folder = r.server.settings.export_dir / "keys"
    assert (folder / name).exists()
    r.clock.t = NOW + 20 * 86400
    out = r.server.purge()
    assert out["keys"] == 3 and out["batches"] == 1
    assert not (folder / name).exists() and (folder / "index.txt").read_text() == ""
    assert r.server.db.counts()["exposure_keys"] == 0


def test_server_files_are_private(tmp_path):
    from bluezone_authority.server import AuthorityServer
    from bluezone_authority.server.testing import settings_for
    s = AuthorityServer(settings_for(tmp_path))
    for p in (tmp_path / "server.db", tmp_path / "secrets.json"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    s.close()
