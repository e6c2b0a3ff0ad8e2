"""Synthetic but realistic device histories, for tests and the benchmark.

Sightings are produced the way a real scanner records them: the sender's
identifier and encrypted metadata come from the real key schedule
(``broadcast``), one sighting per scan, with the scanner's duty cycle as
``seconds_since_last_scan``. Only the radio (RSSI) is made up.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..models import DAY_SECONDS, INTERVAL_SECONDS, ExposureKey, ReportType, Sighting, interval_number


def contact_sightings(
    schedule: Any, key: ExposureKey, start: int, minutes: float, *, rssi: int = -60,
    tx_power: int = -10, scan_every: int = 60, rssi_max: int | None = None,
) -> list[Sighting]:
    """What a phone records while near the owner of ``key`` for ``minutes``
    from ``start``: one sighting per scan, every ``scan_every`` seconds."""
    from ..schedules.gaen import make_metadata

    out = []
    has_metadata = bool(getattr(schedule, "metadata_length", 0))
    meta = make_metadata(tx_power) if has_metadata else b""
    for i in range(max(1, int(minutes * 60 // scan_every))):
        t = start + i * scan_every
        d = schedule.broadcast(key.key_data, key.rolling_start_interval_number, interval_number(t), meta)
        out.append(Sighting(d.identifier, t, rssi, d.metadata, rssi_max, scan_every, "ble",
                            None if has_metadata else tx_power))
    return out


def background_sightings(n: int, since: int, days: int = 14, seed: int = 1) -> list[Sighting]:
    """``n`` sightings of strangers whose keys are never published: random
    identifiers, a few scans each, spread over waking hours of ``days`` days."""
    rnd = random.Random(seed)
    out: list[Sighting] = []
    while len(out) < n:
        day = rnd.randrange(days)
        t = since + day * DAY_SECONDS + rnd.randrange(6 * 3600, 22 * 3600)
        ident = rnd.randbytes(16)
        for k in range(rnd.randint(1, 6)):  # heard in a few consecutive scans
            out.append(Sighting(ident, t + 60 * k, rnd.randint(-95, -50), rnd.randbytes(4), None, 60))
    return out[:n]


def random_keys(n: int, first_day_start: int, days: int = 14, report_type: ReportType = ReportType.CONFIRMED_TEST,
                seed: int | None = None) -> Iterator[ExposureKey]:
    """Published keys of other people: one per person-day, spread over ``days``."""
    rnd = random.Random(seed)
    base = interval_number(first_day_start)
    for i in range(n):
        yield ExposureKey(rnd.randbytes(16) if seed is not None else os.urandom(16),
                          base + 144 * (i % days), 144, 2, report_type, rnd.randint(-3, 10))


def new_signing_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair for an authority, with the public half as PEM text."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, pem


#: GAEN's published threshold example (Apple's 50/70/90 dB) with medium at half
#: weight; tests written against those numbers pin them instead of relying on
#: the deployment default, which is chosen from the simulator evaluation.
GAEN_APPLE_RISK = {
    "attenuation_thresholds_db": [50, 70, 90],
    "bucket_weights": {"immediate": 1.0, "near": 1.0, "medium": 0.5, "other": 0.0},
}


def deployment(public_pem: str, *, schedule: str = "gaen", risk: dict | None = None,
               disabled: list[str] | None = None) -> dict:
    """A minimal deployment dict trusting ``public_pem`` for exports."""
    return {
        "deployment": {"name": "Test", "region": "452"},
        "plugins": {"disabled": disabled or []},
        "schedule": {"name": schedule},
        "risk": dict(risk or {}),
        "authority": {"url": "https://authority.example.vn",
                      "export_keys": [{"key_id": "452", "key_version": "v1", "public_key": public_pem}]},
    }


INTERVAL = INTERVAL_SECONDS


def record_meeting(sender_store: Any, observer_store: Any, minutes: int, start: int) -> None:
    """Two real phones sat 1 m apart for ``minutes`` from ``start``: the
    observer's store gets the sender's real broadcast identifiers (from the
    sender's own current keys, so early rotation and reports line up), one
    scan every 5 minutes, at 48 dB attenuation."""
    from ..schedules.gaen import SCHEDULE, make_metadata

    meta = make_metadata(-10)
    rows = []
    for m in range(0, minutes, 5):
        t = start + m * 60
        key = sender_store.current_key(SCHEDULE, t)
        ident = SCHEDULE.broadcast(key.key_data, key.rolling_start_interval_number, t // 600, meta)
        rows.append(Sighting(ident.identifier, t, -58, ident.metadata, -56, 300, "ble"))
    observer_store.add_sightings(rows)
