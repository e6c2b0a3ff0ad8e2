"""The radio model: how loud one phone sounds to another.

Textbook log-distance path loss with shadowing (docs/simulator.md), plus the
losses that make phone-to-phone distance estimation hard in practice:

    RSSI = RSSI_ref(1 m) + tx_hw + rx_hw − 10·n·log10(d) − L_body − L_carry
           − L_people − L_walls − X_shadow − X_fast

* ``RSSI_ref(1 m)`` ≈ −59 dBm at 0 dBm radiated power (iBeacon convention).
* ``tx_hw``/``rx_hw``: how far a phone model's radio is from the reference
  (what the calibration table corrects, with a residual error per phone).
* ``L_body``: a carrier's body between the phones (the phone's bearing to
  the other phone more than 90° from the way the carrier faces, as in MIT
  Lincoln Laboratory's PACT model); swapping who holds which phone swung
  attenuation by about ±10 dB in Leith & Farrell's bus measurements.
* ``L_carry``: hand, pocket or bag.
* ``L_people``: other people crossing the line of sight (cylinders of
  0.146 m radius, PACT).
* ``X_shadow``: slow shadowing, one draw per pair and scan; ``X_fast``:
  per-packet fading.

Every figure is an *assumption* with a public source or a plausible range,
collected in :class:`RadioModel` so an evaluation can vary it. Scenario
environments override the exponent and spread (a metal bus is nearly
distance-independent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

#: Calibrated TX minus RSSI at 1 m line of sight for the reference phone. An
#: assumption chosen so that 2 m reads about 47 dB with n = 2, matching
#: Google's remark "attenuation ≈ 47 dB ~ 2 m" (GAEN exposure-window documentation).
REFERENCE_ATTENUATION_1M = 41.0


@dataclass(frozen=True, slots=True)
class RadioModel:
    """Parameters of the simulated radio (dB, dBm, metres)."""

    rssi_ref_1m: float = -59.0
    path_loss_exponent: float = 2.0
    shadowing_sigma_db: float = 4.0
    fast_fading_sigma_db: float = 2.0
    body_loss_db: float = 8.0
    person_loss_db: float = 4.0
    wall_loss_db: float = 6.0
    packet_loss: float = 0.15
    sensitivity_dbm: float = -100.0
    adv_interval_ms: tuple[int, int] = (200, 270)
    calibration_error_sigma_db: float = 1.5
    min_distance_m: float = 0.1
    #: Loss added at every distance (a vehicle's metal-rich regime; 0 elsewhere).
    excess_loss_db: float = 0.0

    def with_environment(self, **overrides: float) -> "RadioModel":
        return replace(self, **overrides)  # type: ignore[arg-type]  # float fields only (callers pass [sim] figures)

    def path_loss(self, distance_m: float) -> float:
        return 10.0 * self.path_loss_exponent * math.log10(max(distance_m, self.min_distance_m))

    def mean_rssi(self, distance_m: float, *, tx_hw: float = 0.0, rx_hw: float = 0.0,
                  extra_loss_db: float = 0.0) -> float:
        """RSSI before random terms (shadowing, fading)."""
        return (self.rssi_ref_1m + tx_hw + rx_hw - self.path_loss(distance_m) - self.excess_loss_db
                - extra_loss_db)


CARRY_LOSS_DB = {"hand": 0.0, "pocket": 3.0, "bag": 8.0}


def body_blocks(facing: float, dx: float, dy: float) -> bool:
    """True when the direction ``(dx, dy)`` to the other phone is more than 90°
    away from the direction the carrier faces (the body is in between)."""
    if dx == 0 and dy == 0:
        return False
    return math.cos(math.atan2(dy, dx) - facing) < 0


def people_between(ax: float, ay: float, bx: float, by: float,
                   others: list[tuple[float, float]], radius: float = 0.146) -> int:
    """How many other people (cylinders) stand across the segment A–B."""
    vx, vy = bx - ax, by - ay
    length2 = vx * vx + vy * vy
    if length2 == 0:
        return 0
    count = 0
    for ox, oy in others:
        t = ((ox - ax) * vx + (oy - ay) * vy) / length2
        if 0.05 < t < 0.95:
            px, py = ax + t * vx - ox, ay + t * vy - oy
            if px * px + py * py <= radius * radius:
                count += 1
    return count
