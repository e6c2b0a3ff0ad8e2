"""A writer process killed with SIGKILL mid-write leaves a consistent store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from bluezone.store import DeviceStore

BATCH = 400

WRITER = textwrap.dedent(
    """
    import os, sys
    from bluezone.models import Sighting
    from bluezone.store import DeviceStore
    store = DeviceStore(sys.argv[1], key_file=sys.argv[2], clock=lambda: 1_795_000_000)
    n = 0
    while True:
        with store.transaction():
            store.add_sightings(
                Sighting(os.urandom(16), 1_795_000_000 - i, -60, os.urandom(4), source="sim")
                for i in range({batch})
            )
            store.mark_batch_processed("keys", os.urandom(8).hex())
        n += 1
        if n == 3:
            print("writing", flush=True)
    """
).format(batch=BATCH)


def test_sigkill_mid_write_leaves_whole_groups_only(tmp_path):
    db, key = tmp_path / "device.db", tmp_path / "device.key"
    for attempt, delay in enumerate((0.05, 0.2, 0.4)):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(key)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"writing"
        time.sleep(delay)  # land the kill at a different point of the write loop each time
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        store = DeviceStore(db, key_file=key, clock=lambda: 1_795_000_000)
        assert store.integrity_ok()
        sightings = store.sighting_count()
        batches = store.db.execute("SELECT COUNT(*) FROM processed_batches").fetchone()[0]
        assert batches >= 3 * (attempt + 1)
        # every committed group is whole: its sightings and its mark, never one without the other
        assert sightings == batches * BATCH
        store.close()
