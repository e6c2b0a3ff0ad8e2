"""The citizen's reference client through the real console script, against
a real ``bluezone serve`` process on loopback: init, status, sync, report."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bluezone.matching.fixtures import record_meeting
from bluezone.store import DeviceStore
from bluezone_authority.server.process import province_server

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=120)


#: Alerts are read from the store (status), not printed by a console sink.
QUIET_PHONES = '\n[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    folder = tmp_path_factory.mktemp("authority")
    with province_server(folder, province_extra=QUIET_PHONES):
        yield folder


def meet(a: Path, b: Path, minutes: int, start: int) -> None:
    """A and B sat 1 m apart: B stores A's real identifiers every 5 minutes."""
    with DeviceStore(a) as sa, DeviceStore(b) as sb:
        record_meeting(sa, sb, minutes, start)


def test_first_run_guidance_and_errors(authority, tmp_path):
    cfg = str(authority / "province.toml")
    phone = str(tmp_path / "phone.db")
    out = cli("status", "--config", cfg, "--store", phone)
    assert out.returncode == 2 and "bluezone init" in out.stderr and out.stderr.count("\n") == 1
    out = cli("init", "--config", cfg, "--store", phone, "--language", "en", "--consent", "all")
    assert out.returncode == 0 and "bluezone trace" in out.stdout
    assert oct(os.stat(phone).st_mode & 0o777) == "0o600"
    again = cli("init", "--config", cfg, "--store", phone, "--consent", "all")
    assert again.returncode == 2 and "already" in again.stderr
    out = cli("status", "--config", cfg, "--store", phone)
    assert out.returncode == 0 and "No exposure" in out.stdout
    nothing = cli("report", "--config", cfg, "--store", phone, "--code", "12345678")
    assert nothing.returncode == 1 and "no ended keys" in nothing.stderr
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[deployment]\nname = 1\n")
    out = cli("status", "--config", str(bad_config), "--store", phone)
    assert out.returncode == 2 and "config check" in out.stderr


def test_contact_report_sync_status(authority, tmp_path):
    cfg = str(authority / "province.toml")
    lan, minh, hoa = (str(tmp_path / f"{n}.db") for n in ("lan", "minh", "hoa"))
    for phone, lang in ((lan, "vi"), (minh, "vi"), (hoa, "en")):
        assert cli("init", "--config", cfg, "--store", phone, "--language", lang, "--consent", "all").returncode == 0
    day = int(time.time()) // 86400 * 86400 - 2 * 86400  # two days ago: keys ended, past the embargo
    meet(Path(lan), Path(minh), 40, day + 3 * 3600)
    code = cli("authority", "issue-code", "--config", str(authority / "server.toml"), "--long", "--json",
               "--onset", dt.date.fromtimestamp(day + 86400).isoformat())
    assert code.returncode == 0, code.stderr
    the_code = json.loads(code.stdout)["code"]
    wrong = cli("report", "--config", cfg, "--store", lan, "--code", "0" * 16)
    assert wrong.returncode == 1 and "invalid_code" in wrong.stderr and "Kiểm tra lại mã" in wrong.stderr
    report = cli("report", "--config", cfg, "--store", lan, "--code", the_code)
    assert report.returncode == 0, report.stderr
    assert "Đã gửi" in report.stdout
    used = cli("report", "--config", cfg, "--store", lan, "--code", the_code)
    assert used.returncode == 1  # a code works once
    assert cli("authority", "export", "--config", str(authority / "server.toml")).returncode == 0

    sync = cli("sync", "--config", cfg, "--store", minh)
    assert sync.returncode == 0, sync.stderr
    assert "1 cảnh báo mới" in sync.stdout
    status = json.loads(cli("status", "--config", cfg, "--store", minh, "--json").stdout)
    assert status["status"] == "F1" and status["alerts"][0]["source"] == "ble"
    assert status["alerts"][0]["exposure_date"] == dt.date.fromtimestamp(day).isoformat()
    shown = cli("status", "--config", cfg, "--store", minh)
    assert "CẢNH BÁO F1" in shown.stdout and "trạm y tế" in shown.stdout
    again = cli("sync", "--config", cfg, "--store", minh, "--no-decoy")
    assert again.returncode == 0 and "0 cảnh báo mới" in again.stdout  # idempotent

    hoa_sync = cli("sync", "--config", cfg, "--store", hoa)
    assert hoa_sync.returncode == 0 and "0 new warnings" in hoa_sync.stdout
    assert json.loads(cli("status", "--config", cfg, "--store", hoa, "--json").stdout)["status"] == "none"
