"""The device store: privacy of the file, encryption at rest, atomicity, retention, migrations."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluezone.i18n import render
from bluezone.models import Alert, Exposure, ExposureKey, Sighting, Tier, Visit, utc_date
from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore, StoreError, StoreKeyError, migrations

NOW = 1_795_000_000  # a fixed "now" so retention is deterministic


def open_store(tmp_path, name="device.db", **kw) -> DeviceStore:
    kw.setdefault("clock", lambda: NOW)
    return DeviceStore(tmp_path / name, key_file=tmp_path / "keys" / f"{name}.key", **kw)


def sighting(ident: bytes, t: int, rssi: int = -60) -> Sighting:
    return Sighting(identifier=ident, time=t, rssi=rssi, metadata=b"\x01\x02\x03\x04", rssi_max=rssi + 2,
                    seconds_since_last_scan=300, source="sim")


def test_files_are_private_and_wal(tmp_path):
    store = open_store(tmp_path)
    store.add_sightings([sighting(b"a" * 16, NOW)])
    for path in (store.path, store.key_file, store.path.with_name(store.path.name + "-wal"),
                 store.path.with_name(store.path.name + "-shm")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.key_file.parent != store.path.parent  # the key is kept apart


def test_secrets_are_not_in_the_database_file(tmp_path):
    store = open_store(tmp_path)
    key = store.current_key(SCHEDULE, NOW)
    store.save_visit(Visit("v1", "qr", NOW - 600, None, data=b"Cafe Phuong, 12 Hung Vuong"))
    store.add_declaration(b'{"full_name": "Nguyen Van A"}')
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("device.db*"))
    assert key.key_data not in raw
    assert b"Cafe Phuong" not in raw and b"Nguyen Van A" not in raw
    reopened = open_store(tmp_path)
    assert reopened.own_keys()[0].key.key_data == key.key_data
    assert reopened.visits()[0].data == b"Cafe Phuong, 12 Hung Vuong"
    assert reopened.declarations()[0][2] == b'{"full_name": "Nguyen Van A"}'


def test_wrong_key_file_cannot_open_secrets(tmp_path):
    store = open_store(tmp_path)
    store.current_key(SCHEDULE, NOW)
    store.close()
    (tmp_path / "other.key").write_bytes(os.urandom(32))
    # refused at open now (the store keeps a check value of its key), not at the first read
    with pytest.raises(StoreKeyError, match="another store's key"):
        DeviceStore(tmp_path / "device.db", key_file=tmp_path / "other.key", clock=lambda: NOW)


def test_missing_key_file_is_a_clear_error_and_never_a_new_key(tmp_path):
    """A key is born with its database only: an existing store whose key file
    is gone is refused even with ``create`` on (a new key would split it)."""
    open_store(tmp_path).close()
    for create in (False, True):
        with pytest.raises(StoreKeyError, match="missing") as refused:
            DeviceStore(tmp_path / "device.db", key_file=tmp_path / "nope.key", create=create)
        message = render(refused.value.args[0], ["vi", "en"])  # as a vi/en deployment shows it
        assert "\n" not in message and str(tmp_path / "nope.key") in message
        assert "restore" in message and "khôi phục" in message
        assert not (tmp_path / "nope.key").exists()
    with pytest.raises(StoreError, match="bluezone init"):
        DeviceStore(tmp_path / "absent.db", key_file=tmp_path / "k", create=False)


def test_retention_purges_on_open_and_on_demand(tmp_path):
    store = open_store(tmp_path, retention_days=14)
    old, recent = NOW - 15 * 86400, NOW - 13 * 86400
    store.add_sightings([sighting(b"o" * 16, old), sighting(b"r" * 16, recent)])
    store.add_own_key("gaen", ExposureKey(b"k" * 16, old // 600 - old // 600 % 144, 144))
    store.add_own_key("gaen", ExposureKey(b"n" * 16, recent // 600 - recent // 600 % 144, 144))
    store.save_visit(Visit("old", "qr", old, old + 3600))
    store.add_exposure(Exposure(Tier.F1, "ble", utc_date(old)))
    store.close()
    reopened = open_store(tmp_path, retention_days=14)  # purge on open
    assert [s.identifier for s in reopened.sightings()] == [b"r" * 16]
    assert [k.key.key_data for k in reopened.own_keys()] == [b"n" * 16]
    assert reopened.visits() == [] and reopened.exposures() == []
    counts = reopened.purge(now=NOW + 2 * 86400)  # a later sync
    assert counts["sightings"] == 1 and reopened.sighting_count() == 0


def test_current_key_rotates_at_the_utc_day_boundary(tmp_path):
    store = open_store(tmp_path)
    day = NOW - NOW % 86400
    k1 = store.current_key(SCHEDULE, day + 3600)
    assert store.current_key(SCHEDULE, day + 86399) == k1
    k2 = store.current_key(SCHEDULE, day + 86400)
    assert k2.key_data != k1.key_data
    assert k1.end_interval_number == k2.rolling_start_interval_number == (day + 86400) // 600


def test_early_rotation_after_upload_ends_the_key_now(tmp_path):
    store = open_store(tmp_path)
    day = NOW - NOW % 86400
    k1 = store.current_key(SCHEDULE, day + 3600)
    fresh = store.rotate_key_early(SCHEDULE, day + 7200)
    shortened = store.own_keys()[0].key
    assert shortened.key_data == k1.key_data
    assert shortened.end_interval_number == (day + 7200) // 600 == fresh.rolling_start_interval_number
    assert store.current_key(SCHEDULE, day + 7300) == fresh


def test_exposures_and_alerts_are_stored_once(tmp_path):
    store = open_store(tmp_path)
    exposure = Exposure(Tier.F1, "ble", dt.date(2026, 11, 20), score=950.0, minutes=16.0)
    assert store.add_exposure(exposure) is True
    assert store.add_exposure(exposure) is False
    alert = Alert(exposure.exposure_id, Tier.F1, "ble", exposure.date, NOW, dt.date(2026, 12, 4),
                  {"vi": "Bạn đã tiếp xúc gần", "en": "You were in close contact"})
    assert store.add_alert(alert) and not store.add_alert(alert)
    assert store.alerts(undelivered_only=True) == [alert]
    store.mark_alert_delivered(exposure.exposure_id)
    assert store.alerts(undelivered_only=True) == [] and store.alerts() == [alert]


def test_failed_group_write_leaves_nothing(tmp_path):
    store = open_store(tmp_path)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_sightings([sighting(b"x" * 16, NOW)])
            store.mark_batch_processed("keys", "c0ffee", "1-2-1.zip")
            raise RuntimeError("interrupted")
    assert store.sighting_count() == 0 and not store.batch_processed("keys", "c0ffee")


def test_migration_from_an_empty_file_and_refusal_of_a_newer_one(tmp_path):
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # version 0: an empty database
    store = DeviceStore(path, key_file=tmp_path / "k", clock=lambda: NOW)
    assert migrations.current_version(store.db.conn) == migrations.SCHEMA_VERSION
    assert set(migrations.DATA_TABLES) <= set(store.db.table_names())
    store.db.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    store.close()
    with pytest.raises(StoreError, match="newer"):
        DeviceStore(path, key_file=tmp_path / "k")


sightings_strategy = st.lists(
    st.tuples(st.binary(min_size=16, max_size=16), st.integers(NOW - 13 * 86400, NOW),
              st.integers(-120, 0), st.binary(max_size=4)),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=sightings_strategy)
def test_sightings_round_trip(tmp_path_factory, rows):
    store = open_store(tmp_path_factory.mktemp("s"))
    given_sightings = [Sighting(i, t, r, m, source="ble") for i, t, r, m in rows]
    store.add_sightings(given_sightings)
    stored = list(store.sightings())
    assert sorted(stored, key=lambda s: (s.time, s.identifier, s.rssi, s.metadata)) == sorted(
        given_sightings, key=lambda s: (s.time, s.identifier, s.rssi, s.metadata))
    store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=2048))
def test_visit_payload_round_trips_encrypted(tmp_path_factory, payload):
    store = open_store(tmp_path_factory.mktemp("v"))
    store.save_visit(Visit("v", "qr", NOW, None, payload))
    assert store.visits()[0].data == payload
    sealed = store.db.execute("SELECT sealed FROM visits").fetchone()[0]
    assert len(sealed) == len(payload) + 40  # nonce + MAC: it is ciphertext, not the payload
    store.close()


def test_header_check_leaves_a_store_in_use_to_sqlite(tmp_path):
    """The size test is conclusive only without a WAL beside the file: a
    store open in another process may be mid-checkpoint (page 1 written, the
    last pages not yet), which must not read as "cut short". Both kinds of
    file: a plain one (made before whole-file encryption, judged by its
    header) and an encrypted one (judged by its size in SQLCipher pages)."""
    from bluezone.store import engine, header

    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(200),) for _ in range(200)])
        conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION}")
    conn.close()
    data = plain.read_bytes()
    page = header.page_size_of(data[:100])
    plain.write_bytes(data[: page * 2])
    with pytest.raises(StoreError, match="cut short"):
        header.check_existing(plain, migrations.SCHEMA_VERSION)
    Path(f"{plain}-wal").write_bytes(b"")
    assert header.check_existing(plain, migrations.SCHEMA_VERSION) == migrations.SCHEMA_VERSION

    store = open_store(tmp_path)
    store.add_sightings([sighting(os.urandom(16), NOW - i) for i in range(3000)])
    store.close()
    path = tmp_path / "device.db"
    path.write_bytes(path.read_bytes()[: engine.PAGE_SIZE * 2 + 100])
    with pytest.raises(StoreError, match="cut short"):
        header.check_existing(path, migrations.SCHEMA_VERSION)
    Path(f"{path}-wal").write_bytes(b"")
    assert header.check_existing(path, migrations.SCHEMA_VERSION) is None  # the version is inside the ciphertext
