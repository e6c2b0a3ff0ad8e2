"""A real `bluezone serve` subprocess, SIGKILLed while uploads are in flight,
restarted on the same files: every acknowledged upload is still there, and
every upload is all-or-nothing (keys stored ⇔ its code spent)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.config import load_config
from bluezone.i18n import text
from bluezone.export import read_export
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.database import open_database
from bluezone_authority.server.testing import past_keys
from bluezone.transport import TransportError
from bluezone.upload import upload_with_code
from bluezone.transports import HttpTransport

BLUEZONE = str(Path(sys.executable).parent / "bluezone")

CONFIG = """
[deployment]
name = "Crash test"
region = "452"

[authority]
url = "http://127.0.0.1:1"

[server]
database = "{database}"
export_dir = "exports"
secrets_file = "server.secrets"
min_batch_keys = 0
verify_per_client_per_minute = 1000
uploads_per_client_per_minute = 1000
"""


async def start_serve(cfg: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        BLUEZONE, "serve", "--config", str(cfg), "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    m = re.search(r"http://[\d.]+:\d+", line)
    assert m, line + (await proc.stderr.read()).decode()
    return proc, m.group(0)


async def test_sigkill_mid_upload_loses_nothing_acknowledged(tmp_path, server_database):
    cfg = tmp_path / "deploy.toml"
    cfg.write_text(CONFIG.replace("{database}", server_database))
    config = load_config(cfg)
    server = AuthorityServer.from_config(config)
    codes = [server.issue_code({"tier": "F0", "kind": "long"})["code"] for _ in range(60)]
    _, admin = server.create_staff_token("admin", "admin")
    public = [{"key_id": "452", "key_version": "v1", "pem": server.keys.export_public_pem()}]
    server.close()

    proc, url = await start_serve(cfg)
    acknowledged: dict[str, list] = {}
    killed = asyncio.Event()
    in_flight = 8

    async def one(code: str) -> None:
        keys = past_keys(14, now=int(time.time()))
        async with HttpTransport(url, retries=0, timeout=20) as t:
            try:
                await upload_with_code(t, code, keys)
            except TransportError:
                return  # cut off by the kill: must be all-or-nothing
            acknowledged[code] = keys
            if len(acknowledged) == 15:
                # the kill lands here, synchronously, however fast the machine: no other upload
                # can start before it, so at most the in_flight - 1 others running now can still end
                proc.send_signal(signal.SIGKILL)
                killed.set()

    sem = asyncio.Semaphore(in_flight)

    async def limited(code: str) -> None:
        async with sem:
            await one(code)

    tasks = [asyncio.create_task(limited(c)) for c in codes]
    await asyncio.wait_for(killed.wait(), 60)
    await proc.wait()
    await asyncio.gather(*tasks)
    assert 15 <= len(acknowledged) <= 15 + in_flight - 1 < len(codes)

    # nothing half-written: every code is either spent with its 14 keys stored, or untouched
    if not server_database.startswith("postgresql://"):
        db = sqlite3.connect(server_database)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    with open_database(server_database) as db:
        used = db.one("SELECT count(*) FROM codes WHERE state = 'used'")[0]
        stored = db.one("SELECT count(*) FROM exposure_keys")[0]
    assert stored == 14 * used and used >= len(acknowledged)

    proc2, url2 = await start_serve(cfg)
    try:
        import aiohttp
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{url2}/v1/authority/exports", headers={"Authorization": f"Bearer {admin}"}) as resp:
                assert resp.status == 200, await resp.text()
        async with HttpTransport(url2, retries=0) as t:
            batches, _ = await t.download("keys")
        published = {k.key_data for b in batches for k in read_export(b.payload, public).keys}
        for code, keys in acknowledged.items():
            assert {k.key_data for k in keys} <= published, f"acknowledged upload {code} lost"
    finally:
        proc2.send_signal(signal.SIGTERM)
        out = (await asyncio.wait_for(proc2.communicate(), 30))[0].decode()
    assert proc2.returncode == 0 and text("Stopped.", "vi") in out  # clean shutdown on SIGTERM (said in vi, the first language)
