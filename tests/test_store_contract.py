"""The device store's own contract, at its edges: what it answers about its
own health, and how it keeps the check value of its key.

Written from the mutation run of ``bluezone/store/device.py`` (lines up to
330): each test pins an answer a caller relies on and that the broader store
tests did not tell apart. Real SQLCipher files, opened as the other store
tests open them (a key file kept apart from the database).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluezone.models import Sighting, Visit
from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore, StoreError, StoreKeyError, header, migrations
from bluezone.store.device import KEY_CHECK
from bluezone.store.engine import open_raw
from bluezone.store.secrets import AtRestCipher

NOW = 1_795_000_000  # a fixed "now": nothing is old enough to be purged


def open_store(tmp_path: Path, **kw: Any) -> DeviceStore:
    kw.setdefault("clock", lambda: NOW)
    return DeviceStore(tmp_path / "device.db", key_file=tmp_path / "keys" / "device.key", **kw)


def raw(tmp_path: Path) -> sqlite3.Connection:
    """A bare connection with the store's key, to change the file as damage or an old release would."""
    return open_raw(tmp_path / "device.db", tmp_path / "keys" / "device.key")


def rewrite_schema(tmp_path: Path, name: str, old: str, new: str) -> None:
    """Change the stored definition of table or index ``name`` without touching its rows.

    This is damage SQLCipher's page check cannot see (the pages are written
    with the key and their HMACs are right), so only SQLite's integrity
    check finds it: a table and its index, or a table and its rules, that
    no longer agree."""
    conn = raw(tmp_path)
    try:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()[0]
        assert old in sql, sql
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", [sql.replace(old, new), name])
        conn.execute("PRAGMA writable_schema = OFF")
    finally:
        conn.close()


