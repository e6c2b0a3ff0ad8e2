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


if __name__ == "__main__":
    main()
