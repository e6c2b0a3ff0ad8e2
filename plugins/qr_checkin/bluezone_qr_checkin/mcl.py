"""BLS12-381 through pymcl, with mcl's own conventions made explicit.

CrowdNotifier's reference (libcrowdnotifier) uses mcl-wasm, so its bytes are
mcl's default serialization and mcl's hash-to-curve, not the IETF/zcash
formats. pymcl wraps the same C++ mcl, so ``G1.hash`` and ``serialize`` already
agree byte for byte (checked against the interop vectors). What pymcl lacks is
``Fr.setHashOf``; :func:`fr_set_hash_of` reproduces it.
"""

from __future__ import annotations

import hashlib

import pymcl
from pymcl import G1, G2, GT, Fr, g2, pairing

__all__ = ["G1", "G2", "GT", "Fr", "g2", "pairing", "fr_set_hash_of", "h1", "load_g1", "load_g2",
           "load_fr", "CryptoFormatError", "ORDER"]

ORDER = pymcl.r
_MASK_255 = (1 << 255) - 1
_MASK_254 = (1 << 254) - 1
_MINUS_ONE = Fr(str(ORDER - 1))


class CryptoFormatError(ValueError):
    """Bytes that should hold a group element or scalar do not."""


def fr_set_hash_of(data: bytes) -> Fr:
    """mcl's ``Fr.setHashOf``: SHA-256 read little-endian, masked to 255 bits,
    and to 254 bits when still not below the group order (no reduction)."""
    x = int.from_bytes(hashlib.sha256(data).digest(), "little") & _MASK_255
    if x >= ORDER:
        x &= _MASK_254
    return Fr.deserialize(x.to_bytes(32, "little"))


def h1(identity: bytes) -> G1:
    """mcl ``hashAndMapToG1`` in map-to mode 0 (not IETF hash-to-curve)."""
    return G1.hash(identity)


def _in_subgroup(point: G1 | G2) -> bool:
    # P·(r−1) == −P holds exactly when the order of P divides r.
    return point * _MINUS_ONE == -point  # type: ignore[operator]  # same group on both sides


def _load_point(group: type, size: int, data: bytes, what: str, curve: str):
    """Deserialize a non-zero point of prime order, or raise :class:`CryptoFormatError`."""
    if len(data) != size:
        raise CryptoFormatError(f"{what} must be {size} bytes, got {len(data)}")
    try:
        point = group.deserialize(bytes(data))  # type: ignore[attr-defined]  # G1 or G2
    except ValueError:
        raise CryptoFormatError(f"{what} is not a point on {curve}") from None
    if point.is_zero() or not _in_subgroup(point):
        raise CryptoFormatError(f"{what} is zero or not in the prime-order subgroup")
    return point


def load_g1(data: bytes, what: str = "G1 point") -> G1:
    """A G1 point (48 bytes, mcl form) checked to be non-zero and of prime order."""
    return _load_point(G1, 48, data, what, "BLS12-381")


def load_g2(data: bytes, what: str = "G2 point") -> G2:
    """A G2 point (96 bytes, mcl form) checked to be non-zero and of prime order."""
    return _load_point(G2, 96, data, what, "BLS12-381 G2")


def load_fr(data: bytes, what: str = "scalar") -> Fr:
    """Deserialize a non-zero scalar (32 bytes little-endian, below the order)."""
    if len(data) != 32:
        raise CryptoFormatError(f"{what} must be 32 bytes, got {len(data)}")
    try:
        value = Fr.deserialize(bytes(data))
    except ValueError:
        raise CryptoFormatError(f"{what} is not below the group order") from None
    if value.is_zero():
        raise CryptoFormatError(f"{what} is zero")
    return value
