"""Scan duty cycle: when the phone listens.

GAEN phones do not listen continuously (battery): Android scans about 4 s
every 210–300 s (the GAEN Bluetooth specification). A duty cycle here is a scan length, a mean
period and a jitter; the jitter spreads phones' scans so two phones that
never advertise at the scan instants of the other do not stay blind to each
other for good.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

#: GAEN caps ``secondsSinceLastScan`` at 5 minutes.
MAX_SECONDS_SINCE_LAST_SCAN = 300


@dataclass(frozen=True, slots=True)
class DutyCycle:
    """Scan ``scan_seconds`` every ``period_seconds`` ± ``jitter_seconds``."""

    scan_seconds: float = 4.0
    period_seconds: float = 270.0
    jitter_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.scan_seconds <= 0:
            raise ValueError("scan_seconds must be positive")
        if self.period_seconds < self.scan_seconds:
            raise ValueError("period_seconds must be at least scan_seconds")
        if not 0 <= self.jitter_seconds <= self.period_seconds - self.scan_seconds:
            raise ValueError("jitter_seconds must be between 0 and period_seconds - scan_seconds")

    @property
    def fraction(self) -> float:
        """The share of time spent scanning."""
        return self.scan_seconds / self.period_seconds

    def next_gap(self, rng: random.Random) -> float:
        """Seconds from one scan's start to the next one's."""
        return self.period_seconds + rng.uniform(-self.jitter_seconds, self.jitter_seconds)

    def windows(self, start: float, end: float, rng: random.Random) -> Iterator[tuple[float, float]]:
        """Scan windows ``(begin, end)`` from ``start`` until ``end``, the first
        one at a random phase so that phones switched on together drift apart."""
        t = start + rng.uniform(0, self.period_seconds)
        while t < end:
            yield t, min(t + self.scan_seconds, end)
            t += self.next_gap(rng)


def seconds_since_last_scan(previous_start: float | None, start: float) -> int | None:
    """GAEN's ``secondsSinceLastScan``: capped at 300 s; unknown for the first scan."""
    if previous_start is None:
        return None
    return int(min(MAX_SECONDS_SINCE_LAST_SCAN, round(start - previous_start)))
