"""The device store encrypted as a whole: a copy of its files alone reveals
nothing, and stores made before encryption are encrypted on open, safely.

Before whole-file encryption only three columns were sealed: a copy of the
file read with Python's plain ``sqlite3`` gave the alert tier and text, the
exposure and isolate-until dates, the sightings' identifiers with their time
and signal, which keys were uploaded and when. These tests read real store
files (database and WAL) as an adversary would, without the key.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bluezone.models import Alert, Exposure, Sighting, Tier, Visit
from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore, StoreKeyError, encryption, engine, header, migrations
from bluezone.store.secrets import AtRestCipher

NOW = 1_795_000_000
RPI = bytes.fromhex("5a17c0ffee5a17c0ffee5a17c0ffee00")  # a sighting's rolling proximity identifier
VENUE = "Quán cà phê Phố Núi, 12 Hùng Vương"
ALERT_EN = "You were in close contact with a case on 2026-11-20"
ALERT_VI = "Bạn đã tiếp xúc gần với một ca bệnh ngày 2026-11-20"
EXPOSURE_DAY = dt.date(2026, 11, 20)
ISOLATE_UNTIL = dt.date(2026, 12, 4)


def fill(store: DeviceStore) -> bytes:
    """Everything the issue found readable in a copy; returns the own key's bytes."""
    key = store.current_key(SCHEDULE, NOW)
    store.add_sightings([Sighting(RPI, NOW - 3600, -58, b"\x01\x02\x03\x04", -55, 300, "ble")])
    store.save_visit(Visit("v1", "qr", NOW - 7200, NOW - 3600, data=VENUE.encode()))
    exposure = Exposure(Tier.F1, "ble", EXPOSURE_DAY, score=950.0, minutes=16.0)
    store.add_exposure(exposure)
    store.add_alert(Alert(exposure.exposure_id, Tier.F1, "ble", EXPOSURE_DAY, NOW, ISOLATE_UNTIL,
                          {"en": ALERT_EN, "vi": ALERT_VI}))
    store.mark_keys_uploaded([key])
    store.set_meta("f2_opt_in", "1")
    return key.key_data


def plaintexts(own_key: bytes) -> list[bytes]:
    return [RPI, own_key, VENUE.encode(), ALERT_EN.encode(), ALERT_VI.encode(), b"close contact",
            EXPOSURE_DAY.isoformat().encode(), ISOLATE_UNTIL.isoformat().encode(), b"f2_opt_in",
            b"CREATE TABLE", b"SQLite format 3"]


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name)}


def test_a_copy_of_the_store_and_its_wal_reveals_nothing(tmp_path):
    """Copied while the store is open (the WAL holds the latest writes, as a
    backup or a synced folder would catch it) and after it is closed."""
    path = tmp_path / "phone.db"
    store = DeviceStore(path, key_file=tmp_path / "keys" / "phone.key", clock=lambda: NOW)
    own_key = fill(store)
    open_copy = files_of(path)
    assert f"{path.name}-wal" in open_copy and len(open_copy[f"{path.name}-wal"]) > 0
    store.close()
    for copy in (open_copy, files_of(path)):
        for name, data in copy.items():
            for secret in plaintexts(own_key):
                assert secret not in data, (name, secret)
    # Python's sqlite3 reads the copy as a non-database, with or without its WAL.
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    for name, data in open_copy.items():
        (stolen / name).write_bytes(data)
    conn = sqlite3.connect(stolen / path.name)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        conn.execute("SELECT name FROM sqlite_master").fetchall()
    conn.close()
    cli = shutil.which("sqlite3")
    if cli:  # the sqlite3 shell, where installed, says the same
        shell = subprocess.run([cli, str(stolen / path.name), ".tables"], capture_output=True, text=True)
        assert shell.returncode != 0 and "not a database" in shell.stderr
    # The same bytes with the key: everything is there (so the test above saw the real store).
    with DeviceStore(path, key_file=tmp_path / "keys" / "phone.key", clock=lambda: NOW, create=False) as again:
        assert again.alerts()[0].messages["vi"] == ALERT_VI
        assert [s.identifier for s in again.sightings()] == [RPI]


