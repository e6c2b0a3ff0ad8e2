"""A sync killed (SIGKILL) mid-way resumes with no lost and no duplicate alert.

A real subprocess processes eight signed batches (each ~25k keys, one F0 met
on a different day in each) into a real SQLite store; the test kills it
after it has committed some batches, at two different points, then lets a
third run finish, and compares with an uninterrupted run. The kills are
placed by a pause point before each batch (the subprocess waits for "go"),
not by polling against the clock, so a fast machine cannot finish first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.export import write_export
from bluezone.matching.fixtures import background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.models import ExposureKey, ReportType, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore, engine
from bluezone.store.engine import open_raw

DAY0 = 2_833_056 * 600
NOW = DAY0 + 10 * 86400
BATCHES = 8

SCRIPT = r"""
import json, sys
from pathlib import Path
from bluezone.config import config_from_dict
from bluezone.models import PublishedBatch
from bluezone.store import DeviceStore
from bluezone.sync import process_batches
root = Path(sys.argv[1])
config = config_from_dict(json.loads((root / "deployment.json").read_text()))
store = DeviceStore(sys.argv[2], clock=lambda: int(sys.argv[3]))
names = sorted(p.name for p in (root / "feed").iterdir())
pause = len(sys.argv) > 4  # the test's pause point: before each batch, say where and wait for "go"

def batches():
    for i, n in enumerate(names):
        if pause:
            print("AT", i, file=sys.stderr, flush=True)  # batches 0..i-1 are committed (or skipped)
            if sys.stdin.readline().strip() != "go":
                sys.exit(3)
        yield PublishedBatch("keys", n, (root / "feed" / n).read_bytes())

stats = process_batches(store, config, batches(), language="en", now=int(sys.argv[3]))
print("DONE", json.dumps(stats.as_dict()), flush=True)
"""


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    root = tmp_path_factory.mktemp("feed")
    signer, pem = new_signing_key()
    (root / "deployment.json").write_text(json.dumps(deployment(pem)))
    (root / "feed").mkdir()
    people = []
    for d in range(BATCHES):
        f0 = ExposureKey(os.urandom(16), interval_number(DAY0 + d * 86400), 144, 2, ReportType.CONFIRMED_TEST, 2)
        people.append(f0)
        fake = [ExposureKey(os.urandom(16), interval_number(DAY0) + 144 * (i % 10)) for i in range(25_000)]
        (root / "feed" / f"{DAY0}-{NOW}-{d:02d}.zip").write_bytes(
            write_export([f0] + fake, signer, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452"))
    sightings = background_sightings(5000, DAY0 - 4 * 86400, 14)
    for d, f0 in enumerate(people):
        sightings += contact_sightings(GAEN, f0, DAY0 + d * 86400 + 9 * 3600, 20)
    return root, sightings


def new_store(path: Path, sightings) -> Path:
    s = DeviceStore(path, clock=lambda: NOW)
    s.add_sightings(sightings)
    s.close()
    return path


def start(root: Path, db: Path, log: Path, pausing: bool = False) -> subprocess.Popen:
    """The sync in a subprocess; ``pausing``: it stops before each batch until told to go."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", BLUEZONE_DISABLE_PLUGINS="")
    if pausing:
        return subprocess.Popen([sys.executable, "-c", SCRIPT, str(root), str(db), str(NOW), "pause"],
                                stdout=open(log, "a"), stderr=subprocess.PIPE, stdin=subprocess.PIPE,
                                env=env, text=True)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(root), str(db), str(NOW)],
                            stdout=open(log, "a"), stderr=subprocess.STDOUT, env=env)


def processed(db: Path) -> int:
    conn = open_raw(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM processed_batches").fetchone()[0]
    except engine.OperationalError:
        return 0
    finally:
        conn.close()


def kill_during(proc: subprocess.Popen, batch: int) -> None:
    """Let a pausing sync run up to ``batch``, let that batch start, and SIGKILL it.

    No race with the clock: however fast the machine, the kill lands while
    batch ``batch`` is being processed or, at the latest, at the next pause
    point, so exactly ``batch`` or ``batch + 1`` batches are committed."""
    for line in proc.stderr:
        if line.startswith("AT "):
            at = int(line.split()[1])
            proc.stdin.write("go\n")
            proc.stdin.flush()
            if at == batch:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return
    raise AssertionError(f"the sync ended (exit {proc.wait()}) before batch {batch}")


def alerts(db: Path) -> list[tuple]:
    conn = open_raw(db)
    try:
        return conn.execute("SELECT exposure_id, tier, exposure_day, delivered FROM alerts ORDER BY exposure_day").fetchall()
    finally:
        conn.close()


def test_killed_sync_resumes_without_lost_or_duplicate_alerts(feed, tmp_path):
    root, sightings = feed
    clean_db = new_store(tmp_path / "clean.db", sightings)
    p = start(root, clean_db, tmp_path / "clean.log")
    assert p.wait(timeout=300) == 0, (tmp_path / "clean.log").read_text()
    expected = alerts(clean_db)
    assert len(expected) == BATCHES and all(row[3] == 1 for row in expected)

    db = new_store(tmp_path / "device.db", sightings)
    log = tmp_path / "device.log"
    kill_during(start(root, db, log, pausing=True), 2)
    first = processed(db)
    assert first in (2, 3)
    assert len(alerts(db)) == first  # every committed batch has its alert, no more
    kill_during(start(root, db, log, pausing=True), first + 2)
    assert processed(db) in (first + 2, first + 3) and processed(db) < BATCHES
    p = start(root, db, log)
    assert p.wait(timeout=300) == 0, log.read_text()

    got = alerts(db)
    assert [(r[0], r[1], r[2]) for r in got] == [(r[0], r[1], r[2]) for r in expected]
    assert all(r[3] == 1 for r in got)  # every alert delivered in the end
    shown = [line for line in log.read_text().splitlines() if line.startswith("[F1]")]
    days = {r[2] for r in expected}
    # each alert reached the console sink at least once (at-least-once delivery)
    for day in days:
        assert any(day in line for line in shown), day
    # and no batch was processed twice: the final run skipped the committed ones
    last = json.loads(log.read_text().strip().splitlines()[-1].split(" ", 1)[1])
    assert last["batches_skipped"] >= first + 2 and last["alerts_new"] == BATCHES - last["batches_skipped"]
