"""What encrypting the device store as a whole (SQLCipher) costs, against
the same store on plain SQLite measured in the same run.

Figures: opening a 14-day store (40,000 sightings) and closing it; writing
those sightings; a sync matching published batches (10 batches of 2,000
keys, one met case in each) through ``bluezone.sync.process_batches``; and the one-off
encryption of a plain store of that size on its first open.

The plain baseline is the same ``DeviceStore`` with its engine swapped for
Python's ``sqlite3`` (no key, no migration): only the engine differs.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bluezone.config import config_from_dict
from bluezone.export import write_export
from bluezone.matching.fixtures import background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.models import ExposureKey, PublishedBatch, ReportType, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore, device, engine
from bluezone.sync import process_batches

DAY0 = 2_833_056 * 600
NOW = DAY0 + 14 * 86400
SIGHTINGS = 40_000
BATCHES, KEYS_PER_BATCH = 10, 2_000  # one case among the keys of each batch
OPENS = 30


def _plain_connect(path: Any, key: bytes, *, timeout: float = 30.0) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=timeout)
    conn.execute("PRAGMA secure_delete = ON")  # same deletion as the encrypted store: only encryption differs
    return conn


@contextlib.contextmanager
def engine_of(kind: str) -> Iterator[None]:
    """``encrypted`` (as shipped) or ``plain`` (the baseline)."""
    if kind == "encrypted":
        yield
        return
    real_connect, real_plaintext = engine.connect, device.header.is_plaintext
    engine.connect = _plain_connect  # type: ignore[assignment]
    device.header.is_plaintext = lambda path: False  # type: ignore[assignment]  # no migration to encrypt
    try:
        yield
    finally:
        engine.connect = real_connect  # type: ignore[assignment]
        device.header.is_plaintext = real_plaintext  # type: ignore[assignment]


def feed() -> tuple[Any, list[PublishedBatch], list]:
    signer, pem = new_signing_key()
    settings = deployment(pem, disabled=["alerts-console"])
    settings["plugins"]["allow_missing"] = ["alert sink"]  # alerts are counted, not printed
    config = config_from_dict(settings)
    people, batches = [], []
    for b in range(BATCHES):
        keys = [ExposureKey(os.urandom(16), interval_number(DAY0) + 144 * (i % 14)) for i in range(KEYS_PER_BATCH)]
        case = ExposureKey(os.urandom(16), interval_number(DAY0 + b * 86400), 144, 2, ReportType.CONFIRMED_TEST, 2)
        people.append(case)
        keys[0] = case
        data = write_export(keys, signer, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")
        batches.append(PublishedBatch("keys", f"{b:02d}.zip", data))
    sightings = background_sightings(SIGHTINGS, DAY0, 14, seed=3)
    for d, case in enumerate(people):
        sightings += contact_sightings(GAEN, case, DAY0 + d * 86400 + 9 * 3600, 20)
    return config, batches, sightings


def measure(kind: str, folder: Path, config: Any, batches: list[PublishedBatch], sightings: list) -> dict[str, float]:
    path, key = folder / f"{kind}.db", folder / f"{kind}.key"
    out: dict[str, float] = {}
    with engine_of(kind):
        t = time.perf_counter()
        store = DeviceStore(path, key_file=key, clock=lambda: NOW)
        store.add_sightings(sightings)
        out["write"] = time.perf_counter() - t
        store.close()
        opens = []
        for _ in range(OPENS):
            t = time.perf_counter()
            DeviceStore(path, key_file=key, clock=lambda: NOW, create=False).close()
            opens.append(time.perf_counter() - t)
        out["open"] = statistics.median(opens)
        store = DeviceStore(path, key_file=key, clock=lambda: NOW, create=False)
        t = time.perf_counter()
        stats = process_batches(store, config, batches, language="en", now=NOW)
        out["sync"] = time.perf_counter() - t
        out["alerts"] = float(len(store.alerts()))
        assert stats.batches_processed == BATCHES, stats
        store.close()
    out["size"] = float(sum(p.stat().st_size for p in folder.glob(f"{kind}.db*")))
    return out


def migration(folder: Path, sightings: list) -> float:
    """The one-off cost: a plain store of the same size encrypted on first open."""
    path, key = folder / "old.db", folder / "old.key"
    with engine_of("plain"):
        store = DeviceStore(path, key_file=key, clock=lambda: NOW)
        store.add_sightings(sightings)
        store.close()
    t = time.perf_counter()
    store = DeviceStore(path, key_file=key, clock=lambda: NOW, create=False)
    elapsed = time.perf_counter() - t
    assert store.encrypted_on_open and store.sighting_count() == len(sightings)
    store.close()
    return elapsed


def main() -> None:
    config, batches, sightings = feed()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.setdefault("BLUEZONE_KEY_DIR", str(folder / "keys"))
        plain = measure("plain", folder, config, batches, sightings)
        enc = measure("encrypted", folder, config, batches, sightings)
        first_open = migration(folder, sightings)
    assert plain["alerts"] == enc["alerts"], (plain, enc)  # the same result either way
    print(f"store: {len(sightings):,} sightings over 14 days; sync: {BATCHES} batches x {KEYS_PER_BATCH:,} keys, "
          f"{int(enc['alerts'])} alert(s) either way")
    rows = [("open + close (median of %d)" % OPENS, "open", 1000, "ms"),
            ("write the sightings", "write", 1000, "ms"),
            ("sync: match and store", "sync", 1000, "ms"),
            ("file size (db + wal)", "size", 1 / 1024, "KiB")]
    print(f"{'':32} {'plain SQLite':>14} {'SQLCipher':>14} {'ratio':>7}")
    for label, k, scale, unit in rows:
        print(f"{label:32} {plain[k] * scale:>11.1f} {unit:<2} {enc[k] * scale:>11.1f} {unit:<2} "
              f"{enc[k] / plain[k]:>6.2f}x")
    print(f"one-off: encrypting a plain store of this size on its first open: {first_open * 1000:.0f} ms")
