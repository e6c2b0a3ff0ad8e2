"""Cost per key of the key schedules: µs per key and identifiers per second.

For ``gaen`` the baseline is the textbook implementation measured in the same
run: cryptography's HKDF object and a fresh AES cipher per interval. For
``dp3t-lowcost`` the baseline is a per-EphID cipher call.
"""

from __future__ import annotations

import os
import struct
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bluezone.matching.derive import deriver_for, generic_deriver
from bluezone.matching.fixtures import background_sightings
from bluezone.matching.index import SightingIndex
from bluezone.matching.matcher import iter_matches
from bluezone.models import ExposureKey
from bluezone.schedules import dp3t_lowcost, gaen


def naive_gaen_rpis(tek: bytes, start: int, count: int) -> list[bytes]:
    rpik = HKDF(hashes.SHA256(), 16, None, b"EN-RPIK").derive(tek)
    out = []
    for enin in range(start, start + count):
        enc = Cipher(algorithms.AES(rpik), modes.ECB()).encryptor()
        out.append(enc.update(b"EN-RPI" + bytes(6) + struct.pack("<I", enin)) + enc.finalize())
    return out


def naive_dp3t_ephids(sk: bytes) -> list[bytes]:
    import hmac

    prf = hmac.digest(sk, b"broadcast key", "sha256")
    out = []
    for i in range(96):
        enc = Cipher(algorithms.AES(prf), modes.CTR(i.to_bytes(16, "big"))).encryptor()
        out.append(enc.update(bytes(16)))
    return out


def measure(fn, keys, per_key_ids: int) -> tuple[float, float]:
    started = time.perf_counter()
    for k in keys:
        fn(k)
    elapsed = time.perf_counter() - started
    us_per_key = elapsed / len(keys) * 1e6
    return us_per_key, per_key_ids * len(keys) / elapsed


def main() -> None:
    n = 20_000
    teks = [ExposureKey(os.urandom(16), 2_900_000, 144) for _ in range(n)]
    sks = [ExposureKey(os.urandom(32), 2_900_016, 144) for _ in range(n // 4)]
    assert [d.identifier for d in gaen.SCHEDULE.identifiers(teks[0])] == naive_gaen_rpis(teks[0].key_data, 2_900_000, 144)
    assert [d.identifier for d in dp3t_lowcost.SCHEDULE.identifiers(sks[0])] == naive_dp3t_ephids(sks[0].key_data)

    rows = [
        ("gaen: rpi_block (matcher path)", measure(lambda k: gaen.rpi_block(k.key_data, k.rolling_start_interval_number, 144), teks, 144)),
        ("gaen: identifiers() objects", measure(lambda k: list(gaen.SCHEDULE.identifiers(k)), teks[: n // 4], 144)),
        ("gaen: baseline (HKDF object, cipher per interval)", measure(lambda k: naive_gaen_rpis(k.key_data, k.rolling_start_interval_number, 144), teks[: n // 10], 144)),
        ("dp3t-lowcost: ephids()", measure(lambda k: dp3t_lowcost.ephids(k.key_data), sks, 96)),
        ("dp3t-lowcost: baseline (cipher per EphID)", measure(lambda k: naive_dp3t_ephids(k.key_data), sks[: n // 20], 96)),
    ]
    print(f"{'schedule path':52} {'µs/key':>9} {'ids/s':>12}")
    for name, (us, ids) in rows:
        print(f"{name:52} {us:9.2f} {ids:12,.0f}")
    print(f"gaen speed-up over baseline: {rows[2][1][0] / rows[0][1][0]:.1f}x; "
          f"dp3t speed-up over baseline: {rows[4][1][0] / rows[3][1][0]:.1f}x")
    matching_per_key(n)


def matching_per_key(n: int) -> None:
    """What a phone pays per published key when it matches: derive + test
    against a 40,000-sighting index, through the matcher, for each schedule;
    dp3t-lowcost also through its generic path (identifier objects), as it
    was matched before it had a fast path."""
    day0 = 2_833_056 * 600
    index = SightingIndex.build(background_sightings(40_000, day0, 14, seed=3))

    def per_key(schedule, derive, count: int) -> float:
        keys = [(os.urandom(schedule.key_length), day0 // 600 + 144 * (i % 14), 144, 1, None, 2) for i in range(count)]
        started = time.perf_counter()
        for _ in iter_matches(keys, index, derive, schedule.match_tolerance_intervals):
            pass
        return (time.perf_counter() - started) / count * 1e6

    g = per_key(gaen.SCHEDULE, deriver_for(gaen.SCHEDULE), n)
    d = per_key(dp3t_lowcost.SCHEDULE, deriver_for(dp3t_lowcost.SCHEDULE), n)
    before = per_key(dp3t_lowcost.SCHEDULE, generic_deriver(dp3t_lowcost.SCHEDULE), n // 10)
    print(f"\nmatching per published key (derive + index test, {n:,} keys, 40,000 sightings):")
    print(f"  gaen                                    {g:7.2f} µs/key")
    print(f"  dp3t-lowcost (fast path)                {d:7.2f} µs/key   ratio to gaen {d / g:.2f}x (target <= 2x)")
    print(f"  dp3t-lowcost (generic path, before)     {before:7.2f} µs/key   ratio to gaen {before / g:.2f}x; "
          f"fast path {before / d:.1f}x cheaper")


if __name__ == "__main__":
    main()
