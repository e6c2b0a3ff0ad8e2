"""Loading the authority's export signing keys (P-256) from PEM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import ExportError


def _pem_bytes(value: str | bytes | os.PathLike) -> bytes:
    if isinstance(value, bytes):
        return value
    text = str(value)
    if "-----BEGIN" in text:
        return text.encode()
    try:
        return Path(text).read_bytes()
    except OSError as e:
        raise ExportError(f"cannot read key file {text}: {e.strerror}") from None


def _check_curve(key: Any, what: str) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise ExportError(f"{what} is on curve {key.curve.name}, exports use P-256 (secp256r1)")


def load_public_key(value: Any) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a key object, PEM text/bytes or a .pem path
    (a private key is accepted too: its public half is used)."""
    if isinstance(value, ec.EllipticCurvePrivateKey):
        value = value.public_key()
    if isinstance(value, ec.EllipticCurvePublicKey):
        _check_curve(value, "public key")
        return value
    data = _pem_bytes(value)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise ExportError("public key is not a PEM-encoded EC key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ExportError("public key is not an elliptic-curve (P-256) key")
    _check_curve(key, "public key")
    return key


def load_private_key(value: Any) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a key object, PEM text/bytes or a .pem path."""
    if isinstance(value, ec.EllipticCurvePrivateKey):
        _check_curve(value, "signing key")
        return value
    try:
        key = serialization.load_pem_private_key(_pem_bytes(value), password=None)
    except (ValueError, TypeError):
        raise ExportError("signing key is not an unencrypted PEM-encoded EC private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ExportError("signing key is not an elliptic-curve (P-256) key")
    _check_curve(key, "signing key")
    return key
