"""Curve25519 keys written as base64 text (config values, key files).

The declaration key and the venue-tracing key are both 32-byte X25519 keys
that people copy between files; one parser gives both the same checks and
messages. Callers pass their own error type so the message reaches the
person through the error handling they already have.
"""

from __future__ import annotations

import base64
import binascii

KEY_BYTES = 32


def decode_key32(text: str, what: str, error: type[Exception] = ValueError) -> bytes:
    """Base64 text → exactly 32 bytes, or ``error`` naming ``what``."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise error(f"{what} must be {KEY_BYTES} bytes (Curve25519), got {len(raw)}")
    return raw
