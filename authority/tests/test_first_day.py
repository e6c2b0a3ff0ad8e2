"""A province's first day, through the console script only.

``authority init`` makes the deployment; ``serve`` runs it; the admin it
printed logs in to the portal; two phones set up with ``init`` spend an hour
in the simulated office (``trace --simulate office --store A --store B``,
their real keys); a desk issues an F0 code; the F0's phone reports, an export
is built, the contact's phone syncs and ``status`` shows the warning in
Vietnamese. The office makes its poster with ``venue create``, a visitor
checks in from the poster's PNG, staff open a venue trace in the portal, and
the office uploads it with the tracing code read from its printed PDF. No
command prints a library warning or a traceback on the way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bluezone_authority.portal.testing import PortalClient
from bluezone_authority.server.process import ServerProcess, free_port

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
NOISE = ("Traceback", "Unclosed", "Warning:", "warn(")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    out = subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env=env, timeout=120,
                         stdin=subprocess.DEVNULL)
    for noise in NOISE:
        assert noise not in out.stderr + out.stdout, (args, out.stderr)
    return out


async def admin_logs_in(url: str, password: str) -> bool:
    async with PortalClient(url) as client:
        page = await client.login("admin", password)
        return page.status == 200 and page.url.endswith("/portal/")


async def portal_opens_a_venue_trace(url: str, password: str, venue: str) -> str:
    """Staff (the admin, who holds every role) authorise the office's upload: a one-time token."""
    async with PortalClient(url) as client:
        assert (await client.login("admin", password)).status == 200
        page = await client.submit("/portal/venue-trace", "/portal/venue-trace", {"venue": venue})
        assert page.status == 200, page.text[:500]
        return page.by_id("issued-token")


@pytest.mark.needs_plugins  # the simulated radio (ble) and the venue poster (qr_checkin)
def test_first_day(tmp_path):
    env = {**os.environ, "BLUEZONE_KEY_DIR": str(tmp_path / "keys")}
    folder = tmp_path / "gia-lai"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    made = run("authority", "init", str(folder), "--province", "Gia Lai", "--url", url, "--port", str(port),
               "--poster-url", "https://qr.gialai.example/checkin",
               env=env)
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip().splitlines()[-1].rsplit(": ", 1)[1]
    phones, server = str(folder / "province.toml"), str(folder / "server.toml")

    with ServerProcess(folder / "server.toml", url, tmp_path / "serve.log"):
        printed = (tmp_path / "serve.log").read_text()  # where staff go, as serve says
        assert f"{url}/v1/" in printed and f"{url}/portal/" in printed
        assert asyncio.run(admin_logs_in(url, password))

        lan, minh = str(tmp_path / "lan.db"), str(tmp_path / "minh.db")
        for phone in (lan, minh):
            set_up = run("init", "--config", phones, "--store", phone, "--language", "vi", "--consent", "all",
                         env=env)
            assert set_up.returncode == 0, set_up.stderr
        # an hour in the office two days ago (keys of an ended day are reported at once)
        met = run("trace", "--simulate", "office", "--config", phones, "--store", lan, "--store", minh,
                  "--minutes", "60", "--seed", "2", "--days-ago", "2", env=env)
        assert met.returncode == 0, met.stderr
        day = int(time.time()) // 86400 * 86400 - 2 * 86400
        code = run("authority", "issue-code", "--config", server, "--long",
                   "--onset", dt.date.fromtimestamp(day + 86400).isoformat(), env=env)
        assert code.returncode == 0, code.stderr
        the_code = re.search(r"^Mã: (\S+)$", code.stdout, re.M).group(1)
        report = run("report", "--config", phones, "--store", lan, "--code", the_code, env=env)
        assert report.returncode == 0 and "Đã gửi" in report.stdout, report.stderr
        assert run("authority", "export", "--config", server, env=env).returncode == 0

        sync = run("sync", "--config", phones, "--store", minh, env=env)
        assert sync.returncode == 0 and "1 cảnh báo mới" in sync.stdout, sync.stderr
        status = run("status", "--config", phones, "--store", minh, env=env)
        assert status.returncode == 0 and "CẢNH BÁO F1" in status.stdout

        # the office's poster: a visitor checks in from its PNG (the QR decoder reads the picture)
        office = tmp_path / "office"
        made = run("venue", "create", "--name", "Văn phòng Sở Y tế", "--address", "Pleiku", "--out", str(office),
                   "--config", phones, env=env)
        assert made.returncode == 0, made.stderr
        checked_in = run("checkin", str(office / "poster.png"), "--yes", "--config", phones, "--store", minh,
                         env=env)
        assert checked_in.returncode == 0 and "Văn phòng Sở Y tế" in checked_in.stdout, checked_in.stderr
        # a case was there: staff open the trace in the portal, the office uploads it with the
        # tracing code it printed (read from the PDF, as from paper)
        token = asyncio.run(portal_opens_a_venue_trace(url, password, "Văn phòng Sở Y tế"))
        now = int(time.time())
        traced = run("venue", "trace", "--tracing-code", str(office / "tracing-code.pdf"),
                     "--from", f"@{now - 3600}", "--to", f"@{now + 1800}", "--token", token, "--config", phones,
                     env=env)
        assert traced.returncode == 0, traced.stderr
        assert run("authority", "export", "--config", server, env=env).returncode == 0
        again = run("sync", "--config", phones, "--store", minh, env=env)
        assert again.returncode == 0 and "1 cảnh báo mới" in again.stdout, again.stdout + again.stderr
        visits = run("visits", "--config", phones, "--store", minh, env=env)
        assert visits.returncode == 0 and "⚠" in visits.stdout, visits.stdout
