"""The whole venue flow with real components.

Owner: ``bluezone venue create`` (subprocess) writes the poster; the PNG is
PDFium's render of the PDF. Citizen: ``bluezone checkin poster.png``
(subprocess) decodes it with zxing-cpp and checks in on a real SQLite store.
Authority: a real aiohttp server on 127.0.0.1 with this plugin's routes; a
staff member issues a one-time token; the owner runs ``bluezone venue trace``
(subprocess, http transport). Device: downloads the signed ``venue-traces``
batch over http and matches it through the ``venue-traces`` feed object (``bluezone_feeds``) →
a venue exposure (F1). A second phone that visited another venue gets none.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from pathlib import Path

import aiohttp
import nacl.public
import pytest
from aiohttp.test_utils import TestServer

from bluezone.config import load_config
from bluezone.models import Tier
from bluezone.feed import collect_feeds
from bluezone_authority.server import AuthorityServer, create_app
from bluezone.store import DeviceStore
from bluezone.transport import FeedState
from bluezone_qr_checkin import checkin, poster, qrimage
from bluezone.transports import HttpTransport

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


async def run(*args: str, env: dict | None = None, stdin: bytes = b"") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        BLUEZONE, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
    out, err = await proc.communicate(stdin)
    return proc.returncode, out.decode(), err.decode()


def write_config(path: Path, url: str, ha: nacl.public.PrivateKey, extra: str = "") -> Path:
    (path.parent / "ha.key").write_text(base64.b64encode(bytes(ha)).decode())
    path.write_text(f"""
[deployment]
name = "Gia Lai"
region = "452"

[authority]
url = "{url}"
{extra}

