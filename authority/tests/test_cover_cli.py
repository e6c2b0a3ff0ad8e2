"""``bluezone cover`` through the real console script against a real
``bluezone serve`` process: nothing on a fresh phone's first run, each kind of
decoy once it is due, and nothing stored by the server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bluezone.store import DeviceStore
from bluezone_authority.server.process import province_server

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120)


def test_cover_sends_each_decoy_when_due_and_the_server_keeps_none(tmp_path):
    cfg, phone = str(tmp_path / "province.toml"), str(tmp_path / "phone.db")
    with province_server(tmp_path):
        assert cli("init", "--config", cfg, "--store", phone, "--language", "en", "--consent", "all").returncode == 0
        first = cli("cover", "--config", cfg, "--store", phone)
        assert first.returncode == 0 and "No cover traffic is due yet." in first.stderr, first.stderr
        with DeviceStore(phone) as store:  # both fall due
            store.set_meta("next_decoy_at:report", "0")
            store.set_meta("next_decoy_at:declaration", "0")
        sent = cli("cover", "--config", cfg, "--store", phone)
        assert sent.returncode == 0 and "Sent cover traffic (carries no data): report, declaration." in sent.stderr
        again = cli("cover", "--config", cfg, "--store", phone)
        assert "No cover traffic is due yet." in again.stderr  # the next ones were drawn in the future
    db = sqlite3.connect(tmp_path / "server.db")
    try:
        assert db.execute("SELECT (SELECT count(*) FROM exposure_keys) + (SELECT count(*) FROM declarations)"
                          " + (SELECT count(*) FROM codes)").fetchone() == (0,)
    finally:
        db.close()
