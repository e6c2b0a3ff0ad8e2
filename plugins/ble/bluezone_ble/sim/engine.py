"""The radio simulator: many phones, one air, the real scanner path.

:func:`simulate` (or :func:`simulate_async`) moves people with a mobility
model, lets every phone broadcast its *real* current identifier (from its
own store: ``store.current_key`` + ``schedule.broadcast`` with the phone's
calibrated metadata), and lets every phone scan on its duty cycle. Each scan
goes through :func:`bluezone_ble.scanner.scan_window` with bleak's
``BleakScanner`` on the :class:`~bluezone_ble.sim.backend.AirBackend`, so
the packets each phone hears are parsed, coalesced and stored by exactly the
code that runs on hardware. It returns the ground truth of who was close to
whom for how long.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bluezone import GAEN_SCHEDULE as GAEN
from bluezone import interval_number

from ..advert import SERVICE_UUID
from ..advertiser import store_payload_source
from ..calibration import Calibration, CalibrationTable, save_to_store
from ..collector import ScanCollector, ScanStats
from ..duty import DutyCycle, seconds_since_last_scan
from ..scanner import scan_window
from .backend import AirBackend, AirPacket
from .mobility import FAR, STEP_SECONDS, Scenario, Track, get_scenario
from .radio import CARRY_LOSS_DB, REFERENCE_ATTENUATION_1M, RadioModel, body_blocks, people_between
from .truth import GroundTruth, PairTruth, accumulate

#: Beyond this distance nothing is heard (saves work; the sensitivity floor
#: is reached well before with any plausible exponent).
MAX_RANGE_M = 80.0


@dataclass(slots=True)
class SimDevice:
    """One simulated phone: its store, model, radio quirks and scan state."""

    name: str
    store: Any
    calibration: Calibration
    tx_hw: float
    rx_hw: float
    carry: str
    collector: ScanCollector
    payload: Callable[[float], Any]
    track: Track | None = None
    last_scan: float | None = None


def _address(rpi: bytes) -> str:
    """A non-resolvable private address derived from the identifier, so the
    address changes exactly when the identifier does (as BlueZ should do it)."""
    b = bytearray(hashlib.sha256(rpi).digest()[:6])
    b[0] &= 0x3F  # top two bits 00: non-resolvable private address
    return ":".join(f"{x:02X}" for x in b)


def _hardware(cal: Calibration, rng: random.Random, radio: RadioModel) -> tuple[float, float]:
    """True radio offsets of a phone whose table entry is ``cal``: the table is
    right on average, wrong by a per-phone residual."""
    ref = REFERENCE_ATTENUATION_1M + radio.rssi_ref_1m  # the reference phone's calibrated TX
    tx_hw = cal.tx_power - ref + rng.gauss(0, radio.calibration_error_sigma_db)
    rx_hw = -cal.rssi_correction + rng.gauss(0, radio.calibration_error_sigma_db)
    return tx_hw, rx_hw


async def simulate_async(
    scenario: str | Scenario,
    devices: Sequence[tuple[str, Any]],
    *,
    seed: int = 0,
    start_time: int,
    duration: int,
    schedule: Any = GAEN,
    radio: RadioModel | None = None,
    environment: dict[str, float] | None = None,
    duty: DutyCycle = DutyCycle(),
    models: Sequence[tuple[str, str]] | None = None,
    calibration_table: CalibrationTable | None = None,
    progress: Callable[[float, ScanStats], None] | None = None,
) -> GroundTruth:
    """Simulate ``duration`` seconds from ``start_time`` for ``devices``
    (``(name, DeviceStore)`` pairs), storing what each phone hears in its own
    store. Deterministic for a given seed (identifiers aside: keys are random
    as on a real phone, unless the stores already hold them).

    ``environment`` overrides the scenario's path-loss exponent and
    shadowing; ``radio`` holds every other radio figure."""
    scen = get_scenario(scenario) if isinstance(scenario, str) else scenario
    radio = (radio or RadioModel()).with_environment(
        **{**scen.environment.radio_overrides(), **(environment or {})})
    rng = random.Random(seed)
    table = calibration_table or CalibrationTable.load()
    choices = [r for r in table.rows if r.manufacturer != "*"] or table.rows
    names = [n for n, _ in devices]
    if len(set(names)) != len(names):
        raise ValueError("device names must be unique")
    sims: list[SimDevice] = []
    for i, (name, store) in enumerate(devices):
        cal = table.lookup(*models[i]) if models else rng.choice(choices)
        tx_hw, rx_hw = _hardware(cal, rng, radio)
        save_to_store(store, cal)
        sims.append(SimDevice(name, store, cal, tx_hw, rx_hw, rng.choice(list(CARRY_LOSS_DB)),
                              ScanCollector("sim"), store_payload_source(store, schedule, cal.metadata())))
    tracks = scen.tracks(len(sims), duration, random.Random(rng.getrandbits(64)))
    for d, tr in zip(sims, tracks, strict=True):
        d.track = tr

    truth = _ground_truth(scen.name, seed, start_time, duration, sims)

    windows: list[tuple[float, int, float]] = []
    for i in range(len(sims)):
        for t0, t1 in duty.windows(start_time, start_time + duration, random.Random(rng.getrandbits(64))):
            windows.append((t0, i, t1))
    windows.sort()
    payload_cache: dict[tuple[int, int], Any] = {}
    air_rng = random.Random(rng.getrandbits(64))
    total = len(windows)
    for n, (t0, i, t1) in enumerate(windows, 1):
        listener = sims[i]
        packets = _heard(listener, i, sims, t0, t1, start_time, radio, scen, air_rng, payload_cache)
        await scan_window(listener.collector, listener.store, t0,
                          seconds_since_last_scan(listener.last_scan, t0), _no_wait,
                          backend=AirBackend, backend_kwargs={"packets": packets})
        listener.last_scan = t0
        if progress and (n % 50 == 0 or n == total):
            progress(n / total, _sum_stats(sims))
    truth.stats = {k: v for k, v in vars_of(_sum_stats(sims)).items()}
    return truth


def simulate(scenario: str | Scenario, devices: Sequence[tuple[str, Any]], **kw: Any) -> GroundTruth:
    """Synchronous :func:`simulate_async` (not from inside a running event loop)."""
    return asyncio.run(simulate_async(scenario, devices, **kw))


async def _no_wait() -> None:
    """Simulated scans need no wall-clock wait: the backend delivered already."""


def vars_of(stats: ScanStats) -> dict[str, int]:
    return {k: getattr(stats, k) for k in ScanStats.__slots__}


def _sum_stats(sims: list[SimDevice]) -> ScanStats:
    out = ScanStats()
    for d in sims:
        for k in ScanStats.__slots__:
            setattr(out, k, getattr(out, k) + getattr(d.collector.stats, k))
    return out


def _pair(a: SimDevice, b: SimDevice) -> tuple[str, str]:
    first, second = sorted((a.name, b.name))
    return first, second


def _track(d: SimDevice) -> Track:
    """A device's track; every device gets one before the simulation steps."""
    if d.track is None:
        raise RuntimeError(f"simulated device {d.name} has no track")
    return d.track