[qr_checkin]
url_base = "https://qr.gialai.example"
authority_public_key = "{base64.b64encode(bytes(ha.public_key)).decode()}"
authority_secret_key_file = "ha.key"
""")
    return path


@pytest.fixture
async def authority_server(tmp_path):
    ha = nacl.public.PrivateKey.generate()
    srv_dir = tmp_path / "server"
    srv_dir.mkdir()
    cfg_path = write_config(srv_dir / "server.toml", "http://127.0.0.1:1", ha,
                            '[server]\ndatabase = "server.db"\nexport_dir = "exports"\nsecrets_file = "secrets.json"')
    config = load_config(str(cfg_path))
    server = AuthorityServer.from_config(config)
    _, staff_token = server.create_staff_token("venue desk", "venue-tracer")
    http = TestServer(create_app(server, config=config, background=False), host="127.0.0.1")
    await http.start_server()
    url = str(http.make_url("")).rstrip("/")
    (tmp_path / "export.pem").write_text(server.keys.export_public_pem())
    device_cfg = write_config(tmp_path / "device.toml", url, ha,
                              'export_keys = [ { key_id = "452", public_key = "export.pem" } ]')
    yield {"server": server, "url": url, "staff": staff_token, "ha": ha, "device_config": device_cfg}
    await http.close()


async def test_poster_to_exposure(authority_server, tmp_path):
    a = authority_server
    cfg = str(a["device_config"])
    venue_dir = tmp_path / "venue"
    code, out, err = await run("venue", "create", "--name", "Sở Thông tin và Truyền thông Gia Lai",
                               "--address", "Pleiku, Gia Lai", "--type", "office_space", "--default-stay", "2h",
                               "--out", str(venue_dir), "--config", cfg)
    assert code == 0, err
    url = (venue_dir / "entry-url.txt").read_text().strip()
    assert url.startswith("https://qr.gialai.example?v=3#")
    assert oct((venue_dir / "tracing-code.bin").stat().st_mode & 0o777) == "0o600"
    # the poster: A4, and the PNG decodes (with a real decoder) to the URL
    pdf = (venue_dir / "poster.pdf").read_bytes()
    w, h = poster.pdf_page_size_mm(pdf)
    assert (round(w), round(h)) == (210, 297)
    assert qrimage.decode_image(venue_dir / "poster.png") == [url]

    # a visitor checks in from the poster image (no network needed: no server call)
    phone = tmp_path / "phone.db"
    other_phone = tmp_path / "other-phone.db"
    for store in (phone, other_phone):  # only 'bluezone init' creates a store and its key
        assert (await run("init", "--config", cfg, "--store", str(store), "--consent", "all"))[0] == 0
    code, out, err = await run("checkin", str(venue_dir / "poster.png"), "--yes", "--store", str(phone),
                               "--config", cfg)
    assert code == 0, err
    assert "Sở Thông tin và Truyền thông Gia Lai" in out and "Pleiku, Gia Lai" in out
    # another phone visits another venue
    other_dir = tmp_path / "other"
    assert (await run("venue", "create", "--name", "Quán cà phê Phố Núi", "--address", "Pleiku",
                      "--out", str(other_dir), "--config", cfg))[0] == 0
    assert (await run("checkin", (other_dir / "entry-url.txt").read_text().strip(), "--yes",
                      "--store", str(other_phone), "--config", cfg))[0] == 0

    # the authority opens a trace: a one-time token bound to the venue's name
    now = int(time.time())
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{a['url']}/v1/authority/one-time-tokens",
                          json={"purpose": "venue-trace", "meta": {"venue": "Sở Thông tin và Truyền thông Gia Lai"}},
                          headers={"Authorization": f"Bearer {a['staff']}"}) as resp:
            assert resp.status == 201
            token = (await resp.json())["token"]

    # the owner uploads pre-traces for the last hour and the next
    start, end = f"@{now - 3600}", f"@{now + 1800}"
    code, out, err = await run("venue", "trace", "--tracing-code", str(venue_dir / "tracing-code.bin"),
                               "--from", start, "--to", end, "--token", token, "--config", cfg)
    assert code == 0, err
    assert "Uploaded " in out and " trace keys for " in out  # (2 or 3: the window's hours as the clock falls)
    # the token is one-time
    code, out, err = await run("venue", "trace", "--tracing-code", str(venue_dir / "tracing-code.bin"),
                               "--from", start, "--to", end, "--token", token, "--config", cfg)
    assert code == 2 and "authority_token_used" in err

    # devices sync the venue-traces feed over http and match through the hook
    config = load_config(cfg)
    async with HttpTransport(a["url"], retries=0) as t:
        batches, _ = await t.download("venue-traces", FeedState())
    assert len(batches) == 1
    with DeviceStore(phone) as store:
        exposures = collect_feeds(config.pm)["venue-traces"].match(batches[0], store, config)
        assert len(exposures) == 1
        e = exposures[0]
        assert (e.tier, e.source) == (Tier.F1, "venue") and e.minutes > 0
        assert set(e.details) == {"visit_id", "overlap_start", "overlap_end"}  # nothing names the venue
        [visit] = store.visits("venue")
        notices = checkin.VisitData.from_bytes(visit.data).notices
        assert [n["notice"] for n in notices] == ["f0-visit"]  # the default: the token named no notice
    with DeviceStore(other_phone) as store:
        exposures = collect_feeds(config.pm)["venue-traces"].match(batches[0], store, config)
        assert exposures == []

    # visits list shows the notice
    code, out, err = await run("visits", "--store", str(phone), "--config", cfg)
    assert code == 0 and "⚠ Một người nhiễm COVID-19 (F0)" in out  # in the phone's language (vi) only
    assert "A confirmed case (F0)" not in out


async def test_upload_refusals_leave_the_server_unchanged(authority_server, tmp_path):
    a = authority_server
    cfg = str(a["device_config"])
    venue_dir = tmp_path / "venue"
    assert (await run("venue", "create", "--name", "Quán A", "--address", "Pleiku", "--out", str(venue_dir),
                      "--config", cfg))[0] == 0
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{a['url']}/v1/authority/one-time-tokens",
                          json={"purpose": "venue-trace", "meta": {"venue": "Quán B"}},
                          headers={"Authorization": f"Bearer {a['staff']}"}) as resp:
            token = (await resp.json())["token"]
    before = a["server"].db.fingerprint()
    now = int(time.time())
    args = ["venue", "trace", "--tracing-code", str(venue_dir / "tracing-code.bin"), "--from", f"@{now - 3600}",
            "--to", f"@{now}", "--config", cfg]
    code, _, err = await run(*args, "--token", token)
    assert code == 2 and "venue_mismatch" in err  # token for another venue
    code, _, err = await run(*args, "--token", "bzo_forged")
    assert code == 2 and "invalid_authority_token" in err
    async with aiohttp.ClientSession() as s:
        for body in ({"token": token}, {"token": token, "preTraces": "!!!"},
                     {"token": token, "preTraces": base64.b64encode(b"\x08\x03").decode()}, [1, 2]):
            async with s.post(f"{a['url']}/v1/venue-traces/upload", json=body) as resp:
                assert resp.status == 400, await resp.text()
                assert "error" in await resp.json()
    assert a["server"].db.fingerprint() == before
