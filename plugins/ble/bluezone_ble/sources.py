"""The two proximity sources this plugin offers: ``ble`` and ``sim``.

Both follow the ``bluezone_proximity_sources`` contract: a ``name`` and an
async ``run(store, schedule, config, **options)`` that records sightings
into the device store.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .advertiser import BluezAdvertiser, store_payload_source
from .calibration import own_calibration, save_to_store
from .collector import ScanStats
from .scanner import BleScanner
from .settings import ble_settings, duty_cycle, environment_overrides, radio_model, scan_settings, sim_settings
from .sim.engine import simulate_async
from .sim.truth import GroundTruth


class BleSource:
    """Real radio: bleak scanning on the duty cycle, BlueZ advertising with rotation."""

    name = "ble"

    async def run(self, store: Any, schedule: Any, config: Any, *,
                  max_scans: int | None = None,
                  on_scan: Callable[[int, ScanStats], None] | None = None,
                  advertise: bool | None = None, **options: Any) -> ScanStats:
        ble = ble_settings(config)
        calibration = own_calibration(ble.calibration_section())
        save_to_store(store, calibration)
        scanner = BleScanner(duty_cycle(ble), scan_settings(ble), **options)
        advertiser = None
        if ble.advertise if advertise is None else advertise:
            lo, hi = ble.advertising_interval_ms
            advertiser = BluezAdvertiser(adapter=ble.adapter, min_interval_ms=lo, max_interval_ms=hi)
            await advertiser.connect()  # fail early and clearly when BlueZ is absent
        tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(scanner.run(store, max_scans=max_scans, on_scan=on_scan))]
        if advertiser is not None:
            tasks.append(asyncio.ensure_future(advertiser.run(
                store_payload_source(store, schedule, calibration.metadata()),
                jitter_seconds=float(ble.rotation_jitter_seconds))))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # re-raise a failure of either half
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return scanner.stats


class SimSource:
    """Simulated radio: this device plus ``devices - 1`` simulated peers in a
    scenario; the peers' stores live in ``peers_dir`` (a temporary folder by
    default) so their keys can be "published" in a demo."""

    name = "sim"

    async def run(self, store: Any, schedule: Any, config: Any, *,
                  scenario: str | None = None, devices: int | None = None, minutes: int | None = None,
                  seed: int | None = None, start_time: int | None = None, peers_dir: str | None = None,
                  progress: Callable[[float, ScanStats], None] | None = None) -> GroundTruth:
        from bluezone import DeviceStore

        sim, ble = sim_settings(config), ble_settings(config)
        n = devices or sim.devices
        folder = Path(peers_dir or tempfile.mkdtemp(prefix="bluezone-sim-"))
        peers = [(f"peer{i:03d}", DeviceStore(folder / f"peer{i:03d}.db", key_file=folder / f"peer{i:03d}.key"))
                 for i in range(1, n)]
        try:
            import time

            return await simulate_async(
                scenario or sim.scenario, [("me", store), *peers],
                seed=sim.seed if seed is None else seed,
                start_time=int(time.time()) if start_time is None else start_time,
                duration=60 * (minutes or sim.minutes), schedule=schedule,
                radio=radio_model(sim), environment=environment_overrides(sim), duty=duty_cycle(ble),
                progress=progress,
            )
        finally:
            for _, s in peers:
                s.close()


SOURCES = [BleSource(), SimSource()]

__all__ = ["BleSource", "SimSource", "SOURCES"]
