"""Kiosk visitors' names and phones (issue 19 item 4): sealed to a key pair
of their own whose secret stays offline, opened only by the authority's
offline command, and purged by the server's own retention.

Before: kiosks sealed to the venue-tracing key, whose secret the server is
configured with; and the server deleted the sealed entries only when the next
venue upload or paper-log fetch happened to run. Real server (aiohttp on
127.0.0.1, its SQLite database), real console script for the kiosk and the
offline command."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import nacl.public
import pytest

from bluezone_qr_checkin.kiosk import VisitorLog
from bluezone_qr_checkin.settings import CheckinSettings, SettingsError

import venue_server

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
HOUR = 3600


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def vs(tmp_path, server_database):
    s = await venue_server.start(tmp_path, qr="trace_uploads_per_client_per_minute = 1000")
    yield s
    await s.http.close()


async def upload_with_paper_log(vs, sealed: list[bytes]) -> str:
    now = vs.now()
    token = await vs.token()
    body = {"token": token, "preTraces": vs.pretraces(now - 2 * HOUR, now), "paperLog": [b64(s) for s in sealed]}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{vs.url}/v1/venue-traces/upload", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["traceId"]


async def fetch_paper_log(vs, trace_id: str) -> dict:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{vs.url}/v1/authority/venue-traces/paper-log/{trace_id}",
                         headers={"Authorization": f"Bearer {vs.staff}"}) as resp:
            assert resp.status == 200
            return await resp.json()


async def test_the_servers_own_retention_purges_the_paper_log(vs, tmp_path):
    kiosk = nacl.public.PrivateKey.generate()
    with VisitorLog(tmp_path / "kiosk.db", bytes(kiosk.public_key), clock=vs.clock) as log:
        log.record("Nguyễn Văn An", "0912 345 678")
        sealed = log.sealed_between(vs.now() - HOUR, vs.now())
    await upload_with_paper_log(vs, sealed)
    assert vs.server.db.one("SELECT count(*) FROM venue_paper_log")[0] == 1
    assert vs.server.purge()["venue_paper_log"] == 0  # inside the window: kept
    vs.clock.t += 15 * 86_400  # past the 14-day window; no venue uploads again, nobody fetches
    assert vs.server.purge()["venue_paper_log"] == 1
    assert vs.server.db.one("SELECT count(*) FROM venue_paper_log")[0] == 0


async def test_kiosk_entries_open_offline_with_their_own_key_never_with_the_servers(vs, tmp_path):
    kiosk = nacl.public.PrivateKey.generate()
    (tmp_path / "kiosk-log.key").write_text(b64(bytes(kiosk)))
    log = tmp_path / "kiosk.db"
    made = cli("venue", "log", "--log", str(log), "--name", "Trần Thị Bình", "--phone", "+84 90 123 4567",
               "--kiosk-key", b64(bytes(kiosk.public_key)), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    with VisitorLog(log, bytes(kiosk.public_key)) as opened:
        sealed = opened.sealed_between(0, 2**40)
    trace_id = await upload_with_paper_log(vs, sealed)
    (tmp_path / "answer.json").write_text(json.dumps(await fetch_paper_log(vs, trace_id)))

    offline = cli("venue", "paper-log", "--key", "kiosk-log.key", "answer.json", cwd=tmp_path)
    assert offline.returncode == 0, offline.stderr
    assert "Trần Thị Bình" in offline.stdout and "+84 90 123 4567" in offline.stdout

    server_key = vs.dir / "server" / "ha.key"  # what [qr_checkin] authority_secret_key_file holds
    with_servers = cli("venue", "paper-log", "--key", str(server_key), "answer.json", cwd=tmp_path)
    assert with_servers.returncode == 1 and "Trần" not in with_servers.stdout
    assert "does not open with this key" in with_servers.stderr


def test_a_kiosk_without_its_own_key_is_refused(tmp_path):
    ha = nacl.public.PrivateKey.generate()
    cfg = venue_server.write_config(tmp_path / "venue.toml", "https://bluezone.gialai.gov.vn", ha)
    refused = cli("venue", "log", "--log", "kiosk.db", "--name", "An", "--phone", "0912345678",
                  "--config", str(cfg), cwd=tmp_path)
    assert refused.returncode == 2 and "kiosk_public_key" in refused.stderr
    assert not (tmp_path / "kiosk.db").exists()


def test_the_kiosk_key_cannot_be_the_venue_tracing_key(tmp_path):
    from bluezone.config import load_config

    ha = nacl.public.PrivateKey.generate()
    same = f'kiosk_public_key = "{b64(bytes(ha.public_key))}"'
    config = load_config(venue_server.write_config(tmp_path / "venue.toml", "https://x.gov.vn", ha, qr=same))
    with pytest.raises(SettingsError, match="its own key pair"):
        CheckinSettings.from_config(config)