def _ground_truth(name: str, seed: int, start: int, duration: int, sims: list[SimDevice]) -> GroundTruth:
    pairs: dict[tuple[str, str], PairTruth] = {}
    for a in range(len(sims)):
        for b in range(a + 1, len(sims)):
            pairs[_pair(sims[a], sims[b])] = PairTruth(*_pair(sims[a], sims[b]))
    steps = len(_track(sims[0]).xs) if sims else 0
    for s in range(steps):
        dt = min(STEP_SECONDS, duration - s * STEP_SECONDS)
        if dt <= 0:
            break
        pos = [_track(d).at(s) for d in sims]
        for a in range(len(sims)):
            xa, ya = pos[a][0], pos[a][1]
            if (xa, ya) == FAR:
                continue
            for b in range(a + 1, len(sims)):
                xb, yb = pos[b][0], pos[b][1]
                if (xb, yb) == FAR:
                    continue
                accumulate(pairs, _pair(sims[a], sims[b]), math.hypot(xa - xb, ya - yb), dt)
    return GroundTruth(name, seed, start, duration, [d.name for d in sims], pairs)


def _heard(listener: SimDevice, li: int, sims: list[SimDevice], t0: float, t1: float, start: float,
           radio: RadioModel, scen: Scenario, rng: random.Random, cache: dict) -> list[AirPacket]:
    step = int((t0 - start) // STEP_SECONDS)
    lx, ly, lf, lroom = _track(listener).at(step)
    if (lx, ly) == FAR:
        return []
    everyone = [_track(d).at(step) for d in sims]
    packets: list[tuple[float, AirPacket]] = []
    lo, hi = radio.adv_interval_ms
    for si, sender in enumerate(sims):
        if si == li:
            continue
        sx, sy, sf, sroom = everyone[si]
        if (sx, sy) == FAR:
            continue
        dist = math.hypot(sx - lx, sy - ly)
        if dist > MAX_RANGE_M:
            continue
        loss = CARRY_LOSS_DB[sender.carry] + CARRY_LOSS_DB[listener.carry]
        if body_blocks(sf, lx - sx, ly - sy):
            loss += radio.body_loss_db
        if body_blocks(lf, sx - lx, sy - ly):
            loss += radio.body_loss_db
        if scen.environment.crowd_blocking:
            others = [(p[0], p[1]) for k, p in enumerate(everyone) if k not in (si, li) and (p[0], p[1]) != FAR]
            loss += radio.person_loss_db * people_between(sx, sy, lx, ly, others)
        if scen.environment.walls and sroom != lroom:
            loss += radio.wall_loss_db * abs(sroom - lroom)
        mean = radio.mean_rssi(dist, tx_hw=sender.tx_hw, rx_hw=listener.rx_hw, extra_loss_db=loss)
        shadow = rng.gauss(0, radio.shadowing_sigma_db)
        t = t0 + rng.uniform(0, hi / 1000)  # first advertising event in the window
        while t < t1:
            if rng.random() >= radio.packet_loss:
                rssi = mean - shadow + rng.gauss(0, radio.fast_fading_sigma_db)
                if rssi >= radio.sensitivity_dbm:
                    key = (si, interval_number(t))
                    payload = cache.get(key)
                    if payload is None:
                        payload = cache[key] = sender.payload(t)
                    packets.append((t, AirPacket(_address(payload.rpi), {SERVICE_UUID: payload.service_data()},
                                                 (SERVICE_UUID,), max(-127, min(20, round(rssi))))))
            t += rng.uniform(lo, hi) / 1000
    packets.sort(key=lambda p: p[0])
    return [p for _, p in packets]
