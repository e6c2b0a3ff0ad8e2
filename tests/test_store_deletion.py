"""Deletion that deletes: purged rows are gone from the file's bytes even
for someone holding the key, every table has a retention rule, and a
long-running command purges while it runs.

Why read decrypted pages: the file is encrypted, so finding nothing in its
raw bytes after a purge proves only the encryption. The question is whether
the key's holder (or the phone, seized unlocked) can recover purged rows
from free space, as 108 of 108 purged identifiers could be from a plain
SQLite file. So the test decrypts every page of the database and its WAL
itself (SQLCipher 4's documented page format: AES-256-CBC with a per-page
IV in the reserved tail; with a raw key the key is used as it is) and
searches the plaintext pages.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bluezone.models import Alert, Exposure, Sighting, Tier
from bluezone.plugins import make_plugin_manager
from bluezone.store import DeviceStore, engine
from bluezone.store.device import RETENTION
from bluezone.store.purging import PurgeTimer
from bluezone.store.secrets import AtRestCipher

NOW = 1_795_000_000
DAY = 86_400
RESERVE = 80  # SQLCipher 4: 16-byte IV + 64-byte HMAC-SHA512 at the end of each page
WAL_HEADER, FRAME_HEADER = 32, 24


def _decrypt_page(page: bytes, key: bytes, first: bool) -> bytes:
    body_end = engine.PAGE_SIZE - RESERVE
    iv = page[body_end:body_end + 16]
    start = 16 if first else 0  # page 1 begins with the file's salt, in clear
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(page[start:body_end]) + dec.finalize()


def plaintext_pages(path: Path, key: bytes) -> bytes:
    """Every page of the database file and of every frame in its WAL, decrypted."""
    out = []
    data = path.read_bytes()
    for n in range(len(data) // engine.PAGE_SIZE):
        out.append(_decrypt_page(data[n * engine.PAGE_SIZE:(n + 1) * engine.PAGE_SIZE], key, n == 0))
    wal = Path(f"{path}-wal")
    if wal.exists():
        frames = wal.read_bytes()[WAL_HEADER:]
        step = FRAME_HEADER + engine.PAGE_SIZE
        for off in range(0, len(frames) - step + 1, step):
            page_no = int.from_bytes(frames[off:off + 4], "big")
            out.append(_decrypt_page(frames[off + FRAME_HEADER:off + step], key, page_no == 1))
    return b"".join(out)


def filled(tmp_path: Path, name: str) -> tuple[DeviceStore, list[bytes], list[bytes]]:
    """A store with 108 sightings and an alert past retention, and recent ones."""
    clock = {"now": NOW - 20 * DAY}
    store = DeviceStore(tmp_path / f"{name}.db", key_file=tmp_path / f"{name}.key", clock=lambda: clock["now"])
    old_ids = [os.urandom(16) for _ in range(108)]
    old_text = [f"Old alert {os.urandom(6).hex()}".encode(), f"Cảnh báo cũ {os.urandom(6).hex()}".encode()]
    store.add_sightings(Sighting(i, NOW - 20 * DAY + n, -60, b"\x01\x02\x03\x04", source="ble")
                        for n, i in enumerate(old_ids))
    exposure = Exposure(Tier.F1, "ble", dt.datetime.fromtimestamp(NOW - 20 * DAY, dt.timezone.utc).date(), 900.0, 20.0)
    store.add_exposure(exposure)
    store.add_alert(Alert(exposure.exposure_id, Tier.F1, "ble", exposure.date, NOW - 20 * DAY,
                          exposure.date + dt.timedelta(days=14),
                          {"en": old_text[0].decode(), "vi": old_text[1].decode()}))
    store.add_sightings(Sighting(os.urandom(16), NOW - n, -60, b"\x01\x02\x03\x04", source="ble")
                        for n in range(50))
    clock["now"] = NOW
    return store, old_ids, old_text


def key_of(store: DeviceStore) -> bytes:
    return AtRestCipher.from_file(store.key_file, create=False).database_key()


def test_purged_identifiers_and_alert_text_are_gone_from_the_pages_even_with_the_key(tmp_path):
    store, old_ids, old_text = filled(tmp_path, "phone")
    key = key_of(store)
    before = plaintext_pages(store.path, key)
    assert before[:2] == engine.PAGE_SIZE.to_bytes(2, "big")  # page 1 decrypted: the reader works
    assert all(i in before for i in old_ids) and all(t in before for t in old_text)
    counts = store.purge()
    assert counts["sightings"] == 108 and counts["alerts"] == 1
    after = plaintext_pages(store.path, key)
    assert [i for i in old_ids if i in after] == []
    assert [t for t in old_text if t in after] == []
    assert store.sighting_count() == 50
    store.close()
    after_close = plaintext_pages(store.path, key)
    assert not any(i in after_close for i in old_ids) and not any(t in after_close for t in old_text)


def test_without_secure_delete_the_same_purge_leaves_them_readable(tmp_path):
    """The control: what the test above would find if the store did not set
    secure_delete (plain SQLite's default) — so the test proves secure_delete,
    not the page reader's blindness."""
    store, old_ids, old_text = filled(tmp_path, "control")
    store.db.execute("PRAGMA secure_delete = OFF")
    store.purge()
    after = plaintext_pages(store.path, key_of(store))
    assert sum(i in after for i in old_ids) > 50 and any(t in after for t in old_text)
    store.close()


def test_every_table_of_the_store_has_a_retention_rule(tmp_path):
    """A table added without a purge or a stated bound fails here (the core's,
    and those of every plugin installed where the test runs)."""
    with DeviceStore(tmp_path / "p.db", key_file=tmp_path / "p.key", plugins=make_plugin_manager()) as store:
        tables = {n for (n,) in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    assert tables - set(RETENTION) == set()
    for table, rule in RETENTION.items():
        assert bool(rule.sql) != bool(rule.bounded), table


def test_sync_state_and_processed_batches_are_purged_and_meta_stays_bounded(tmp_path):
    clock = {"now": NOW - 20 * DAY}
    store = DeviceStore(tmp_path / "s.db", key_file=tmp_path / "s.key", clock=lambda: clock["now"])
    store.set_sync_state("a-feed-no-longer-synced", {"etag": "x", "seen": ["b1.zip"]})
    store.mark_batch_processed("keys", "c0ffee", "b1.zip")
    for n in range(50):  # many syncs: each overwrites its setting, no history
        store.set_meta("last_sync", str(clock["now"] + n))
    meta_rows = store.db.execute("SELECT count(*) FROM meta").fetchone()[0]
    clock["now"] = NOW
    store.set_sync_state("keys", {"etag": "y", "seen": []})
    store.purge()
    assert store.get_sync_state("a-feed-no-longer-synced") == {}
    assert store.get_sync_state("keys") == {"etag": "y", "seen": []}
    assert not store.batch_processed("keys", "c0ffee")
    assert store.db.execute("SELECT count(*) FROM meta").fetchone()[0] == meta_rows
    store.close()


def test_a_long_running_command_purges_on_schedule(tmp_path):
    """A trace keeps the store open for days: its loop ticks a PurgeTimer
    (bluezone_ble's trace does at every scan), which purges once an hour of
    the store's clock has passed, not only at the next open."""
    clock = {"now": NOW}
    store = DeviceStore(tmp_path / "t.db", key_file=tmp_path / "t.key", clock=lambda: clock["now"])
    timer = PurgeTimer(store)
    store.add_sightings([Sighting(os.urandom(16), NOW - 14 * DAY + 600, -60, b"\x01\x02\x03\x04", source="ble")])
    clock["now"] += 1200  # the sighting is now past the 14 days
    assert timer.tick() is None and store.sighting_count() == 1  # not yet an hour since the last purge
    clock["now"] = NOW + 3600
    counts = timer.tick()
    assert counts is not None and counts["sightings"] == 1 and store.sighting_count() == 0
    assert timer.tick() is None  # and not again until the next hour
    for later in (1800, 3599):  # (found by mutation testing: the hour is a difference of times)
        clock["now"] = NOW + 3600 + later
        assert timer.tick() is None, later
    clock["now"] = NOW + 7200
    assert timer.tick() is not None
    clock["now"] = NOW + 7200 + 3600 + 1  # a loop that ticks late (a long scan) still purges
    assert timer.tick() is not None
    store.close()
