"""Key schedule ``dp3t-lowcost``: the DP-3T white paper's low-cost design.

* SK_{t+1} = SHA-256(SK_t): one 32-byte secret per UTC day, chained.
* PRF = HMAC-SHA256(SK_t, "broadcast key"); the day's 96 EphIDs (16 bytes
  each, one per 15-minute epoch) are the AES-CTR keystream keyed by the whole
  32-byte PRF (so AES-256, as the DP-3T reference implementation does; the
  white paper's "AES-128" wording notwithstanding) from a zero counter, split
  in 16-byte pieces, and broadcast in a random order chosen per day.

.. warning:: Forward linkability. Anyone who learns SK_t (every phone does,
   once the key is published) can compute SK_{t+1}, SK_{t+2}, ... and so
   recognise this phone's identifiers on every later day until the owner
   reinstalls. The upload therefore publishes the first contagious day's key
   and the phone must start a fresh, unrelated chain right after uploading.
   The ``gaen`` schedule, whose daily keys are independent, does not have this
   weakness and is the default; see ``docs/schedules.md``.

Identifier slots here are epochs of 15 minutes. For ``derive`` and for
matching, an EphID's interval is the GAEN interval (10 minutes) in which its
epoch starts, so the same ±2 h tolerance applies to both schedules.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..hookspecs import hookimpl
from ..models import (
    DAY_SECONDS,
    INTERVAL_SECONDS,
    INTERVALS_PER_DAY,
    DerivedIdentifier,
    ExposureKey,
    day_start_interval,
)
from . import ScheduleError

EPOCHS_PER_DAY = 96
EPOCH_SECONDS = DAY_SECONDS // EPOCHS_PER_DAY  # 900 s
BROADCAST_KEY = b"broadcast key"


def next_key(sk: bytes) -> bytes:
    """SK_{t+1} = SHA-256(SK_t)."""
    return hashlib.sha256(sk).digest()


def ephids(sk: bytes) -> list[bytes]:
    """The day's 96 EphIDs in generation (unshuffled) order."""
    prf = hmac.digest(sk, BROADCAST_KEY, "sha256")
    stream = Cipher(algorithms.AES(prf), modes.CTR(bytes(16))).encryptor().update(
        bytes(16 * EPOCHS_PER_DAY)
    )
    return [stream[i : i + 16] for i in range(0, len(stream), 16)]


def epoch_interval(day_interval: int, epoch: int) -> int:
    """The GAEN interval in which epoch ``epoch`` of the day starts."""
    return day_interval + (epoch * EPOCH_SECONDS) // INTERVAL_SECONDS


def epoch_of_interval(interval: int) -> int:
    """The epoch of its day that contains the start of GAEN interval ``interval``."""
    return ((interval % INTERVALS_PER_DAY) * INTERVAL_SECONDS) // EPOCH_SECONDS


def broadcast_order(sk: bytes) -> list[int]:
    """A per-day random permutation of the 96 epochs' EphIDs.

    Seeded from a hash of SK_t so one device is consistent across restarts
    within a day; observers without SK_t cannot predict it, and the matcher,
    which checks a whole day's EphIDs at once, does not need it.
    """
    order = list(range(EPOCHS_PER_DAY))
    random.Random(hashlib.sha256(b"bluezone-dp3t-order" + sk).digest()).shuffle(order)
    return order


class Dp3tLowCostSchedule:
    name = "dp3t-lowcost"
    key_length = 32
    identifier_length = 16
    metadata_length = 0
    match_tolerance_intervals = 12
    #: EphIDs go out in a per-day random order, so an identifier's slot in
    #: ``identifiers()`` says nothing about when it was broadcast: a matcher
    #: must accept a sighting anywhere in the key's day (± the tolerance).
    broadcast_in_random_order = True

    def _check_key(self, key_data: bytes) -> None:
        if len(key_data) != self.key_length:
            raise ScheduleError(f"a dp3t-lowcost key is {self.key_length} bytes, got {len(key_data)}")

    def new_key(self, now: int) -> ExposureKey:
        return ExposureKey(os.urandom(self.key_length), day_start_interval(now), INTERVALS_PER_DAY)

    def derive(
        self, key_data: bytes, start_interval: int, count: int, metadata: bytes | None = None
    ) -> Iterator[DerivedIdentifier]:
        """EphIDs for ``count`` epochs from the one containing ``start_interval``,
        in generation order; ``key_data`` is SK of that interval's day. Later
        days follow the chain. DP-3T has no encrypted metadata, so ``metadata``
        must be empty or absent."""
        self._check_key(key_data)
        if metadata:
            raise ScheduleError("dp3t-lowcost carries no metadata")
        if count < 0:
            raise ScheduleError("count must not be negative")
        day = start_interval - start_interval % INTERVALS_PER_DAY
        epoch = epoch_of_interval(start_interval)
        sk, ids = key_data, ephids(key_data)
        for _ in range(count):
            if epoch == EPOCHS_PER_DAY:
                sk, day, epoch = next_key(sk), day + INTERVALS_PER_DAY, 0
                ids = ephids(sk)
            yield DerivedIdentifier(epoch_interval(day, epoch), ids[epoch])
            epoch += 1

    def identifiers(self, key: ExposureKey) -> Iterator[DerivedIdentifier]:
        day = key.rolling_start_interval_number - key.rolling_start_interval_number % INTERVALS_PER_DAY
        for epoch, ephid in enumerate(ephids(key.key_data)):
            yield DerivedIdentifier(epoch_interval(day, epoch), ephid)

    def broadcast(self, key_data: bytes, key_start: int, at_interval: int, metadata: bytes) -> DerivedIdentifier:
        self._check_key(key_data)
        day = at_interval - at_interval % INTERVALS_PER_DAY
        epoch = epoch_of_interval(at_interval)
        slot = broadcast_order(key_data)[epoch]
        return DerivedIdentifier(epoch_interval(day, epoch), ephids(key_data)[slot])

    def decrypt_metadata(self, key_data: bytes, identifier: bytes, encrypted: bytes) -> bytes:
        return b""


SCHEDULE = Dp3tLowCostSchedule()


@hookimpl
def bluezone_key_schedules():
    return [SCHEDULE]
