"""Identifier blocks for matching: every identifier of a published key as one
``bytes`` of concatenated identifiers, plus the interval of each.

Why blocks: the matcher's cost is per-key Python overhead, not cryptography
(AES of 144 blocks is well under a microsecond). One ``bytes`` per key lets
the index test all of a key's identifiers in a vectorised step instead of
144 Python-level lookups.

The deployment's schedule comes from the ``bluezone_key_schedules`` hook.
For the built-in ``gaen`` schedule a fast path computes exactly
``GaenSchedule.identifiers`` (tested equal against the published vectors)
with fewer calls per key: HKDF's first HMAC, whose key (the empty salt) is
constant, runs from precomputed SHA-256 pad states, and the cipher mode
object is reused. The built-in ``dp3t-lowcost`` schedule has one too
(:func:`dp3t_block`, equal to ``Dp3tLowCostSchedule.identifiers``): one HMAC
and one AES call per key, the per-day interval list shared, and no
``DerivedIdentifier`` made at all (the matcher reads an identifier's
interval only for the rare hit). Any other schedule (third-party) goes
through its own ``identifiers()``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..models import INTERVALS_PER_DAY
from ..schedules.dp3t_lowcost import BROADCAST_KEY, EPOCHS_PER_DAY, Dp3tLowCostSchedule, epoch_interval
from ..schedules.gaen import GaenSchedule, padded_intervals

#: (block, intervals, span): ``intervals`` is ``None`` when identifier ``i``
#: belongs to interval ``start + i`` (the GAEN layout), else one per
#: identifier; ``span`` is ``(first, end)`` intervals when the schedule
#: broadcasts its identifiers in a random order (``broadcast_in_random_order``,
#: as dp3t-lowcost does), so a sighting may be anywhere in that span.
Block = tuple[bytes, "list[int] | None", "tuple[int, int] | None"]
#: derive(key_data, rolling_start, rolling_period) -> Block
Deriver = Callable[[bytes, int, int], Block]

_SHA = hashlib.sha256
_INNER_ZERO = hashlib.sha256(b"\x36" * 64)  # HMAC state for the all-zero 32-byte salt
_OUTER_ZERO = hashlib.sha256(b"\x5c" * 64)
_IPAD32 = int.from_bytes(b"\x36" * 32, "big")
_OPAD32 = int.from_bytes(b"\x5c" * 32, "big")
_ITAIL = b"\x36" * 32
_OTAIL = b"\x5c" * 32
_RPIK_INFO = b"EN-RPIK\x01"
_ECB = modes.ECB()


def fast_rpik(tek: bytes) -> bytes:
    """HKDF-SHA256(tek, salt=None, info="EN-RPIK", 16), 4 SHA-256 runs and no
    HMAC object: identical output to ``bluezone.schedules.gaen.rpik``."""
    inner = _INNER_ZERO.copy()
    inner.update(tek)
    outer = _OUTER_ZERO.copy()
    outer.update(inner.digest())
    prk = int.from_bytes(outer.digest(), "big")
    h = _SHA((prk ^ _IPAD32).to_bytes(32, "big") + _ITAIL + _RPIK_INFO).digest()
    return _SHA((prk ^ _OPAD32).to_bytes(32, "big") + _OTAIL + h).digest()[:16]


def _public_ecb_encryptor(key: bytes) -> Any:
    return Cipher(algorithms.AES(key), _ECB).encryptor()


def _find_ecb_encryptor() -> Callable[[bytes], Any]:
    """``cryptography``'s own Rust context constructor when it is there and
    gives the public API's bytes (checked here, at import), else the public
    API. It skips ``Cipher``'s ten ``isinstance`` checks per key (~1 µs, a
    fifth of a key's cost); the output is the same OpenSSL AES."""
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        create = rust_openssl.ciphers.create_encryption_ctx
        probe_key, probe = bytes(range(16)), bytes(range(32))
        if create(algorithms.AES(probe_key), _ECB).update(probe) != _public_ecb_encryptor(probe_key).update(probe):
            return _public_ecb_encryptor
        return lambda key: create(algorithms.AES(key), _ECB)
    except Exception:  # pragma: no cover - depends on the cryptography release
        return _public_ecb_encryptor


_ecb_encryptor = _find_ecb_encryptor()


def gaen_block(tek: bytes, start: int, period: int) -> Block:
    """All RPIs of a TEK in one AES-ECB call over cached plaintexts."""
    return _ecb_encryptor(fast_rpik(tek)).update(padded_intervals(start, period)), None, None


#: AES-CTR from a zero counter is AES-ECB over the counter blocks 0, 1, 2...
#: (big-endian, as CTR increments them): the day's 96 EphIDs in one ECB call
#: through the same cheap context as the gaen path.
_DP3T_COUNTERS = b"".join(i.to_bytes(16, "big") for i in range(EPOCHS_PER_DAY))


@functools.lru_cache(maxsize=64)
def _dp3t_day(day: int) -> tuple[list[int], tuple[int, int]]:
    """The interval of each epoch of a day, and the day's span (shared by
    every key of that day: a 14-day batch has 14 distinct ones)."""
    return [epoch_interval(day, e) for e in range(EPOCHS_PER_DAY)], (day, day + INTERVALS_PER_DAY)


def dp3t_block(sk: bytes, start: int, period: int) -> Block:
    """Every EphID of a dp3t-lowcost day key, as ``generic_deriver`` would
    give them through ``Dp3tLowCostSchedule.identifiers``: PRF = HMAC-SHA256
    (SK, "broadcast key"), keystream = AES-256-CTR(PRF) from counter 0."""
    prf = hmac.digest(sk, BROADCAST_KEY, "sha256")
    intervals, span = _dp3t_day(start - start % INTERVALS_PER_DAY)
    return _ecb_encryptor(prf).update(_DP3T_COUNTERS), intervals, span


def generic_deriver(schedule: Any) -> Deriver:
    """A deriver for any schedule, through its public ``identifiers()``."""
    from ..models import ExposureKey

    shuffled = bool(getattr(schedule, "broadcast_in_random_order", False))

    def derive(key_data: bytes, start: int, period: int) -> Block:
        ids = list(schedule.identifiers(ExposureKey(key_data, start, period)))
        block = b"".join(d.identifier for d in ids)
        if shuffled:
            day = start - start % INTERVALS_PER_DAY
            return block, [d.interval for d in ids], (day, day + INTERVALS_PER_DAY)
        return block, [d.interval for d in ids], None

    return derive


def deriver_for(schedule: Any) -> Deriver:
    """The fastest correct deriver for the deployment's schedule object."""
    if isinstance(schedule, GaenSchedule):
        return gaen_block
    if isinstance(schedule, Dp3tLowCostSchedule):
        return dp3t_block
    return generic_deriver(schedule)
