"""``bluezone trace --simulate`` with the person's own phones, through the console script.

The simulator moves stores set up by ``bluezone init`` (``--store``, repeated)
with their real keys, so what one phone hears are the other's real broadcast
identifiers; stores kept with ``--out`` open with every other command; a
store copied away from its key says where the key is looked for.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore

BLUEZONE = str(Path(sys.executable).parent / "bluezone")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k not in ("BLUEZONE_STORE", "BLUEZONE_CONFIG")})


def deployment(tmp_path: Path) -> str:
    p = tmp_path / "province.toml"
    p.write_text('[deployment]\nname = "Gia Lai"\nregion = "452"\n[authority]\nurl = "https://a.example"\n')
    return str(p)


def broadcast_ids(store_path: Path) -> set[bytes]:
    """Every identifier the phone's own keys broadcast, interval by interval."""
    ids = set()
    with DeviceStore(store_path, create=False) as store:
        for own in store.own_keys(SCHEDULE.name):
            k = own.key
            for enin in range(k.rolling_start_interval_number, k.end_interval_number):
                ids.add(SCHEDULE.broadcast(k.key_data, k.rolling_start_interval_number, enin, b"\0" * 4).identifier)
    return ids


def heard(store_path: Path) -> set[bytes]:
    with DeviceStore(store_path, create=False) as store:
        return {s.identifier for s in store.sightings()}


def test_two_own_phones_meet_with_their_real_keys(tmp_path):
    cfg = deployment(tmp_path)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run("init", "--config", cfg, "--store", str(a), "--consent", "all").returncode == 0
    done = run("trace", "--simulate", "office", "--config", cfg, "--store", str(a), "--store", str(b))
    assert done.returncode == 2 and "bluezone init" in done.stderr and not b.exists()  # never created here
    done = run("trace", "--simulate", "office", "--config", cfg, "--store", str(a), "--store", str(a))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert run("init", "--config", cfg, "--store", str(b), "--consent", "all").returncode == 0
    done = run("trace", "--simulate", "office", "--config", cfg, "--store", str(a), "--store", str(b),
               "--minutes", "30", "--seed", "3", "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "run").glob("phone*.db"))  # two given phones, no extra ones
    assert heard(a) & broadcast_ids(b) and heard(b) & broadcast_ids(a)
    status = run("status", "--config", cfg, "--store", str(a))
    assert status.returncode == 0, status.stderr


def test_stores_kept_with_out_open_and_a_copied_store_says_where_its_key_is(tmp_path):
    cfg = deployment(tmp_path)
    out = tmp_path / "run"
    done = run("trace", "--simulate", "office", "--devices", "3", "--minutes", "20", "--out", str(out))
    assert done.returncode == 0, done.stderr
    status = run("status", "--config", cfg, "--store", str(out / "phone001.db"))
    assert status.returncode == 0, status.stderr
    copied = tmp_path / "elsewhere" / "phone001.db"
    copied.parent.mkdir()
    shutil.copy(out / "phone001.db", copied)
    status = run("status", "--config", cfg, "--store", str(copied))
    assert status.returncode == 2
    assert os.environ["BLUEZONE_KEY_DIR"] in status.stderr and "BLUEZONE_KEY_DIR" in status.stderr
    assert "Traceback" not in status.stderr


def test_days_ago_needs_the_persons_own_phones(tmp_path):
    cfg = deployment(tmp_path)
    done = run("trace", "--simulate", "office", "--config", cfg, "--days-ago", "2", "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and "--store" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before anything was simulated