def plain_store(tmp_path: Path, name: str = "old.db") -> tuple[Path, Path, bytes]:
    """A store as Bluezone before whole-file encryption left it: plain SQLite,
    ``user_version`` 4 (named migrations), secret columns sealed with the key
    file's key, the latest writes still in its WAL (a phone switched off
    mid-use). Made by exporting a store this version wrote to plaintext, so
    its schema is the real one."""
    path, key_file = tmp_path / name, tmp_path / "keys" / f"{name}.key"
    work = tmp_path / f"{name}.work"
    with DeviceStore(work, key_file=key_file, clock=lambda: NOW) as store:
        own_key = fill(store)
    conn = engine.open_raw(work, key_file)
    conn.execute("ATTACH DATABASE ? AS plain KEY ''", [str(path)])
    conn.execute("SELECT sqlcipher_export('plain')")
    conn.execute(f"PRAGMA plain.user_version = {migrations.SCHEMA_VERSION}")
    conn.execute("DETACH DATABASE plain")
    conn.close()
    for p in work.parent.glob(f"{work.name}*"):
        p.unlink()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('language', 'vi')")
    snapshot = files_of(path)  # as a crash leaves it: the last write only in the WAL
    writer.close()
    for p in path.parent.glob(f"{path.name}*"):
        p.unlink()
    for name_, data in snapshot.items():
        (path.parent / name_).write_bytes(data)
    assert header.is_plaintext(path) and len(snapshot[f"{path.name}-wal"]) > 0
    return path, key_file, own_key


def test_a_plain_store_is_encrypted_on_open_with_its_data(tmp_path):
    path, key_file, own_key = plain_store(tmp_path)
    with sqlite3.connect(path) as conn:  # readable by anyone before
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (1,)
    conn.close()
    store = DeviceStore(path, key_file=key_file, clock=lambda: NOW, create=False)
    assert store.encrypted_on_open
    assert store.get_meta("language") == "vi"  # the write that was only in the WAL
    assert store.own_keys()[0].key.key_data == own_key and store.own_keys()[0].uploaded
    assert store.alerts()[0].messages == {"en": ALERT_EN, "vi": ALERT_VI}
    assert [s.identifier for s in store.sightings()] == [RPI]
    assert store.visits()[0].data == VENUE.encode()
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_ok()
    store.close()
    assert sorted(files_of(path)) == [path.name]  # no export, no plain copy left beside it
    for data in files_of(path).values():
        for secret in plaintexts(own_key):
            assert secret not in data, secret
    with DeviceStore(path, key_file=key_file, clock=lambda: NOW, create=False) as again:
        assert not again.encrypted_on_open


def test_a_plain_store_is_not_encrypted_under_another_stores_key(tmp_path):
    path, _, _ = plain_store(tmp_path)
    _, other_key, _ = plain_store(tmp_path, "other.db")
    before = dump(path)
    with pytest.raises(StoreKeyError, match="another store's key"):
        DeviceStore(path, key_file=other_key, clock=lambda: NOW, create=False)
    assert header.is_plaintext(path) and dump(path) == before  # (SQLite may have folded its WAL in)


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


KILLED = textwrap.dedent(
    """
    import sys, time
    from bluezone.store import DeviceStore, encryption

    def stop_at(name):
        if name == sys.argv[3]:
            print(name, flush=True)
            time.sleep(600)

    encryption._stage = stop_at
    DeviceStore(sys.argv[1], key_file=sys.argv[2], clock=lambda: 1_795_000_000, create=False)
    print("finished", flush=True)
    """
)


