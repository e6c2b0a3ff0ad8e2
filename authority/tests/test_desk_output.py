"""What the desk reads: ``issue-code`` shows the code, what it is for in words
and until when, in the deployment's time zone (what ``serve`` prints is
checked in test_first_day.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

from bluezone_authority.server.process import free_port, write_province

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def bluezone(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120)


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


def test_serve_without_its_signing_key_names_the_file(tmp_path):
    port = free_port()
    write_province(tmp_path, f"http://127.0.0.1:{port}", port)
    (tmp_path / "export.pem").unlink()  # the secret did not reach the server
    out = bluezone("serve", "--config", str(tmp_path / "server.toml"))
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1 and str(tmp_path / "export.pem") in lines[0], out.stderr
