"""A bleak scanner backend that receives from a simulated radio.

bleak lets a program choose its scanner backend (``BleakScanner(...,
backend=...)``); the platform backends (BlueZ, CoreBluetooth, WinRT,
Android) are subclasses of :class:`bleak.backends.scanner.BaseBleakScanner`
that turn OS events into bleak's ``BLEDevice``/``AdvertisementData`` and call
the registered detection callbacks. :class:`AirBackend` does the same with
packets handed over by the simulator, including the service-UUID filtering
that bleak asks every backend to apply, so the scanner code above it cannot
tell the difference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner


@dataclass(frozen=True, slots=True)
class AirPacket:
    """One received advertisement: the sender's current (random) address and
    what the receiver's controller reported."""

    address: str
    service_data: dict[str, bytes]
    service_uuids: tuple[str, ...]
    rssi: int
    local_name: str | None = None
    manufacturer_data: tuple[tuple[int, bytes], ...] = ()

    def advertisement_data(self) -> AdvertisementData:
        return AdvertisementData(
            local_name=self.local_name,
            manufacturer_data=dict(self.manufacturer_data),
            service_data=dict(self.service_data),
            service_uuids=list(self.service_uuids),
            tx_power=None,
            rssi=self.rssi,
            platform_data=("bluezone-sim",),
        )


class AirBackend(BaseBleakScanner):
    """Delivers ``packets`` (an iterable of :class:`AirPacket`) when started.

    ``start_error`` makes :meth:`start` raise, to rehearse a missing or
    powered-off adapter the way the BlueZ backend reports it.
    """

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        bluez: Any = None,
        cb: Any = None,
        packets: Iterable[AirPacket] = (),
        start_error: BaseException | None = None,
        **kwargs: Any,
    ):
        super().__init__(detection_callback, service_uuids)
        self.scanning_mode = scanning_mode
        self._packets = packets
        self._start_error = start_error
        self.delivered = 0
        self.scanning = False

    async def start(self) -> None:
        if self._start_error is not None:
            raise self._start_error
        self.seen_devices = {}
        self.scanning = True
        for packet in self._packets:
            adv = packet.advertisement_data()
            if not self.is_allowed_uuid(adv.service_uuids):
                continue
            device = self.create_or_update_device(packet.address, packet.address, None, packet, adv)
            self.delivered += 1
            self.call_detection_callbacks(device, adv)

    async def stop(self) -> None:
        self.scanning = False
