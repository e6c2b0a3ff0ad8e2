"""A batch counts once, and so does every published key in it.

Names are not signed: a mirror can copy a batch under a new name, an
authority can rebuild or re-sign an export after a rollback, a key can come
back inside another batch, and two syncs can race on one store. Each of
these once doubled a 10-minute contact into a 20-minute one and raised a
false F1. These tests replay them with real SQLite files, a static mirror
folder served by the file transport and by a real HTTP server on loopback,
and real ``bluezone sync`` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluezone.config import config_from_dict
from bluezone.export import write_export
from bluezone.matching.fixtures import GAEN_APPLE_RISK, background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.models import ExposureKey, PublishedBatch, ReportType, Tier, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore, migrations
from bluezone.store.engine import open_raw
from bluezone.sync import process_batches, sync

DAY0 = 2_833_056 * 600  # 2023-11-13 00:00 UTC
NOW = DAY0 + 5 * 86400
SIGNER, PEM = new_signing_key()
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def person(day: int, day0: int = DAY0) -> ExposureKey:
    return ExposureKey(os.urandom(16), interval_number(day0 + day * 86400), 144, 2, ReportType.CONFIRMED_TEST, 1)


def export(keys, signer=SIGNER, noise: int = 50, day0: int = DAY0, now: int = NOW) -> bytes:
    """A signed export of ``keys`` among strangers' keys (fresh noise: new bytes every time)."""
    fake = [ExposureKey(os.urandom(16), interval_number(day0) + 144 * (i % 5)) for i in range(noise)]
    return write_export(list(keys) + fake, signer, region="452", start_timestamp=day0, end_timestamp=now,
                        key_id="452")


def meet(store: DeviceStore, key: ExposureKey, day: int, minutes: int, hour: int = 10, day0: int = DAY0) -> None:
    store.add_sightings(contact_sightings(GAEN, key, day0 + day * 86400 + hour * 3600, minutes, rssi=-60,
                                          tx_power=-10))


def counted_minutes(store_or_path) -> float:
    """Minutes of contact the store's exposure windows hold (what scoring adds up)."""
    if isinstance(store_or_path, DeviceStore):
        rows = store_or_path.db.execute("SELECT window FROM exposure_windows").fetchall()
    else:
        with open_raw(store_or_path) as conn:
            rows = conn.execute("SELECT window FROM exposure_windows").fetchall()
    return sum(s[2] for (text,) in rows for s in json.loads(text)["scans"]) / 60


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(500, DAY0 - 9 * 86400, 14))
    yield s
    s.close()


@pytest.fixture
def config():
    return config_from_dict(deployment(PEM, risk=GAEN_APPLE_RISK))


def publish(feed_dir: Path, name: str, data: bytes) -> None:
    """Put a file in a static mirror folder and list it last in the index."""
    (feed_dir / name).write_bytes(data)
    index = feed_dir / "index.txt"
    names = index.read_text().split() if index.exists() else []
    index.write_text("\n".join([*names, name]) + "\n")


# --- renames, rollbacks and re-published keys ---------------------------------------------------


