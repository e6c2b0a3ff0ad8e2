"""The BLE scanner: bleak listens, the collector coalesces, the store keeps.

:func:`scan_window` is the single code path from radio to store. The real
proximity source (:class:`BleScanner`) calls it on its duty cycle with the
platform's bleak backend; the radio simulator calls it with a simulated
bleak backend. Either way bleak's own ``BleakScanner`` is constructed,
started and stopped, and bleak's own ``BLEDevice``/``AdvertisementData``
objects reach :meth:`ScanCollector.on_detection`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.args.bluez import OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakError,
)

from bluezone.i18n import _

from .advert import SERVICE_UUID
from .collector import ScanCollector, ScanStats
from .duty import DutyCycle, seconds_since_last_scan

#: BlueZ advertisement-monitor pattern for passive scanning: service data
#: (AD type 0x16) starting with the UUID 0xFD6F in little-endian order.
FD6F_PATTERN = OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\x6f\xfd")


class AdapterUnavailable(RuntimeError):
    """No usable Bluetooth adapter: missing, powered off, BlueZ not running,
    or permission denied. Raised with a :class:`bluezone.i18n.Message` that
    says what to do (``str()``: in the deployment's languages)."""


_REASONS = {
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: _("No Bluetooth adapter was found on this machine."),
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: _(
        "The Bluetooth adapter does not support Bluetooth Low Energy scanning."),
    BleakBluetoothNotAvailableReason.POWERED_OFF: _("Bluetooth is powered off; switch it on (bluetoothctl power on)."),
}


def explain_adapter_error(error: BaseException) -> AdapterUnavailable | None:
    """Turn what bleak or the OS raised at scan start into a clear message,
    or ``None`` when the error is not about the adapter."""
    if isinstance(error, BleakBluetoothNotAvailableError):
        reason = _REASONS.get(error.reason) or _("Bluetooth is not available ({detail}).", detail=error.args[0])
        return AdapterUnavailable(reason)
    text = str(error)
    if isinstance(error, (FileNotFoundError, ConnectionRefusedError)):
        return AdapterUnavailable(_("The system D-Bus is not reachable, so BlueZ is not running (or use "
                                    "'bluezone trace --simulate SCENARIO')."))
    if "ServiceUnknown" in text or "NameHasNoOwner" in text:
        return AdapterUnavailable(_("The Bluetooth service (BlueZ) is not running; install and start bluetoothd "
                                    "(or use 'bluezone trace --simulate SCENARIO')."))
    if isinstance(error, BleakDBusError):
        return AdapterUnavailable(_("BlueZ refused to scan ({detail}).", detail=error.dbus_error))
    if isinstance(error, BleakError) and "adapter" in text.lower():
        return AdapterUnavailable(_("No Bluetooth adapter was found ({detail}).", detail=text))
    return None


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """How the scanner asks bleak to listen (from ``[ble]``)."""

    scanning_mode: str = "active"  # "passive" needs BlueZ ≥ 5.56 with --experimental
    adapter: str | None = None

    def bleak_kwargs(self) -> dict[str, Any]:
        bluez: dict[str, Any] = {}
        if self.adapter:
            bluez["adapter"] = self.adapter
        if self.scanning_mode == "passive":
            bluez["or_patterns"] = [FD6F_PATTERN]
            # BlueZ cannot filter by UUID in passive mode; the collector filters.
            return {"service_uuids": None, "scanning_mode": "passive", "bluez": bluez}
        return {"service_uuids": [SERVICE_UUID], "scanning_mode": "active", "bluez": bluez}


async def scan_window(
    collector: ScanCollector,
    store: Any,
    start: float,
    since_last: int | None,
    listen: Callable[[], Awaitable[None]],
    *,
    settings: ScanSettings = ScanSettings(),
    backend: type[BaseBleakScanner] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
) -> int:
    """One scan: start bleak, ``listen`` (sleep for the scan length on
    hardware), stop, store the coalesced sightings atomically. Returns how
    many sightings were stored. Adapter problems raise :class:`AdapterUnavailable`.
    """
    scanner = BleakScanner(collector.on_detection, backend=backend,
                           **settings.bleak_kwargs(), **(backend_kwargs or {}))
    collector.begin_window(start, since_last)
    try:
        try:
            await scanner.start()
        except Exception as e:  # noqa: BLE001 - translated below or re-raised
            clear = explain_adapter_error(e)
            if clear is not None:
                raise clear from None
            raise
        try:
            await listen()
        finally:
            await scanner.stop()
    finally:
        sightings = collector.end_window()
    from bluezone import consent_allowed

    if not consent_allowed(store, "bluetooth"):  # withdrawn while tracing: stop recording at once
        return 0
    if sightings:
        store.add_sightings(sightings)
    return len(sightings)


class BleScanner:
    """The ``ble`` proximity source's listening half, on a duty cycle."""

    def __init__(
        self,
        duty: DutyCycle = DutyCycle(),
        settings: ScanSettings = ScanSettings(),
        *,
        backend: type[BaseBleakScanner] | None = None,
        backend_kwargs: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        source: str = "ble",
    ):
        self.duty = duty
        self.settings = settings
        self.backend = backend
        self.backend_kwargs = backend_kwargs or {}
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.collector = ScanCollector(source)

    @property
    def stats(self) -> ScanStats:
        return self.collector.stats

    async def run(
        self,
        store: Any,
        *,
        max_scans: int | None = None,
        on_scan: Callable[[int, ScanStats], None] | None = None,
    ) -> ScanStats:
        """Scan until cancelled (or ``max_scans`` scans). ``on_scan`` is told
        the number stored after each scan (progress output). A scanner runs
        for days (``bluezone trace``), so it purges the store hourly on the
        store's clock: sightings past retention go while it runs."""
        from bluezone import PurgeTimer

        purge = PurgeTimer(store)
        previous: float | None = None
        done = 0
        while max_scans is None or done < max_scans:
            start = self.clock()
            stored = await scan_window(
                self.collector, store, start, seconds_since_last_scan(previous, start),
                lambda: self.sleep(self.duty.scan_seconds),
                settings=self.settings, backend=self.backend, backend_kwargs=self.backend_kwargs,
            )
            previous = start
            done += 1
            purge.tick()
            if on_scan:
                on_scan(stored, self.stats)
            if max_scans is not None and done >= max_scans:
                break
            await self.sleep(max(0.0, self.duty.next_gap(self.rng) - (self.clock() - start)))
        return self.stats
