"""The demo scenario (grows as the engine does).

Two phones, Lan and Minh, sit near each other for 20 minutes; a third, Hoa,
is across town. Every phone broadcasts its real GAEN identifiers, and the
sightings are stored in real device stores. Lan tests positive and publishes
her keys; Minh's and Hoa's phones re-derive the identifiers and look them up
in their own histories, on the device.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .models import Sighting, interval_number
from .schedules.gaen import SCHEDULE, make_metadata, read_tx_power
from .store import DeviceStore


def run_demo(workdir: str | None = None, *, seed: int = 7, echo: Callable[[str], None] = print) -> dict:
    rng = random.Random(seed)
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bluezone-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    meeting = now - 3 * 3600
    names = ["Lan", "Minh", "Hoa"]
    stores = {
        n: DeviceStore(base / f"{n.lower()}.db", key_file=base / "keys" / f"{n.lower()}.key")
        for n in names
    }
    echo(f"Bluezone demo — stores in {base}")
    metadata = make_metadata(-8)
    heard = 0
    for minute in range(0, 20, 5):  # a 4-second scan every 5 minutes
        t = meeting + minute * 60
        for speaker, listener, rssi in (("Lan", "Minh", -62), ("Minh", "Lan", -61)):
            key = stores[speaker].current_key(SCHEDULE, t)
            ident = SCHEDULE.broadcast(key.key_data, key.rolling_start_interval_number, interval_number(t), metadata)
            stores[listener].add_sightings([Sighting(ident.identifier, t, rssi + rng.randint(-3, 3),
                                                     ident.metadata, seconds_since_last_scan=300, source="sim")])
            heard += 1
    stores["Hoa"].current_key(SCHEDULE, meeting)
    echo(f"  Lan and Minh met for 20 minutes; {heard} sightings stored; Hoa was elsewhere.")
    published = [own.key for own in stores["Lan"].own_keys("gaen")]
    echo(f"  Lan tested positive and published {len(published)} key(s).")
    results = {}
    for name in ("Minh", "Hoa"):
        seen = {s.identifier: s for s in stores[name].sightings()}
        matched = []
        for key in published:
            for d in SCHEDULE.identifiers(key):
                s = seen.get(d.identifier)
                if s and abs(s.interval - d.interval) <= SCHEDULE.match_tolerance_intervals:
                    tx = read_tx_power(SCHEDULE.decrypt_metadata(key.key_data, s.identifier, s.metadata))
                    matched.append(tx - s.rssi)
        results[name] = matched
        if matched:
            echo(f"  {name}: {len(matched)} matching identifier(s), attenuation "
                 f"{min(matched)}–{max(matched)} dB → close contact of a confirmed case (F1).")
        else:
            echo(f"  {name}: no match — no exposure.")
    for s in stores.values():
        s.close()
    return results