def store_with_sightings(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.add_sightings([
        Sighting(b"a" * 16, NOW - 600, -60, b"\x01\x02\x03\x04", rssi_max=-58, source="sim"),
        Sighting(b"b" * 16, NOW - 300, -70, b"\x01\x02\x03\x04", rssi_max=None, source="sim"),
    ])
    assert store.integrity_ok()  # sound before the damage
    store.close()


# -- open: a private file, and damage called damage -----------------------------------------

def test_a_new_store_file_is_private_from_the_moment_it_exists(tmp_path, monkeypatch):
    """Made with mode 0600 by ``os.open`` itself, not made with the umask's
    mode and narrowed afterwards: a process that opened the file in between
    would keep reading it through its descriptor whatever the mode became.
    The store's own ``chmod`` sees the mode the file was born with."""
    born: list[int] = []
    chmod = os.chmod

    def spy(path: Any, mode: int, *args: Any, **kw: Any) -> None:
        if Path(path) == tmp_path / "device.db":
            born.append(stat.S_IMODE(os.stat(path).st_mode))
        chmod(path, mode, *args, **kw)

    monkeypatch.setattr(os, "chmod", spy)
    umask = os.umask(0o022)  # the usual umask, which leaves group and others read access
    try:
        open_store(tmp_path).close()
    finally:
        os.umask(umask)
    assert born == [0o600]


def test_a_new_store_is_made_with_the_folders_its_path_names(tmp_path):
    """``bluezone init --store`` may name a folder that does not exist yet,
    several levels deep (a fresh phone profile): the store makes it."""
    path = tmp_path / "profiles" / "phone-1" / "device.db"
    with DeviceStore(path, key_file=tmp_path / "keys" / "phone-1.key", clock=lambda: NOW) as store:
        store.set_meta("language", "vi")
    with DeviceStore(path, key_file=tmp_path / "keys" / "phone-1.key", clock=lambda: NOW, create=False) as store:
        assert store.get_meta("language") == "vi"


def test_a_store_cut_to_its_first_byte_is_refused_and_left_as_it_is(tmp_path):
    """Any byte at all makes the file an existing store, judged before use:
    a copy cut short after its first byte is refused, never taken for an
    empty file and overwritten with a new store (or given a new key)."""
    open_store(tmp_path).close()
    path = tmp_path / "device.db"
    first_byte = path.read_bytes()[:1]
    path.write_bytes(first_byte)
    for create in (False, True):
        with pytest.raises(StoreError, match="cut short"):
            open_store(tmp_path, create=create)
        assert path.read_bytes() == first_byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device.db", "keys"]


def test_a_store_whose_schema_is_damaged_is_refused_as_damaged_not_as_another_stores_key(tmp_path):
    """The key opens the file (every page's HMAC is right) but the schema in
    it does not parse: SQLite's "malformed database schema", a damaged store.
    Only "file is not a database" means the key does not open it; telling
    this user to find another key file would send them after the wrong fix."""
    open_store(tmp_path).close()
    conn = raw(tmp_path)
    try:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE own_keys (' WHERE name = 'own_keys'")
        conn.execute("PRAGMA writable_schema = OFF")
    finally:
        conn.close()
    before = (tmp_path / "device.db").read_bytes()
    with pytest.raises(StoreError, match="malformed database schema") as refused:
        open_store(tmp_path, create=False)
    assert "damaged or cut short" in str(refused.value)
    assert (tmp_path / "device.db").read_bytes() == before  # left as it is



def test_a_store_whose_first_open_was_interrupted_before_its_tables_opens_next_time(tmp_path, monkeypatch):
    """Ctrl-C (or a kill) during ``bluezone init`` after the file and its key
    were made but before the first migration committed leaves an encrypted
    file of one page and no tables, not even ``meta``. It is the phone's
    store, not damage: the next open finds no key check to compare (rather
    than failing on the missing table), sets the store up and records it."""
    def interrupted(store: DeviceStore, plugins: Any = None) -> list[tuple[str, str]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(migrations, "migrate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_store(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "device.db").stat().st_size > 0  # "existing" from now on: checked before use
    with open_store(tmp_path, create=False) as store:
        assert store.migrations_applied  # set up now
        assert store.get_meta(KEY_CHECK) == store.cipher.check_value()
        assert set(store.counts().values()) == {0}

# -- integrity_ok: the judge of the crash tests -------------------------------------------
#
# SQLite's integrity check answers one row "ok", or one row per problem, in
# text that sorts on either side of "ok" ("row 1 missing from index ...",
# "NULL value in ..."). A store that answered True for either would pass the
# SIGKILL test (test_store_crash.py) however damaged the killed writer left it.

def test_integrity_ok_is_false_when_an_index_has_lost_its_rows(tmp_path):
    store_with_sightings(tmp_path)
    # the time index now claims to index rssi: its entries match no row
    rewrite_schema(tmp_path, "sightings_time", "ON sightings(time)", "ON sightings(rssi)")
    store = open_store(tmp_path, purge_on_open=False)
    try:
        first = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        assert first.startswith("row ") and "missing from index sightings_time" in first  # sorts after "ok"
        assert store.integrity_ok() is False
    finally:
        store.close()


def test_integrity_ok_is_false_when_a_row_breaks_a_not_null_rule(tmp_path):
    store_with_sightings(tmp_path)  # the second sighting has no rssi_max
    rewrite_schema(tmp_path, "sightings", "rssi_max INTEGER,", "rssi_max INTEGER NOT NULL,")
    store = open_store(tmp_path, purge_on_open=False)
    try:
        first = store.db.execute("PRAGMA integrity_check").fetchone()[0]
        assert first == "NULL value in sightings.rssi_max"  # sorts before "ok"
        assert store.integrity_ok() is False
    finally:
        store.close()


# -- the key check ---------------------------------------------------------------------------

def test_a_store_from_before_the_key_check_opens_with_its_key_and_learns_the_check(tmp_path):
    """A store made before the check value existed (or killed between its
    migrations and the check's first write) has no ``key_check`` row: its
    own key opens it, its sealed data still opens, and the check is learnt
    then, so the next key file swapped in is judged by it."""
    store = open_store(tmp_path)
    key = store.current_key(SCHEDULE, NOW)  # a sealed row, which the right key opens
    check = store.get_meta(KEY_CHECK)
    assert check == store.cipher.check_value()  # a new store records it at once
    store.close()
    conn = raw(tmp_path)
    try:
        conn.execute("DELETE FROM meta WHERE key = ?", [KEY_CHECK])
    finally:
        conn.close()

    store = open_store(tmp_path)
    try:
        assert store.get_meta(KEY_CHECK) == check
        assert [own.key.key_data for own in store.own_keys()] == [key.key_data]
    finally:
        store.close()


#: One sealed row in one of the three tables whose rows are sealed (the ones the key check reads).
SEALED_ROW: dict[str, Callable[[DeviceStore], object]] = {
    "own_keys": lambda store: store.current_key(SCHEDULE, NOW),
    "visits": lambda store: store.save_visit(Visit("v1", "qr", NOW - 600, None, data=b"Pleiku market")),
    "declarations": lambda store: store.add_declaration(b'{"full_name": "Nguyen Van A"}'),
}


def plain_store_before_the_key_check(tmp_path: Path, name: str, sealed_in: str | None) -> tuple[Path, Path]:
    """A store as a release before both whole-file encryption and the key
    check left it: plain SQLite, no ``key_check`` row, and (unless
    ``sealed_in`` is None) one sealed row, sealed with its own key file. Made
    by exporting a store this version wrote, so the schema is the real one."""
    path, key_file = tmp_path / name, tmp_path / "keys" / f"{name}.key"
    work = tmp_path / f"{name}.work"
    with DeviceStore(work, key_file=key_file, clock=lambda: NOW) as store:
        if sealed_in is not None:
            SEALED_ROW[sealed_in](store)
    conn = open_raw(work, key_file)
    try:
        conn.execute("ATTACH DATABASE ? AS plain KEY ''", [str(path)])
        conn.execute("SELECT sqlcipher_export('plain')")
        conn.execute(f"PRAGMA plain.user_version = {migrations.SCHEMA_VERSION}")
        conn.execute("DELETE FROM plain.meta WHERE key = ?", [KEY_CHECK])
        conn.execute("DETACH DATABASE plain")
    finally:
        conn.close()
    for p in tmp_path.glob(f"{work.name}*"):
        p.unlink()
    assert header.is_plaintext(path)
    return path, key_file


def plain_dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_a_plain_store_whose_first_open_was_interrupted_before_its_tables_is_encrypted_and_set_up(tmp_path):
    """An earlier release's ``bluezone init`` interrupted after it switched
    the new plain file to WAL but before its first migration: one plain page,
    no tables, not even ``meta``. Nothing was stored, so no key can be
    wrong for it: it is encrypted with its key file and set up."""
    path, key_file = tmp_path / "old.db", tmp_path / "keys" / "old.db.key"
    AtRestCipher.from_file(key_file, create=True)  # the key is made before the database
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    finally:
        conn.close()
    assert header.is_plaintext(path)
    with DeviceStore(path, key_file=key_file, clock=lambda: NOW, create=False) as store:
        assert store.encrypted_on_open and store.migrations_applied
        assert store.get_meta(KEY_CHECK) == store.cipher.check_value()
    assert not header.is_plaintext(path)


@pytest.mark.parametrize("sealed_in", list(SEALED_ROW))
def test_a_plain_store_without_a_key_check_is_judged_by_its_sealed_rows_before_it_is_encrypted(tmp_path, sealed_in):
    """With no check value to compare, a plain store's sealed row is the only
    witness of its key, in whichever of the three tables it is. Another
    store's key must be refused *before* the file is encrypted: encrypted
    under the wrong key, the file would no longer open with its own key
    file, and its sealed rows never with the other (the store split in two)."""
    path, own_key = plain_store_before_the_key_check(tmp_path, "old.db", sealed_in)
    _, other_key = plain_store_before_the_key_check(tmp_path, "other.db", None)
    before = plain_dump(path)
    with pytest.raises(StoreKeyError, match="another store's key"):
        DeviceStore(path, key_file=other_key, clock=lambda: NOW, create=False)
    assert header.is_plaintext(path) and plain_dump(path) == before  # not encrypted, not changed
    with DeviceStore(path, key_file=own_key, clock=lambda: NOW, create=False) as store:  # its own key still opens it
        assert store.encrypted_on_open
        assert store.get_meta(KEY_CHECK) == store.cipher.check_value()  # and is learnt from it
        assert sum(store.counts()[t] for t in SEALED_ROW) == 1


def test_a_plain_store_with_nothing_sealed_and_no_key_check_takes_the_key_it_is_opened_with(tmp_path):
    """Nothing in it was sealed, so no key can be wrong for it: it is
    encrypted with the key it is opened with, which is then its key."""
    path, _ = plain_store_before_the_key_check(tmp_path, "old.db", None)
    _, other_key = plain_store_before_the_key_check(tmp_path, "other.db", None)
    with DeviceStore(path, key_file=other_key, clock=lambda: NOW, create=False) as store:
        assert store.encrypted_on_open and store.get_meta(KEY_CHECK) == store.cipher.check_value()


# -- own keys ----------------------------------------------------------------------------------

def test_a_phone_that_slept_through_midnight_broadcasts_a_new_key_not_yesterdays(tmp_path):
    """The first call of a new day rarely falls in its first 10-minute
    interval (a phone switched off overnight, a trace loop that starts late):
    yesterday's key has ended by then, and a key used past its end would
    make identifiers no published key covers (contacts never warned) and
    link the two days."""
    store = open_store(tmp_path)
    day = NOW - NOW % 86400
    yesterday = store.current_key(SCHEDULE, day + 3600)
    late_morning = day + 86400 + 7 * 3600
    today = store.current_key(SCHEDULE, late_morning)
    assert today.key_data != yesterday.key_data
    assert today.rolling_start_interval_number <= late_morning // 600 < today.end_interval_number
    assert yesterday.end_interval_number <= late_morning // 600
    assert [own.key.key_data for own in store.own_keys()] == [yesterday.key_data, today.key_data]
    store.close()



def test_a_clock_set_back_broadcasts_the_key_of_that_time_not_a_later_one(tmp_path):
    """A phone whose clock is set back (an NTP correction, a user fixing the
    date) already holds a key that starts later. The key broadcast must be
    the one whose intervals contain now: identifiers of a later key at an
    earlier time are outside its published range, and contacts would never
    find them."""
    store = open_store(tmp_path)
    day = NOW - NOW % 86400
    first = store.current_key(SCHEDULE, day + 3600)
    later = store.current_key(SCHEDULE, day + 86400 + 3600)
    assert later.key_data != first.key_data
    assert store.current_key(SCHEDULE, day + 7200) == first  # back on the first day
    assert len(store.own_keys()) == 2  # no third key made for it
    store.close()