@pytest.mark.parametrize("served_by", ["file", "http"])
async def test_a_batch_renamed_or_rolled_back_on_a_mirror_counts_once(store, config, tmp_path, served_by):
    """The original attack: a 10-minute contact, below the 15-minute line, copied
    under a new name in the mirror must stay 10 minutes and raise nothing."""
    from bluezone.transports import FileTransport, HttpTransport

    f0 = person(1)
    meet(store, f0, 1, 10)
    mirror = tmp_path / "mirror"
    feed = mirror / "keys"
    feed.mkdir(parents=True)
    original = export([f0])
    publish(feed, f"{DAY0}-{NOW}-1.zip", original)
    cdn = None
    if served_by == "http":
        app = web.Application()
        app.router.add_static("/cdn/", mirror)
        cdn = TestServer(app, host="127.0.0.1")
        await cdn.start_server()
        transport = HttpTransport("http://127.0.0.1:9", download_url=str(cdn.make_url("/cdn")), retries=0)
    else:
        transport = FileTransport(mirror)
    try:
        first = await sync(store, config, transport, now=NOW)
        assert first.batches_processed == 1 and counted_minutes(store) == pytest.approx(10)
        assert store.alerts() == []

        publish(feed, f"{DAY0}-{NOW}-99.zip", original)  # the same bytes, a new name
        renamed = await sync(store, config, transport, now=NOW)
        assert renamed.batches_downloaded == 1 and renamed.batches_skipped == 1
        assert renamed.batches_processed == 0 and renamed.alerts_new == 0

        (feed / "index.txt").write_text("")  # the mirror rolls back, then forward again
        await sync(store, config, transport, now=NOW)
        publish(feed, f"{DAY0}-{NOW}-1.zip", original)
        again = await sync(store, config, transport, now=NOW)
        assert again.batches_downloaded == 1 and again.batches_skipped == 1
    finally:
        await transport.close()
        if cdn is not None:
            await cdn.close()
    assert counted_minutes(store) == pytest.approx(10)
    assert store.alerts() == [] and store.exposures() == []


def test_the_same_keys_re_published_in_another_batch_add_nothing(store, config):
    """A rebuilt export (different name, different bytes, signed again) that
    repeats a key adds no minutes; a genuinely new key beside it still adds."""
    a, b = person(2), person(2)
    meet(store, a, 2, 10)
    meet(store, b, 2, 10, hour=15)
    process_batches(store, config, [PublishedBatch("keys", "first.zip", export([a]))], now=NOW)
    assert counted_minutes(store) == pytest.approx(10)

    rebuilt = PublishedBatch("keys", "rebuilt.zip", export([a]))
    twice_inside = PublishedBatch("keys", "twice.zip", export([a, a]))
    stats = process_batches(store, config, [rebuilt, twice_inside], now=NOW)
    assert stats.batches_processed == 2 and stats.alerts_new == 0
    assert counted_minutes(store) == pytest.approx(10) and store.alerts() == []

    # Accumulation across batches is untouched: another F0 met on the same day adds up.
    stats = process_batches(store, config, [PublishedBatch("keys", "next.zip", export([a, b]))], now=NOW)
    assert counted_minutes(store) == pytest.approx(20)
    [exposure] = store.exposures()
    assert exposure.tier is Tier.F1 and exposure.minutes == pytest.approx(20)


def test_a_key_re_published_with_more_intervals_adds_only_the_new_ones(store, config):
    """A same-day key published early (part of the day) and again in full:
    the intervals already counted add nothing, the later ones do."""
    full = person(3)
    meet(store, full, 3, 10, hour=9)
    meet(store, full, 3, 10, hour=20)
    morning = ExposureKey(full.key_data, full.rolling_start_interval_number, 12 * 6, 2, ReportType.CONFIRMED_TEST, 1)
    process_batches(store, config, [PublishedBatch("keys", "early.zip", export([morning]))], now=NOW)
    assert counted_minutes(store) == pytest.approx(10)
    process_batches(store, config, [PublishedBatch("keys", "full.zip", export([full]))], now=NOW)
    assert counted_minutes(store) == pytest.approx(20)


def test_a_self_report_confirmed_later_still_counts_once(store, config):
    """Only matches that count are claimed: the same key, first published as
    a self-report (warns nobody), then with a confirmed test, warns; a third
    copy adds nothing."""
    key = person(1)
    meet(store, key, 1, 20)
    as_self = ExposureKey(key.key_data, key.rolling_start_interval_number, 144, 2, ReportType.SELF_REPORT, 1)
    process_batches(store, config, [PublishedBatch("keys", "self.zip", export([as_self]))], now=NOW)
    assert counted_minutes(store) == 0 and store.alerts() == []
    process_batches(store, config, [PublishedBatch("keys", "test.zip", export([key]))], now=NOW)
    assert counted_minutes(store) == pytest.approx(20) and [a.tier for a in store.alerts()] == [Tier.F1]
    process_batches(store, config, [PublishedBatch("keys", "again.zip", export([key]))], now=NOW)
    assert counted_minutes(store) == pytest.approx(20) and len(store.alerts()) == 1


