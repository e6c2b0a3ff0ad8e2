"""What staff read: ``serve`` says where the API and the portal are; ``issue-code``
shows the code, what it is for in words and until when, in the deployment's time zone."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
import urllib.request
import zoneinfo
from pathlib import Path

from bluezone_authority.server.process import free_port, province_server, write_province

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def bluezone(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120)


def test_serve_prints_where_the_api_and_the_portal_are(tmp_path):
    with province_server(tmp_path) as server:
        printed = (tmp_path / "server.log").read_text()
        assert f"{server.url}/v1/" in printed and f"{server.url}/portal/" in printed
        with urllib.request.urlopen(f"{server.url}/portal/login", timeout=10) as page:
            assert page.status == 200  # the printed address is the portal's


def test_issue_code_shows_the_code_its_purpose_and_expiry_in_the_deployment_time_zone(tmp_path):
    zone = "Asia/Ho_Chi_Minh"  # UTC+7, all year: seven hours from the machine's UTC
    port = free_port()
    write_province(tmp_path, f"http://127.0.0.1:{port}", port, province_extra=f'timezone = "{zone}"\n')
    config = str(tmp_path / "server.toml")
    before = int(time.time())
    shown = bluezone("authority", "issue-code", "--config", config)
    after = int(time.time())
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert re.fullmatch(r"Mã: \d{8}", lines[0]), lines
    assert lines[1] == "Dùng cho: F0, ca bệnh được xác nhận bằng xét nghiệm dương tính"
    m = re.fullmatch(rf"Có hiệu lực đến: (\d\d:\d\d \d\d/\d\d/\d{{4}}) \({zone}\)", lines[2])
    assert m, lines
    until = dt.datetime.strptime(m.group(1), "%H:%M %d/%m/%Y").replace(tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()
    # a short code works 15 minutes; the minute shown is that moment on a Vietnamese clock
    assert before + 900 - 60 <= until <= after + 900
    machine = bluezone("authority", "issue-code", "--config", config, "--json", "--report-type", "negative")
    answer = json.loads(machine.stdout)
    assert set(answer) >= {"code", "expiresAt", "reportType"} and answer["reportType"] == 5
