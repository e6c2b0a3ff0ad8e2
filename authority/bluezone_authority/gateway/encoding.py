"""The canonical bytes of a federation batch, and their signature.

A batch travels, is stored and is signed as one byte string (docs/federation.md,
"The signed encoding"), so the gateway keeps exactly what the origin signed
and any change to any key breaks the signature. EFGS signs a canonical byte
form of its keys sorted (a detached CMS signature); here the bytes are our own
fixed-width form and the signature is ECDSA P-256 / SHA-256 (DER) with the
province's export signing key: the key its phones already trust, whose public
half the other provinces already hold to check its exports. A magic prefix
separates these signatures from export signatures made with the same key.

Layout (big-endian):

* ``BZFED1\\n`` (7 bytes);
* origin: u8 length + ASCII;
* u32 key count, then the keys sorted by their 16 key bytes, each:
  16 key bytes, u32 rolling start, u16 rolling period, u8 transmission risk,
  u8 report type, i8 days since onset (-128 = unknown),
  u8 count of relevant provinces then each as u8 length + ASCII (sorted;
  none = relevant to every province).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.models import ExposureKey, ReportType

MAGIC = b"BZFED1\n"
NO_ONSET = -128
#: A province code: what its certificate's common name and the ``origin`` field hold.
PROVINCE = re.compile(r"[A-Za-z0-9-]{1,16}")  # use fullmatch
MAX_KEYS = 500_000
_KEY = struct.Struct(">16sIHBBb")


class BatchFormatError(ValueError):
    """The bytes are not a well-formed batch (the message says where)."""


@dataclass(frozen=True)
class FederatedKey:
    key: ExposureKey
    relevant_to: tuple[str, ...] = ()

    def relevant_for(self, province: str) -> bool:
        return not self.relevant_to or province in self.relevant_to


@dataclass(frozen=True)
class FederatedBatch:
    origin: str
    keys: tuple[FederatedKey, ...]


def _text(value: str) -> bytes:
    if not PROVINCE.fullmatch(value):
        raise BatchFormatError(f"province code {value!r} must be 1-16 of A-Z, a-z, 0-9 and '-'")
    raw = value.encode("ascii")
    return bytes([len(raw)]) + raw


def encode(origin: str, keys: list[FederatedKey]) -> bytes:
    """The canonical bytes: keys sorted by key bytes; a key twice is refused."""
    ordered = sorted(keys, key=lambda f: f.key.key_data)
    if len({f.key.key_data for f in ordered}) != len(ordered):
        raise BatchFormatError("the same key appears twice")
    out = bytearray(MAGIC + _text(origin) + struct.pack(">I", len(ordered)))
    for f in ordered:
        k = f.key
        dsos = NO_ONSET if k.days_since_onset_of_symptoms is None else k.days_since_onset_of_symptoms
        out += _KEY.pack(k.key_data, k.rolling_start_interval_number, k.rolling_period, k.transmission_risk_level,
                         int(k.report_type), dsos)
        relevant = sorted(set(f.relevant_to))
        out += bytes([len(relevant)]) + b"".join(_text(p) for p in relevant)
    return bytes(out)


def decode(data: bytes) -> FederatedBatch:
    """Parse and check canonical bytes; :class:`BatchFormatError` names the first problem."""
    view = memoryview(data)
    if bytes(view[:len(MAGIC)]) != MAGIC:
        raise BatchFormatError("not a federation batch (wrong magic)")
    pos = len(MAGIC)

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(view):
            raise BatchFormatError("the batch ends early")
        out = bytes(view[pos:pos + n])
        pos += n
        return out

    def text() -> str:
        raw = take(take(1)[0])
        value = raw.decode("ascii", "replace")
        if not PROVINCE.fullmatch(value):
            raise BatchFormatError("a province code is malformed")
        return value

    origin = text()
    (count,) = struct.unpack(">I", take(4))
    if not 1 <= count <= MAX_KEYS:
        raise BatchFormatError(f"a batch holds 1..{MAX_KEYS} keys, this one {count}")
    keys = []
    previous = b""
    for _ in range(count):
        key_data, start, period, risk, report_type, dsos = _KEY.unpack(take(_KEY.size))
        if key_data <= previous:
            raise BatchFormatError("keys are not sorted by key bytes or one appears twice")
        previous = key_data
        if not 1 <= period <= 144 or risk > 8:
            raise BatchFormatError("a key's rolling period or transmission risk is out of range")
        try:
            rt = ReportType(report_type)
        except ValueError:
            raise BatchFormatError(f"unknown report type {report_type}") from None
        relevant = tuple(text() for _ in range(take(1)[0]))
        if list(relevant) != sorted(set(relevant)):
            raise BatchFormatError("relevant provinces are not sorted or repeat")
        keys.append(FederatedKey(ExposureKey(key_data, start, period, risk, rt, None if dsos == NO_ONSET else dsos),
                                 relevant))
    if pos != len(view):
        raise BatchFormatError("bytes after the last key")
    return FederatedBatch(origin, tuple(keys))


def sign(data: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """ECDSA P-256 / SHA-256 over the canonical bytes, DER encoded."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify(data: bytes, signature: bytes, public_key: ec.EllipticCurvePublicKey) -> bool:
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
