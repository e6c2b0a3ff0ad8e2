"""Key schedule ``gaen``: Google/Apple Exposure Notification cryptography v1.2.

One random 16-byte Temporary Exposure Key (TEK) per UTC day (rolling period
144 intervals of 10 minutes), rotated early after an upload.

* RPIK = HKDF-SHA256(TEK, salt=None, info="EN-RPIK", 16)
* RPI  = AES-128(RPIK, "EN-RPI" || 6 zero bytes || ENIN as uint32 LE)
* AEMK = HKDF-SHA256(TEK, salt=None, info="EN-AEMK", 16)
* AEM  = AES-128-CTR(AEMK, IV=RPI, metadata)

Metadata is 4 bytes: version (0x40), signed TX power in dBm, two zero bytes.
HKDF is written out with :func:`hmac.digest` (RFC 5869, one output block):
identical output to ``cryptography``'s HKDF, without its per-call object cost,
which dominates when a phone derives a million keys' identifiers.
"""

from __future__ import annotations

import functools
import hmac
import os
import struct
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..hookspecs import hookimpl
from ..models import (
    INTERVALS_PER_DAY,
    DerivedIdentifier,
    ExposureKey,
    day_start_interval,
    interval_number,
)
from . import ScheduleError

_ZERO_SALT = bytes(32)
_RPI_PREFIX = b"EN-RPI" + bytes(6)
METADATA_VERSION = 0x40


def hkdf16(key: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 with an empty salt and 16 bytes of output."""
    prk = hmac.digest(_ZERO_SALT, key, "sha256")
    return hmac.digest(prk, info + b"\x01", "sha256")[:16]


def rpik(tek: bytes) -> bytes:
    return hkdf16(tek, b"EN-RPIK")


def aemk(tek: bytes) -> bytes:
    return hkdf16(tek, b"EN-AEMK")


@functools.lru_cache(maxsize=4096)
def padded_intervals(start: int, count: int) -> bytes:
    """The concatenated RPI plaintexts for ``count`` intervals from ``start``.

    Cached: published keys share few distinct rolling starts, so one phone's
    million keys reuse a few dozen of these blobs.
    """
    return b"".join(_RPI_PREFIX + struct.pack("<I", enin & 0xFFFFFFFF) for enin in range(start, start + count))


def rpi_block(tek: bytes, start: int, count: int) -> bytes:
    """All RPIs of ``count`` intervals from ``start``, concatenated (16 bytes each),
    in a single AES-ECB call."""
    enc = Cipher(algorithms.AES(rpik(tek)), modes.ECB()).encryptor()
    return enc.update(padded_intervals(start, count))


def encrypt_metadata(tek_aemk: bytes, rpi: bytes, metadata: bytes) -> bytes:
    """AES-128-CTR with the RPI as the counter block (encrypts and decrypts)."""
    return Cipher(algorithms.AES(tek_aemk), modes.CTR(rpi)).encryptor().update(metadata)


def make_metadata(tx_power: int, version: int = METADATA_VERSION) -> bytes:
    """The 4 metadata bytes: version, signed TX power (dBm), 0, 0."""
    if not -128 <= tx_power <= 127:
        raise ScheduleError(f"TX power {tx_power} dBm does not fit a signed byte")
    return struct.pack("<Bbxx", version, tx_power)


def read_tx_power(metadata: bytes) -> int:
    """The signed TX power from decrypted metadata."""
    if len(metadata) < 2:
        raise ScheduleError("metadata is shorter than 2 bytes")
    return struct.unpack_from("<b", metadata, 1)[0]


class GaenSchedule:
    """The GAEN v1.2 schedule. Stateless; one shared instance is enough."""

    name = "gaen"
    key_length = 16
    identifier_length = 16
    metadata_length = 4
    match_tolerance_intervals = 12  # ±2 hours

    def _check_key(self, key_data: bytes) -> None:
        if len(key_data) != self.key_length:
            raise ScheduleError(f"a gaen key is {self.key_length} bytes, got {len(key_data)}")

    def new_key(self, now: int) -> ExposureKey:
        start = interval_number(now)
        end = day_start_interval(now) + INTERVALS_PER_DAY
        return ExposureKey(os.urandom(self.key_length), start, end - start)

    def derive(
        self, key_data: bytes, start_interval: int, count: int, metadata: bytes | None = None
    ) -> Iterator[DerivedIdentifier]:
        self._check_key(key_data)
        if count < 0:
            raise ScheduleError("count must not be negative")
        if metadata is not None and len(metadata) != self.metadata_length:
            raise ScheduleError(f"gaen metadata is {self.metadata_length} bytes, got {len(metadata)}")
        block = rpi_block(key_data, start_interval, count)
        mkey = aemk(key_data) if metadata is not None else b""
        for i in range(count):
            rpi = block[16 * i : 16 * i + 16]
            aem = encrypt_metadata(mkey, rpi, metadata) if metadata is not None else b""
            yield DerivedIdentifier(start_interval + i, rpi, aem)

    def identifiers(self, key: ExposureKey) -> Iterator[DerivedIdentifier]:
        return self.derive(key.key_data, key.rolling_start_interval_number, key.rolling_period)

    def broadcast(self, key_data: bytes, key_start: int, at_interval: int, metadata: bytes) -> DerivedIdentifier:
        return next(self.derive(key_data, at_interval, 1, metadata))

    def decrypt_metadata(self, key_data: bytes, identifier: bytes, encrypted: bytes) -> bytes:
        self._check_key(key_data)
        return encrypt_metadata(aemk(key_data), identifier, encrypted)


SCHEDULE = GaenSchedule()


@hookimpl
def bluezone_key_schedules():
    return [SCHEDULE]
