"""``bluezone init --no-f2``: the phone never shows an F2 warning (contact of a
contact), end to end through the real commands. Two phones meet the same
person, who later reports as an F1 (a recursive key); the one set up with
``--no-f2`` stays silent, the other (the control) is warned."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bluezone.device import Device
from bluezone.export import write_export
from bluezone.matching.fixtures import contact_sightings, new_signing_key
from bluezone.models import ExposureKey, ReportType, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
SIGNER, PEM = new_signing_key()


def bluezone(folder: Path, *args: str) -> str:
    out = subprocess.run([BLUEZONE, *args], cwd=folder, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return out.stdout + out.stderr


def deployment(folder: Path) -> Path:
    pem = PEM.strip().replace("\n", "\\n")
    path = folder / "deploy.toml"
    path.write_text(
        '[deployment]\nname = "Test"\nregion = "452"\n'
        '[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'
        '[risk]\nattenuation_thresholds_db = [50, 70, 90]\n'
        '[risk.bucket_weights]\nimmediate = 1.0\nnear = 1.0\nmedium = 0.5\nother = 0.0\n'
        f'[authority]\nurl = "file://{folder / "mirror"}"\n'
        f'[[authority.export_keys]]\nkey_id = "452"\nkey_version = "v1"\npublic_key = "{pem}"\n'
        '[privacy]\nnotice_version = "2026-12"\ncontroller = "Sở Y tế"\ncontact_email = "a@b.vn"\n'
        'protection_contact = "Phòng CNTT"\n', encoding="utf-8")
    return path


def test_init_no_f2_means_no_f2_warning(tmp_path):
    config = deployment(tmp_path)
    now = int(time.time())
    day = now - now % 86400 - 2 * 86400
    f1 = ExposureKey(bytes(range(16)), interval_number(day), 144, 2, ReportType.RECURSIVE, 1)
    for phone, extra in (("quiet.db", ["--no-f2"]), ("control.db", [])):
        bluezone(tmp_path, "init", "--config", str(config), "--store", phone, "--language", "en",
                 "--consent", "all", *extra)
        device = Device.open(config, tmp_path / phone)
        device.store.add_sightings(contact_sightings(GAEN, f1, day + 10 * 3600, 30, rssi=-60, tx_power=-10))
        device.store.close()
    feed = tmp_path / "mirror" / "keys"
    feed.mkdir(parents=True)
    name = f"{day}-{now}-1.zip"
    (feed / name).write_bytes(write_export([f1], SIGNER, region="452", start_timestamp=day, end_timestamp=now,
                                           key_id="452"))
    (feed / "index.txt").write_text(name + "\n")

    quiet = bluezone(tmp_path, "sync", "--config", str(config), "--store", "quiet.db")
    control = bluezone(tmp_path, "sync", "--config", str(config), "--store", "control.db")
    assert "1 new batch," in quiet and "0 new warnings" in quiet, quiet
    assert "1 new warning." in control, control
    for phone, tiers in (("quiet.db", []), ("control.db", ["F2"])):
        device = Device.open(config, tmp_path / phone)
        try:
            assert [a.tier.name for a in device.store.alerts()] == tiers
        finally:
            device.store.close()
