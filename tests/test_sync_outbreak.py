"""Outbreak-day batches reach phones over real HTTP, and a hostile mirror costs
only the files it damages.

The device syncs through the real ``http`` transport from a static mirror (an
aiohttp server on 127.0.0.1 serving an export folder, the way a CDN would).
Loopback splits a megabyte answer into many TCP segments, which is what made
the old ``content.read(n)`` return a truncated file.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from pathlib import Path

import pytest
from aiohttp import web

from bluezone.config import config_from_dict
from bluezone.export import read_export, write_export
from bluezone.matching.fixtures import GAEN_APPLE_RISK, background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.models import ExposureKey, ReportType, Tier, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore
from bluezone.sync import sync
from bluezone.transport import FeedState
from bluezone.transports import HttpTransport

DAY0 = 2_833_056 * 600  # 2023-11-13 00:00 UTC
NOW = DAY0 + 5 * 86400
SIGNER, PEM = new_signing_key()


def f0_key(day: int = 1) -> ExposureKey:
    return ExposureKey(os.urandom(16), interval_number(DAY0 + day * 86400), 144, 2, ReportType.CONFIRMED_TEST, 1)


def export_bytes(keys: list[ExposureKey], noise: int) -> bytes:
    fake = [ExposureKey(os.urandom(16), interval_number(DAY0) + 144 * (i % 5)) for i in range(noise)]
    return write_export(list(keys) + fake, SIGNER, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")


class Mirror:
    """A static feed mirror on loopback. ``files`` maps feed → {name: bytes};
    ``hostile`` maps a path to what the mirror does instead of serving it."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, bytes]] = {"keys": {}}
        self.hostile: dict[str, str] = {}
        self.requests: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        feed, name = request.match_info["feed"], request.match_info["name"]
        path = f"{feed}/{name}"
        self.requests.append(path)
        trick = self.hostile.get(path)
        if trick == "500":
            return web.Response(status=500)
        if trick == "endless":  # chunked, no Content-Length, never ends on its own
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(10_000):
                await resp.write(b"\0" * 65536)
            return resp
        files = self.files.get(feed, {})
        if name == "index.txt":
            return web.Response(text="".join(f"{n}\n" for n in files), content_type="text/plain")
        if name not in files or trick == "404":
            return web.Response(status=404)
        data = files[name]
        if trick == "truncate":
            return web.Response(body=data[: len(data) // 2], content_type="application/zip")
        return web.Response(body=data, content_type="application/zip")

    async def __aenter__(self) -> "Mirror":
        app = web.Application()
        app.router.add_get("/{feed}/{name}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
def store(tmp_path: Path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(3000, DAY0 - 9 * 86400, 14))
    yield s
    s.close()


@pytest.fixture
def config():
    return config_from_dict(deployment(PEM, risk=GAEN_APPLE_RISK))


def transport(mirror: Mirror, **kw) -> HttpTransport:
    kw.setdefault("retries", 0)
    return HttpTransport("https://authority.example.vn", download_url=mirror.url, **kw)


def meet(store: DeviceStore, key: ExposureKey, minutes: int = 20, day: int = 1) -> None:
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + day * 86400 + 10 * 3600, minutes, rssi=-60, tx_power=-10))


@pytest.mark.parametrize("keys, min_bytes", [(30_000, 500_000), (64_000, 1 << 20)], ids=["30k-keys", "over-1MiB"])
async def test_outbreak_day_batch_over_http_raises_the_warning(store, config, keys, min_bytes):
    """An outbreak day's batch: the whole file arrives, verifies and warns."""
    f0 = f0_key()
    meet(store, f0)
    data = export_bytes([f0], noise=keys - 1)
    assert len(data) > min_bytes
    assert len(read_export(data).keys) == keys
    async with Mirror() as mirror:
        mirror.files["keys"]["1699833600-1700265600-00001.zip"] = data
        async with transport(mirror) as t:
            stats = await sync(store, config, t, now=NOW)
    assert (stats.batches_processed, stats.batches_failed, stats.errors) == (1, 0, [])
    [alert] = store.alerts()
    assert alert.tier is Tier.F1
    [exposure] = store.exposures()
    assert exposure.minutes == pytest.approx(20.0)


async def test_damaged_files_are_skipped_one_by_one_and_fetched_again(store, config):
    """A missing file, a truncated file and a failing feed cost only
    themselves: the good batch behind them still warns, and the bad ones are
    asked for again at the next sync (and used once the mirror is fixed)."""
    first, second = f0_key(1), f0_key(2)
    meet(store, first, day=1)
    meet(store, second, day=2)
    good_a, good_b = export_bytes([first], 500), export_bytes([second], 500)
    names = ["1699833600-1699920000-00001.zip", "1699920000-1700006400-00002.zip", "1700006400-1700092800-00003.zip"]
    async with Mirror() as mirror:
        mirror.files["keys"] = {names[0]: b"x", names[1]: good_b, names[2]: good_a}
        mirror.hostile = {f"keys/{names[0]}": "404", f"keys/{names[1]}": "truncate",
                          "venue-traces/index.txt": "500"}
        async with transport(mirror) as t:
            stats = await sync(store, config, t, now=NOW)
            assert stats.batches_processed == 1 and stats.batches_failed == 2
            assert stats.feeds_failed == (1 if "venue-traces" in _feeds(config) else 0)
            assert [e.date.day for e in store.exposures()] == [14]  # day 1 (names[2]) despite the two before it
            state = FeedState.from_dict(store.get_sync_state("keys"))
            assert state.seen == [names[2]] and state.etag is None

            mirror.hostile = {}
            mirror.files["keys"][names[0]] = export_bytes([], 10)
            mirror.requests.clear()
            stats = await sync(store, config, t, now=NOW)
    assert sorted(mirror.requests) == sorted(["keys/index.txt", f"keys/{names[0]}", f"keys/{names[1]}"]
                                             + [f"{f}/index.txt" for f in _feeds(config) if f != "keys"])
    assert stats.batches_processed == 2 and stats.batches_failed == 0
    assert sorted(e.date.day for e in store.exposures()) == [14, 15]


def _feeds(config) -> list[str]:
    from bluezone.sync import published_feeds

    return published_feeds(config)


async def test_a_file_over_the_cap_is_refused_while_streaming(store, config):
    """An answer without Content-Length that never ends is cut at the cap
    (the running total), reported, and does not stop the next file."""
    f0 = f0_key()
    meet(store, f0)
    names = ["1699833600-1699920000-00001.zip", "1699920000-1700006400-00002.zip"]
    async with Mirror() as mirror:
        mirror.files["keys"] = {names[0]: b"", names[1]: export_bytes([f0], 100)}
        mirror.hostile = {f"keys/{names[0]}": "endless"}
        async with transport(mirror, max_file_bytes=1 << 20) as t:
            stats = await sync(store, config, t, now=NOW)
    assert stats.batches_failed == 1 and "too_large" in stats.errors[0]
    assert stats.batches_processed == 1 and len(store.alerts()) == 1


async def test_sync_holds_one_batch_at_a_time(store, config):
    """Hundreds of bogus 256 KiB files listed in one index: the sync's peak
    memory stays near one file, not the sum of all of them."""
    count, size = 300, 256 << 10
    async with Mirror() as mirror:
        mirror.files["keys"] = {f"{DAY0}-{NOW}-{i:05d}.zip": os.urandom(size) for i in range(count)}
        async with transport(mirror) as t:
            gc.collect()
            tracemalloc.start()
            try:
                stats = await sync(store, config, t, now=NOW)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert stats.batches_failed == count and stats.batches_processed == 0
    total = count * size
    assert peak < total / 8, f"peak {peak / 2**20:.1f} MiB for {total / 2**20:.0f} MiB of files"


async def test_unreachable_authority_is_reported_not_raised(store, config):
    """Every feed failing leaves the store untouched and says why."""
    async with Mirror() as mirror:
        url = mirror.url
    t = HttpTransport("https://authority.example.vn", download_url=url, retries=0, timeout=2)
    try:
        stats = await sync(store, config, t, now=NOW)
    finally:
        await t.close()
    assert stats.feeds_failed == len(_feeds(config)) and stats.feed_error_code == "network"
    assert FeedState.from_dict(store.get_sync_state("keys")).seen == [] and store.exposures() == []
