"""Ground truth of a simulation: how long each pair was truly close.

The close-contact rule Bluezone is judged against is the epidemiological
one: at least 15 minutes (cumulative, per day) within 2 m. The simulator
knows every position, so it can say exactly which pairs met it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

CLOSE_DISTANCE_M = 2.0
CLOSE_MINUTES = 15.0


@dataclass(slots=True)
class PairTruth:
    """What truly happened between two devices (names sorted)."""

    a: str
    b: str
    close_seconds: float = 0.0
    min_distance_m: float = math.inf
    seconds_within: dict[str, float] = field(default_factory=dict)  # "1.0" m → seconds

    def close(self, minutes: float = CLOSE_MINUTES, distance_m: float = CLOSE_DISTANCE_M) -> bool:
        if distance_m == CLOSE_DISTANCE_M:
            seconds = self.close_seconds
        else:
            seconds = self.seconds_within.get(f"{distance_m:.1f}", 0.0)
        return seconds >= minutes * 60


@dataclass(slots=True)
class GroundTruth:
    """Per pair truth plus the simulation's settings, for reports."""

    scenario: str
    seed: int
    start_time: int
    duration: int
    devices: list[str]
    pairs: dict[tuple[str, str], PairTruth]
    stats: dict[str, int] = field(default_factory=dict)

    def pair(self, a: str, b: str) -> PairTruth:
        return self.pairs[tuple(sorted((a, b)))]  # type: ignore[index]

    def close_pairs(self, minutes: float = CLOSE_MINUTES, distance_m: float = CLOSE_DISTANCE_M) -> set[tuple[str, str]]:
        return {k for k, p in self.pairs.items() if p.close(minutes, distance_m)}

    def to_json(self) -> str:
        return json.dumps({
            "scenario": self.scenario, "seed": self.seed, "start_time": self.start_time,
            "duration": self.duration, "devices": self.devices, "stats": self.stats,
            "pairs": [{**asdict(p), "min_distance_m": (None if math.isinf(p.min_distance_m) else
                                                       round(p.min_distance_m, 3))}
                      for p in self.pairs.values()],
        }, sort_keys=True)


DISTANCE_BANDS = (1.0, 1.5, 2.0, 3.0, 4.0)


def accumulate(truth: dict[tuple[str, str], PairTruth], key: tuple[str, str], distance: float, dt: float) -> None:
    p = truth[key]
    if distance < p.min_distance_m:
        p.min_distance_m = distance
    if distance <= CLOSE_DISTANCE_M:
        p.close_seconds += dt
    for band in DISTANCE_BANDS:
        if distance <= band:
            label = f"{band:.1f}"
            p.seconds_within[label] = p.seconds_within.get(label, 0.0) + dt