def test_windows_kept_by_stores_before_version_3_are_rebuilt_not_doubled(tmp_path, config):
    """Upgrade: a version-2 store's windows have no per-key tags, so the
    migration drops them with the name-based markers and the feed state; the
    next sync matches every batch again and counts each key once."""
    path = tmp_path / "old.db"
    key_file = tmp_path / "old.key"
    f0 = person(1)
    data = export([f0])
    s = DeviceStore(path, key_file=key_file, clock=lambda: NOW)
    meet(s, f0, 1, 10)
    s.close()
    # Turn it into what Bluezone with schema 2 wrote: its processed_batches and a window.
    conn = open_raw(path, key_file)  # schema 2, encrypted as this version keeps it
    conn.executescript("""
        DROP TABLE processed_batches; DROP TABLE matched_contributions; DROP TABLE _migrations;
        DROP TABLE own_reports; DROP INDEX exposure_windows_key_tag; ALTER TABLE exposure_windows DROP COLUMN key_tag;
        ALTER TABLE alerts DROP COLUMN state; ALTER TABLE alerts DROP COLUMN changed_at;
        CREATE TABLE processed_batches (feed TEXT NOT NULL, name TEXT NOT NULL, processed_at INTEGER NOT NULL,
                                        PRIMARY KEY (feed, name));
        PRAGMA user_version = 2;
    """)
    conn.execute("INSERT INTO processed_batches VALUES ('keys', 'old-name.zip', ?)", [NOW])
    window = {"date": "2023-11-14", "report_type": 1, "infectiousness": 1, "tier": 2, "calibration_confidence": 0,
              "scans": [[48, 48, 60]] * 10}
    conn.execute("INSERT INTO exposure_windows(feed, batch, day, tier, window) VALUES ('keys', 'old-name.zip', "
                 "'2023-11-14', 2, ?)", [json.dumps(window)])
    conn.execute("INSERT INTO sync_state VALUES ('keys', '{\"etag\": \"x\", \"seen\": [\"old-name.zip\"]}', ?)", [NOW])
    conn.close()

    s = DeviceStore(path, key_file=key_file, clock=lambda: NOW)
    assert migrations.current_version(s.db.conn) == migrations.SCHEMA_VERSION
    # 1 and 2 were there already; 004 (consents) and 005 came later and add tables and columns
    assert s.migrations_applied == [("core", "003_content_addressed_batches"), ("core", "004_consents"),
                                    ("core", "005_own_reports_and_revisions")]
    assert counted_minutes(s) == 0 and s.get_sync_state("keys") == {}
    assert {c[1] for c in s.db.execute("PRAGMA table_info(processed_batches)")} >= {"content_id", "name"}
    process_batches(s, config, [PublishedBatch("keys", "renamed.zip", data)], now=NOW)
    process_batches(s, config, [PublishedBatch("keys", "old-name.zip", data)], now=NOW)
    assert counted_minutes(s) == pytest.approx(10) and s.alerts() == []
    s.close()


def test_contribution_tags_reveal_no_key_without_the_store_key(store, config):
    """What the store keeps to count keys once cannot be recomputed from the
    published key by someone holding only the database."""
    import hashlib

    f0 = person(1)
    meet(store, f0, 1, 20)
    process_batches(store, config, [PublishedBatch("keys", "b.zip", export([f0]))], now=NOW)
    tags = [bytes(r[0]) for r in store.db.execute("SELECT tag FROM matched_contributions")]
    assert tags
    raw = store.db.conn.execute("SELECT * FROM matched_contributions").fetchall()
    assert all(f0.key_data not in bytes(r[0]) for r in raw)
    unkeyed = {hashlib.sha256(b"keys\x00" + f0.key_data + i.to_bytes(8, "big")).digest()
               for i in range(f0.rolling_start_interval_number, f0.end_interval_number)}
    assert not unkeyed & set(tags)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["same", "renamed", "rebuilt"])), min_size=1,
                max_size=8))
