"""A feed folder on offline media (``file:///media/usb/bluezone``) is a
mirror anyone could have prepared. A FIFO or a device node listed as a batch
or as the index made ``bluezone sync`` wait forever in ``open()``: the file
transport reads only regular files, so such an entry is one skipped file and
the real batches beside it still warn.

Through the real console script; the subprocess timeout is a liveness bound
(a hang fails), not a speed assertion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bluezone.export import write_export
from bluezone.matching.fixtures import contact_sightings, new_signing_key
from bluezone.models import ExposureKey, ReportType, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
SIGNER, _ = new_signing_key()
LIVENESS = 120  # seconds; a sync that hangs in open() never returns


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, cwd=cwd, timeout=LIVENESS)


def deployment(folder: Path, mirror: Path) -> None:
    pem = SIGNER.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    (folder / "export.pub.pem").write_text(pem)
    (folder / "province.toml").write_text(f"""
[deployment]
name = "Gia Lai"
region = "452"

[plugins]
disabled = ["alerts-console"]
allow_missing = ["alert sink"]

[authority]
url = "file://{mirror}"
export_keys = [ {{ key_id = "452", public_key = "export.pub.pem" }} ]
""")


@pytest.fixture
def phone_and_mirror(tmp_path):
    """A phone that met an F0 for 30 minutes two days ago; a mirror folder
    holding that F0's signed batch."""
    mirror = tmp_path / "usb"
    (mirror / "keys").mkdir(parents=True)
    deployment(tmp_path, mirror)
    day0 = int(time.time()) // 86400 * 86400 - 2 * 86400
    f0 = ExposureKey(os.urandom(16), interval_number(day0), 144, 2, ReportType.CONFIRMED_TEST, 1)
    batch = write_export([f0], SIGNER, region="452", start_timestamp=day0, end_timestamp=int(time.time()),
                         key_id="452")
    (mirror / "keys" / f"{day0}-{day0 + 86400}-2.zip").write_bytes(batch)
    phone = tmp_path / "phone.db"
    assert cli("init", "--config", "province.toml", "--store", str(phone), "--language", "en", "--consent", "all",
               cwd=tmp_path).returncode == 0
    with DeviceStore(phone, create=False) as s:
        s.add_sightings(contact_sightings(GAEN, f0, day0 + 10 * 3600, 30, rssi=-60, tx_power=-10))
    return tmp_path, mirror, phone, f"{day0}-{day0 + 86400}-2.zip"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_listed_as_a_batch_is_skipped_and_the_real_batch_warns(phone_and_mirror, kind):
    folder, mirror, phone, real = phone_and_mirror
    trap = mirror / "keys" / "1-2-1.zip"
    if kind == "fifo":
        os.mkfifo(trap)  # open() for reading waits for a writer that never comes
    else:
        trap.symlink_to("/dev/zero")  # a character device: endless zeros
    (mirror / "keys" / "index.txt").write_text(f"1-2-1.zip\n{real}\n")
    out = cli("sync", "--config", "province.toml", "--store", str(phone), "--no-decoy", cwd=folder)
    assert out.returncode == 0, out.stderr
    assert "1 new warning." in out.stdout and "1 batch could not be downloaded" in out.stderr
    status = json.loads(cli("status", "--config", "province.toml", "--store", str(phone), "--json",
                            cwd=folder).stdout)
    assert status["status"] == "F1"


def test_a_fifo_as_the_index_is_a_failed_feed_not_a_hang(phone_and_mirror):
    folder, mirror, phone, _ = phone_and_mirror
    os.mkfifo(mirror / "keys" / "index.txt")
    out = cli("sync", "--config", "province.toml", "--store", str(phone), "--no-decoy", cwd=folder)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr
