"""The HMAC that binds an upload authorisation to the keys being uploaded.

GAEN verification protocol (google/exposure-notifications-verification-server,
``pkg/verification``): the device picks a random secret, computes
HMAC-SHA256 over a canonical text of its keys and sends only the HMAC when it
asks for a certificate. The certificate carries that HMAC (``tekmac``); at
publish time the server recomputes it from the keys and the secret. So a
certificate cannot be reused for other keys, and the verification step never
sees the keys. Device and server share this module so they cannot disagree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from .models import ExposureKey


def keys_cleartext(keys: Iterable[ExposureKey]) -> str:
    """``base64(key).rollingStart.rollingPeriod.transmissionRisk`` per key,
    sorted by the base64 key, joined with ``,``; the risk segment is left out
    of every entry when every key's transmission risk is 0 (3-segment form)."""
    keys = list(keys)
    with_risk = any(k.transmission_risk_level for k in keys)
    parts = []
    for k in keys:
        b64 = base64.b64encode(k.key_data).decode()
        seg = f"{b64}.{k.rolling_start_interval_number}.{k.rolling_period}"
        if with_risk:
            seg += f".{k.transmission_risk_level}"
        parts.append((b64, seg))
    parts.sort(key=lambda p: p[0])
    return ",".join(seg for _, seg in parts)


def keys_hmac(secret: bytes, keys: Iterable[ExposureKey]) -> bytes:
    """HMAC-SHA256(secret, cleartext) — 32 bytes."""
    return hmac.new(secret, keys_cleartext(keys).encode("ascii"), hashlib.sha256).digest()


def hmac_matches(secret: bytes, keys: Iterable[ExposureKey], expected: bytes) -> bool:
    """Constant-time comparison of the recomputed HMAC with ``expected``."""
    return hmac.compare_digest(keys_hmac(secret, keys), expected)