def test_any_sequence_of_copies_counts_each_key_once(deliveries):
    """Property: whatever mix of originals, renamed copies and rebuilt batches
    arrives, in any order, the counted minutes are those of the distinct keys."""
    with tempfile.TemporaryDirectory() as folder:
        s = DeviceStore(Path(folder) / "d.db", key_file=Path(folder) / "d.key", clock=lambda: NOW)
        keys = [person(1), person(2), person(3)]
        minutes = [6, 8, 10]
        for key, day, m in zip(keys, (1, 2, 3), minutes):
            meet(s, key, day, m)
        originals = [export([k], noise=5) for k in keys]
        cfg = config_from_dict(deployment(PEM, risk=GAEN_APPLE_RISK))
        delivered: set[int] = set()
        for n, (i, how) in enumerate(deliveries):
            data = export([keys[i]], noise=5) if how == "rebuilt" else originals[i]
            name = "orig-%d.zip" % i if how == "same" else "copy-%d-%d.zip" % (i, n)
            process_batches(s, cfg, [PublishedBatch("keys", name, data)], now=NOW, deliver=False)
            delivered.add(i)
            assert counted_minutes(s) == pytest.approx(sum(minutes[j] for j in delivered))
        s.close()


# --- two real sync processes on one store ------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_two_concurrent_sync_processes_give_the_minutes_of_one(tmp_path):
    """Two ``bluezone sync`` processes started together on one store file,
    several times over: always exactly the minutes (and the one alert) of one run."""
    folder = tmp_path
    pem = SIGNER.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    (folder / "export.pub.pem").write_text(pem)
    mirror = folder / "mirror"
    (mirror / "keys").mkdir(parents=True)
    (folder / "province.toml").write_text(f"""
[deployment]
name = "Gia Lai"
region = "452"

[plugins]
disabled = ["alerts-console"]
allow_missing = ["alert sink"]

[risk]
attenuation_thresholds_db = [50, 70, 90]
bucket_weights = {{ immediate = 1.0, near = 1.0, medium = 0.5, other = 0.0 }}

[authority]
url = "file://{mirror}"
export_keys = [ {{ key_id = "452", public_key = "export.pub.pem" }} ]
""")
    day0 = int(time.time()) // 86400 * 86400 - 3 * 86400
    now = int(time.time())
    a, b = person(1, day0), person(1, day0)
    publish(mirror / "keys", f"{day0}-{now}-1.zip", export([a], noise=300, day0=day0, now=now))
    publish(mirror / "keys", f"{day0}-{now}-2.zip", export([b], noise=300, day0=day0, now=now))
    publish(mirror / "keys", f"{day0}-{now}-3.zip", export([a, b], noise=300, day0=day0, now=now))
    results = []
    for trial in range(5):
        phone = folder / f"phone{trial}.db"
        init = _cli("init", "--config", "province.toml", "--store", str(phone), "--language", "en", "--consent", "all", cwd=folder)
        assert init.returncode == 0, init.stderr
        with DeviceStore(phone, create=False) as s:
            meet(s, a, 1, 10, day0=day0)
            meet(s, b, 1, 10, hour=16, day0=day0)
        runs = [subprocess.Popen([BLUEZONE, "sync", "--config", "province.toml", "--store", str(phone),
                                  "--no-decoy"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
        outs = [r.communicate(timeout=120) for r in runs]
        assert [r.returncode for r in runs] == [0, 0], outs
        with DeviceStore(phone, create=False) as s:
            results.append((counted_minutes(s), len(s.alerts()), len(s.exposures()),
                            [round(e.minutes) for e in s.exposures()]))
            assert s.db.execute("SELECT COUNT(*) FROM processed_batches").fetchone()[0] == 3
    assert results == [(pytest.approx(20), 1, 1, [20])] * 5


# --- the content id itself ---------------------------------------------------------------------


def test_content_id_is_the_file_not_its_name():
    data = export([person(1)])
    assert PublishedBatch("keys", "a.zip", data).content_id == PublishedBatch("keys", "b.zip", data).content_id
    assert PublishedBatch("keys", "a.zip", data).content_id != PublishedBatch("keys", "a.zip", data + b"\0").content_id
