"""Compare the simulator with field measurements, in the measurements' terms.

Leith & Farrell published their Dublin tram measurements as *attenuation
durations*: for each pair of handsets at a known distance, the minutes GAEN
reported in 2 dB attenuation bins (48–50, 50–52, … 78–80, then 80–85,
85–90, 90–100). To hold the simulator to those figures we put simulated
phones at known distances, let the phone's own matching pipeline build its
exposure windows for every ordered pair, and fold the scan instances into
the same bins. Then the same summaries (median attenuation per distance
band, and which pairs the Swiss, German and Italian rules of June 2020
would have notified) can be computed on both and compared.

Nothing here is used by a phone; it exists so that a test fails when the
simulator drifts from the published data (plugins/ble/tests/field_data).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bluezone import pipeline, section_defaults

from .truth import GroundTruth

#: Bin edges (dB) of the Dublin tram dataset's attenuation durations.
BIN_EDGES: tuple[int, ...] = (48, 50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, 80, 85, 90, 100)


@dataclass(frozen=True, slots=True)
class PairMeasure:
    """Minutes per attenuation bin for one (sender, listener) at one distance."""

    distance_m: float
    minutes: tuple[float, ...]

    @property
    def total(self) -> float:
        return sum(self.minutes)


def bin_of(attenuation: float) -> int:
    """The bin an attenuation falls in; below the first edge counts in the
    first bin and above the last in the last, as the phones' reports did."""
    for i in range(len(BIN_EDGES) - 1):
        if attenuation < BIN_EDGES[i + 1]:
            return i
    return len(BIN_EDGES) - 2


def minutes_below(m: PairMeasure, limit_db: float, start_db: float = 0.0) -> float:
    """Minutes in the bins that lie wholly in ``[start_db, limit_db)``
    (the first bin also holds anything quieter than 48 dB)."""
    return sum(v for i, v in enumerate(m.minutes) if BIN_EDGES[i] >= start_db and BIN_EDGES[i + 1] <= limit_db)


# National rules as configured in June 2020 (configuration files in the
# dataset; docs/simulator.md gives the reading). All ask for 15 minutes.
def swiss(m: PairMeasure) -> bool:
    """SwissCovid: < 50 dB counts fully, 50–55 dB half (2 dB bins: 50–56)."""
    return minutes_below(m, 50) + 0.5 * minutes_below(m, 56, 50) >= 15


def german(m: PairMeasure) -> bool:
    """Corona-Warn-App: < 55 dB fully, 55–63 dB half (2 dB bins: < 56, 56–64)."""
    return minutes_below(m, 56) + 0.5 * minutes_below(m, 64, 56) >= 15


def italian(m: PairMeasure) -> bool:
    """Immuni: 15 minutes at attenuation up to 73 dB (bins below 72)."""
    return minutes_below(m, 72) >= 15


NATIONAL_RULES: dict[str, Callable[[PairMeasure], bool]] = {"swiss": swiss, "german": german, "italian": italian}


def median_attenuation(measures: Sequence[PairMeasure]) -> float | None:
    """Duration-weighted median attenuation (bin centre) over pairs."""
    pooled = [0.0] * (len(BIN_EDGES) - 1)
    for m in measures:
        for i, v in enumerate(m.minutes):
            pooled[i] += v
    total = sum(pooled)
    if total <= 0:
        return None
    seen = 0.0
    for i, v in enumerate(pooled):
        seen += v
        if seen >= total / 2:
            return (BIN_EDGES[i] + BIN_EDGES[i + 1]) / 2
    return None


def band_medians(measures: Sequence[PairMeasure], bands: Sequence[tuple[float, float]]) -> list[float | None]:
    """:func:`median_attenuation` of the pairs whose distance is in each ``(lo, hi]``."""
    return [median_attenuation([m for m in measures if lo < m.distance_m <= hi]) for lo, hi in bands]


def pair_median(m: PairMeasure) -> float | None:
    return median_attenuation([m])


def rule_rates(measures: Sequence[PairMeasure], close_m: float = 2.0) -> dict[str, tuple[float, float]]:
    """Per rule: (share of pairs within ``close_m`` notified, share of the
    farther pairs notified) — the true- and false-positive rates of the study."""
    near = [m for m in measures if m.distance_m <= close_m]
    far = [m for m in measures if m.distance_m > close_m]
    out = {}
    for name, rule in NATIONAL_RULES.items():
        out[name] = (sum(map(rule, near)) / len(near) if near else math.nan,
                     sum(map(rule, far)) / len(far) if far else math.nan)
    return out


def simulated_measures(truth: GroundTruth, devices: Sequence[tuple[str, Any]], schedule: Any,
                       positions: Sequence[tuple[float, float]]) -> list[PairMeasure]:
    """Attenuation durations of every ordered pair of a static simulation,
    from the windows the listener's own pipeline builds for the sender's keys."""
    risk = section_defaults("risk")
    keys = {name: [own.key for own in store.own_keys(schedule.name)] for name, store in devices}
    where = dict(zip((n for n, _ in devices), positions, strict=True))
    out = []
    for sender, _ in devices:
        for listener, lstore in devices:
            if sender == listener:
                continue
            result = pipeline.run(lstore, schedule, pipeline.KeyBatch.from_keys(keys[sender]), risk, [], workers=1)
            minutes = [0.0] * (len(BIN_EDGES) - 1)
            for w in result.windows:
                for s in w.scan_instances:
                    minutes[bin_of(s.typical_attenuation_db)] += s.seconds_since_last_scan / 60
            (xa, ya), (xb, yb) = where[sender], where[listener]
            out.append(PairMeasure(math.hypot(xa - xb, ya - yb), tuple(minutes)))
    return out


def spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0
