"""The detection path: bleak callback → parsed payload → coalesced sightings.

One :class:`ScanCollector` serves one scanner. bleak calls
:meth:`ScanCollector.on_detection` for every advertisement it reports (many
per second per phone nearby: GAEN advertises every 200–270 ms), and at the end
of the scan window :meth:`ScanCollector.end_window` folds the repeats of each
identifier into one :class:`~bluezone.models.Sighting` with the mean RSSI
(GAEN's *typical* attenuation) and the strongest one (*minimum* attenuation).
The radio simulator calls the very same method through a bleak backend, so
what the simulation tests is the code that runs on hardware.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from bluezone import Sighting

from .advert import MalformedAdvert, find_service_data, parse_service_data


@dataclass(slots=True)
class ScanStats:
    """Counters for progress output and diagnostics (never identifiers)."""

    scans: int = 0
    adverts: int = 0
    malformed: int = 0
    ignored: int = 0
    sightings: int = 0


@dataclass(slots=True)
class _Heard:
    rssis: list[int] = field(default_factory=list)


class ScanCollector:
    """Collects one scan window at a time; not thread-safe (bleak calls back
    on the event loop thread)."""

    def __init__(self, source: str = "ble"):
        self.source = source
        self.stats = ScanStats()
        self._window_start: float | None = None
        self._since_last: int | None = None
        self._heard: dict[tuple[bytes, bytes], _Heard] = {}

    def begin_window(self, start: float, seconds_since_last_scan: int | None) -> None:
        """Start collecting a scan window that began at ``start`` (Unix seconds)."""
        if self._window_start is not None:
            raise RuntimeError("previous scan window was not ended")
        self._window_start = start
        self._since_last = seconds_since_last_scan
        self._heard = {}

    def on_detection(self, device: BLEDevice, adv: AdvertisementData) -> None:
        """bleak's detection callback (signature ``(BLEDevice, AdvertisementData)``).

        Advertisements without 0xFD6F service data are counted as ignored;
        0xFD6F payloads of the wrong shape as malformed. Neither raises: one
        odd phone in a market must not stop a scan.
        """
        if self._window_start is None:
            return  # a late callback after the window closed: dropped, like the OS would
        self.stats.adverts += 1
        data = find_service_data(adv.service_data or {})
        if data is None:
            self.stats.ignored += 1
            return
        try:
            payload = parse_service_data(data)
        except MalformedAdvert:
            self.stats.malformed += 1
            return
        rssi = adv.rssi
        if not isinstance(rssi, int) or not -127 <= rssi <= 20:
            self.stats.malformed += 1
            return
        self._heard.setdefault((payload.rpi, payload.aem), _Heard()).rssis.append(rssi)

    def end_window(self) -> list[Sighting]:
        """Close the window: one sighting per identifier heard in it."""
        if self._window_start is None:
            raise RuntimeError("no scan window is open")
        start = int(self._window_start)
        out = [
            Sighting(
                identifier=rpi,
                time=start,
                rssi=round(sum(h.rssis) / len(h.rssis)),
                metadata=aem,
                rssi_max=max(h.rssis),
                seconds_since_last_scan=self._since_last,
                source=self.source,
            )
            for (rpi, aem), h in self._heard.items()
        ]
        self._window_start = None
        self._heard = {}
        self.stats.scans += 1
        self.stats.sightings += len(out)
        return out
