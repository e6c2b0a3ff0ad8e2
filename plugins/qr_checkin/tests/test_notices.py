"""Staff-chosen notices only (issue 17 item 8).

A venue owner once wrote the notice the authority signed ("you must pay
500.000 VND … http://evil.example/pay" showed on a phone). Now the upload
cannot carry text, the staff's token names a notice id from the authority's
catalogue, and the phone shows its own text for that id — even for a trace
that does carry free text. Real server on 127.0.0.1, real http download,
real device store, ``bluezone visits`` as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from bluezone.config import load_config
from bluezone.store import DeviceStore
from bluezone.sync import process_batches
from bluezone.transport import FeedState
from bluezone_qr_checkin import checkin, notices, tracing
from bluezone_qr_checkin import payload as qp
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb
from bluezone.transports import HttpTransport

import venue_server

EVIL = "you must pay 500.000 VND at http://evil.example/pay"
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
HOUR = 3600


@pytest.fixture
async def vs(tmp_path, server_database):
    s = await venue_server.start(tmp_path)
    yield s
    await s.http.close()


async def _post(vs, body) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{vs.url}/v1/venue-traces/upload", json=body) as resp:
            return resp.status, await resp.json()


async def test_free_text_from_the_uploader_is_refused(vs):
    token = await vs.token()
    now = vs.now()
    before = vs.server.db.fingerprint()
    status, body = await _post(vs, {"token": token, "preTraces": vs.pretraces(now - HOUR, now), "message": EVIL})
    assert (status, body["error"]["code"]) == (400, "free_text_notice") and body["error"]["message_vi"]
    assert not vs.token_spent(token) and vs.server.db.fingerprint() == before and vs.workers.started == 0


async def test_unknown_notice_ids_are_refused(vs):
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{vs.url}/v1/authority/venue-traces/tokens", json={"notice": "pay-now"},
                          headers={"Authorization": f"Bearer {vs.staff}"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "unknown_notice"
        # the core's generic token route does not know notices: the upload refuses, the token stays unspent
        async with s.post(f"{vs.url}/v1/authority/one-time-tokens",
                          json={"purpose": "venue-trace", "meta": {"notice": "pay-now"}},
                          headers={"Authorization": f"Bearer {vs.staff}"}) as resp:
            token = (await resp.json())["token"]
    now = vs.now()
    status, body = await _post(vs, {"token": token, "preTraces": vs.pretraces(now - HOUR, now)})
    assert (status, body["error"]["code"]) == (400, "unknown_notice")
    assert not vs.token_spent(token) and vs.workers.started == 0


def _phone(vs, tmp_path: Path, catalogue: str = "") -> tuple[Path, Path]:
    (tmp_path / "export.pem").write_text(vs.server.keys.export_public_pem())
    cfg = venue_server.write_config(tmp_path / "device.toml", vs.url, vs.ha, qr=catalogue,
                                    authority='export_keys = [ { key_id = "452", public_key = "export.pem" } ]')
    phone = tmp_path / "phone.db"
    venue = qp.parse_payload(bytes(vs.code.qrCodePayload), check_time=False)
    with DeviceStore(phone) as store:
        checkin.check_in(store, venue, now=vs.now() - HOUR)
    return cfg, phone


async def _sync_and_list(vs, cfg: Path, phone: Path) -> tuple[list[dict], str, list[str]]:
    config = load_config(str(cfg))
    async with HttpTransport(vs.url, retries=0) as t:
        batches, _ = await t.download("venue-traces", FeedState())
    with DeviceStore(phone) as store:
        process_batches(store, config, batches, deliver=False)
        [visit] = store.visits("venue")
        stored = checkin.VisitData.from_bytes(visit.data).notices
        alerts = [a.message(lang) for a in store.alerts() for lang in ("vi", "en")]
    proc = await asyncio.create_subprocess_exec(BLUEZONE, "visits", "--store", str(phone), "--config", str(cfg),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=dict(os.environ))
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return stored, out.decode(), alerts


async def test_the_staff_chosen_notice_shows_in_the_phones_own_words(vs, tmp_path):
    cfg, phone = _phone(vs, tmp_path, catalogue='[qr_checkin.notices]\n'
                        '"f0-visit-test" = { vi = "Điện thoại: hãy đi xét nghiệm", en = "Phone text: get tested" }')
    token = await vs.token(venue=venue_server.VENUE, notice="f0-visit-test")
    now = vs.now()
    status, receipt = await _post(vs, {"token": token, "preTraces": vs.pretraces(now - 2 * HOUR, now)})
    assert status == 200 and receipt["notice"] == "f0-visit-test"
    stored, out, alerts = await _sync_and_list(vs, cfg, phone)
    assert [n["notice"] for n in stored] == ["f0-visit-test"] and "message" not in stored[0]
    assert "⚠ Điện thoại: hãy đi xét nghiệm" in out  # the phone's catalogue, not the server's
    assert "Phone text" not in out  # in the person's language (vi) only
    assert alerts  # the person was warned


async def test_free_text_inside_a_signed_trace_never_reaches_the_phone(vs, tmp_path):
    """Even a batch the authority signed with free text in it (an old server, a
    mistake) shows only the phone's own default notice."""
    cfg, phone = _phone(vs, tmp_path)
    now = vs.now()
    upload = tracing.owner_pretraces(vs.code, now - 2 * HOUR, now)
    result = tracing.authority_traces(upload, bytes(vs.ha), EVIL, notices.encode("no-such-notice"))
    batch = pb.TraceBatch(version=3, startTimestamp=now - 2 * HOUR, endTimestamp=now, traces=result.traces)
    vs.server.publish_payload("venue-traces", batch.SerializeToString(), start_ts=now - 2 * HOUR, end_ts=now)
    stored, out, alerts = await _sync_and_list(vs, cfg, phone)
    assert [n["notice"] for n in stored] == ["no-such-notice"]
    assert "evil.example" not in out and "500.000" not in out
    assert "⚠ " + notices.BUILTIN["f0-visit"].text("vi") in out
    assert alerts and not any("evil.example" in a for a in alerts)


def test_notice_ids_round_trip_and_bad_country_data_is_no_id():
    assert notices.decode(notices.encode("f0-visit-isolate")) == "f0-visit-isolate"
    assert notices.decode(b"\xff\xff") is None and notices.decode(b"") is None
    assert notices.decode(pb.BluezoneTraceData(notice="Pay Now!").SerializeToString()) is None
    cat = notices.catalogue({"closed": {"vi": "Đóng cửa", "en": "Closed"}})
    assert notices.render("closed", cat, "vi") == "Đóng cửa" and notices.render("closed", cat, "en") == "Closed"
    assert notices.render("closed", cat, "jra") == "Closed"  # a language the deployment's text lacks: English
    assert cat["closed"].render() == "Đóng cửa / Closed"  # what a server signs: every deployment language
    assert notices.render(EVIL, cat, "vi") == notices.render(None, cat, "vi") == notices.BUILTIN["f0-visit"].text("vi")
    assert notices.BUILTIN["f0-visit"].text("vi").startswith("Một người nhiễm COVID-19 (F0)")
    with pytest.raises(notices.UnknownNotice):
        notices.lookup(EVIL, cat)