@pytest.mark.parametrize("stage", ["plain-checkpointed", "exported", "swapped"])
def test_a_crash_mid_encryption_leaves_a_usable_store(tmp_path, stage):
    """A real process is killed (SIGKILL) at each step of the encryption: the
    store left behind opens with all its data, the next open finishes the
    job, and nothing plain stays beside it."""
    path, key_file, own_key = plain_store(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(path), str(key_file), stage], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().decode().strip() == stage
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = files_of(path)
    if stage == "swapped":
        assert not header.is_plaintext(path)  # the encrypted store is in place; its plain copy is still there
        assert header.MAGIC in left[path.name + encryption.PLAINTEXT_SUFFIX][:16]
    else:
        assert header.is_plaintext(path)  # still the plain store, usable as it is
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (1,)
        conn.close()
    with DeviceStore(path, key_file=key_file, clock=lambda: NOW, create=False) as store:
        assert store.integrity_ok()
        assert store.own_keys()[0].key.key_data == own_key
        assert store.alerts()[0].messages["en"] == ALERT_EN
        assert store.get_meta("language") == "vi"
    assert not header.is_plaintext(path)
    assert sorted(files_of(path)) == [path.name]
    for data in files_of(path).values():
        assert ALERT_EN.encode() not in data and RPI not in data


def test_two_commands_opening_a_plain_store_at_once_both_get_it_encrypted(tmp_path):
    """The second waits for the first's lock, then finds the store encrypted."""
    path, key_file, _ = plain_store(tmp_path)
    script = ("import sys\nfrom bluezone.store import DeviceStore\n"
              "s = DeviceStore(sys.argv[1], key_file=sys.argv[2], clock=lambda: 1_795_000_000, create=False)\n"
              "print(len(s.alerts()), s.encrypted_on_open)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(key_file)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    outcomes = sorted(out.split()[1] for out, _ in results)
    assert [out.split()[0] for out, _ in results] == ["1", "1", "1"]
    assert outcomes.count("True") == 1  # encrypted once, by whichever came first
    assert not header.is_plaintext(path) and sorted(files_of(path)) == [path.name]


def _plain_store(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(200),) for _ in range(600)])  # > 64 KiB
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_leftover_plain_copy_is_zeroed_before_it_is_unlinked(tmp_path):
    """After the swap the plain copy is another file: every byte is
    overwritten with zeros (an extra link shows what was on disk), and the
    half-export's files are removed."""
    store = tmp_path / "device.db"
    store.write_bytes(b"encrypted store stand-in")
    plain = encryption.plaintext_path(store)
    size = len(_plain_store(plain))
    witness = tmp_path / "witness"
    os.link(plain, witness)
    export = encryption.export_path(store)
    leftovers = [export, Path(f"{export}-journal"), Path(f"{export}-wal"), Path(f"{export}-shm")]
    for f in leftovers:
        f.write_bytes(b"half")
    encryption.wipe_leftovers(store)
    assert not plain.exists() and not any(f.exists() for f in leftovers)
    assert witness.read_bytes() == b"\0" * size
    assert store.read_bytes() == b"encrypted store stand-in"


def test_a_plain_copy_that_is_still_the_store_is_unlinked_not_zeroed(tmp_path):
    """A crash between the hard link and the swap: the ``.plaintext`` name
    is the store itself, which must keep every byte."""
    store = tmp_path / "device.db"
    before = _plain_store(store)
    os.link(store, encryption.plaintext_path(store))
    encryption.wipe_leftovers(store)
    assert not encryption.plaintext_path(store).exists()
    assert store.read_bytes() == before
    assert sqlite3.connect(store).execute("SELECT COUNT(*) FROM t").fetchone()[0] == 600


def test_the_encrypted_file_is_left_for_its_owner_to_read_and_write(tmp_path):
    """Checked by mode, not by trying to write: the tests may run as root,
    whom a read-only file does not stop (a phone's user would be: a store
    left ``r-x`` could not be encrypted or written)."""
    path, key_file, _ = plain_store(tmp_path)
    key = AtRestCipher.from_file(key_file, create=False).database_key()
    assert encryption.encrypt_plain_store(path, key)
    assert not header.is_plaintext(path) and path.stat().st_mode & 0o777 == 0o600


def test_a_store_another_command_encrypted_while_this_one_waited_is_left_alone(tmp_path):
    """The second of two commands finds the store encrypted once it has the
    lock: it says so (False, so it does not report an encryption it did not
    do) and changes no byte."""
    path, key_file, _ = plain_store(tmp_path)
    key = AtRestCipher.from_file(key_file, create=False).database_key()
    assert encryption.encrypt_plain_store(path, key)
    before = files_of(path)
    assert encryption.encrypt_plain_store(path, key) is False
    assert files_of(path) == before
