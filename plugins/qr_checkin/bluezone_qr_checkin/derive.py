"""CrowdNotifier v3 key and identity derivation (techspec "basic", v3).

Everything here is a pure function of the exact QR payload bytes, so a visitor,
the venue owner and the health authority derive the same per-hour identities
independently. The payload is never re-encoded: protobuf encoders differ
(protobufjs writes empty default fields), and one byte of difference would
give a different identity and silently break matching.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Length of one identity interval; the v3 spec hard-codes one hour.
INTERVAL_LENGTH = 3600
HKDF_INFO = b"CrowdNotifier_v3"


@dataclass(frozen=True, slots=True)
class PayloadKeys:
    """The three 32-byte values HKDF derives from a QR payload."""

    nonce_preid: bytes
    nonce_timekey: bytes
    notification_key: bytes


def payload_keys(payload: bytes) -> PayloadKeys:
    """``noncePreId ‖ nonceTimekey ‖ notificationKey = HKDF-SHA256(payload, salt="", info)``."""
    okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=b"", info=HKDF_INFO).derive(payload)
    return PayloadKeys(okm[:32], okm[32:64], okm[64:])


def preid(payload: bytes, keys: PayloadKeys | None = None) -> bytes:
    """``SHA256("CN-PREID" ‖ payload ‖ noncePreId)``."""
    keys = keys or payload_keys(payload)
    return hashlib.sha256(b"CN-PREID" + payload + keys.nonce_preid).digest()


def _interval_bytes(start_of_interval: int, length: int) -> bytes:
    return struct.pack(">iq", length, start_of_interval)


def timekey(nonce_timekey: bytes, start_of_interval: int, length: int = INTERVAL_LENGTH) -> bytes:
    """``SHA256("CN-TIMEKEY" ‖ int32be(length) ‖ int64be(start) ‖ nonceTimekey)``."""
    return hashlib.sha256(b"CN-TIMEKEY" + _interval_bytes(start_of_interval, length) + nonce_timekey).digest()


def identity_from_preid(
    pre_id: bytes, nonce_timekey: bytes, start_of_interval: int, length: int = INTERVAL_LENGTH
) -> bytes:
    """``SHA256("CN-ID" ‖ preid ‖ int32be(length) ‖ int64be(start) ‖ timekey)``."""
    tk = timekey(nonce_timekey, start_of_interval, length)
    return hashlib.sha256(b"CN-ID" + pre_id + _interval_bytes(start_of_interval, length) + tk).digest()


def identity(payload: bytes, start_of_interval: int, length: int = INTERVAL_LENGTH) -> bytes:
    """The identity of a venue for the interval starting at ``start_of_interval`` (seconds)."""
    keys = payload_keys(payload)
    return identity_from_preid(preid(payload, keys), keys.nonce_timekey, start_of_interval, length)


def affected_hours(start: int, end: int) -> list[int]:
    """Interval starts (seconds) touched by ``[start, end]``.

    As in libcrowdnotifier's ``getAffectedHours``, the end hour is included
    even when ``end`` is exactly on the hour: a trace 09:00–10:00 covers the
    09:00 and the 10:00 interval.
    """
    if end < start:
        raise ValueError("end is before start")
    return [h * INTERVAL_LENGTH for h in range(start // INTERVAL_LENGTH, end // INTERVAL_LENGTH + 1)]
