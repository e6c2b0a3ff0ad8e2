"""Compact ES256 JSON Web Signatures, for verification certificates.

The GAEN verification protocol hands the device a certificate: an ES256 JWT
carrying the HMAC of its keys. Only this server issues and checks them, so a
small, strict implementation (one algorithm, no ``alg`` negotiation, no
``none``) built on ``cryptography`` is safer than a general JWT library.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

_HEADER = {"alg": "ES256", "typ": "JWT"}


class JWSError(Exception):
    """Malformed or forged token."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise JWSError(f"bad base64url: {e}") from None


def sign(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str = "") -> str:
    header = dict(_HEADER, **({"kid": kid} if kid else {}))
    signing_input = f"{_b64(json.dumps(header, separators=(',', ':')).encode())}." \
                    f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify(token: str, key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The claims of a token signed by ``key``; raises :class:`JWSError`."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 4096:
        raise JWSError("not a compact JWS")
    head, body, sig = token.split(".")
    try:
        header = json.loads(_unb64(head))
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as e:
        raise JWSError(f"bad JSON: {e}") from None
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise JWSError("only ES256 is accepted")
    raw = _unb64(sig)
    if len(raw) != 64:
        raise JWSError("bad signature length")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise JWSError("signature does not verify") from None
    if not isinstance(claims, dict):
        raise JWSError("claims are not an object")
    return claims
