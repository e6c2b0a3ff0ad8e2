"""Signed files of generic published feeds (anything but the GAEN ``keys`` feed).

The ``keys`` feed publishes GAEN export.zip files (:mod:`bluezone.export`).
Other feeds — the check-in plugin's ``venue-traces`` — publish opaque
payloads signed the same way: ECDSA P-256 over SHA-256 of the whole payload,
DER encoded, with the deployment's export key. The file is a zip of
``payload.bin`` and ``payload.sig`` (``key_id`` and ``key_version`` in
``payload.sig`` as one JSON line before the base64 signature), so a device
checks it with the same public keys it uses for key exports.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .models import BadBatch

MAX_FEED_FILE = 64 * 1024 * 1024


class FeedError(BadBatch):
    """A feed file is malformed or its signature does not verify."""


@dataclass(frozen=True, slots=True)
class SignedPayload:
    payload: bytes
    key_id: str
    key_version: str


def sign_payload(payload: bytes, private_key: ec.EllipticCurvePrivateKey, *, key_id: str,
                 key_version: str = "v1") -> bytes:
    """A zip of ``payload.bin`` and ``payload.sig`` (deterministic zip metadata)."""
    sig = private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    meta = json.dumps({"key_id": key_id, "key_version": key_version, "algorithm": "1.2.840.10045.4.3.2"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("payload.bin", payload), ("payload.sig", f"{meta}\n{base64.b64encode(sig).decode()}\n".encode())):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def _load_public(pem: Any) -> ec.EllipticCurvePublicKey:
    if isinstance(pem, ec.EllipticCurvePublicKey):
        return pem
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise FeedError("export public key is not an EC key")
    return key


def open_payload(data: bytes, public_keys: list[dict[str, str]] | None = None) -> SignedPayload:
    """Check a feed file and return its payload.

    ``public_keys`` is ``[{key_id, key_version, pem}]`` as returned by
    :meth:`bluezone.config.Config.export_public_keys`; ``None`` skips the
    signature check (only for inspection tools). Raises :class:`FeedError`.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = sorted(zf.namelist())
            if names != ["payload.bin", "payload.sig"]:
                raise FeedError(f"feed file must hold payload.bin and payload.sig, found {names}")
            for info in zf.infolist():
                if info.file_size > MAX_FEED_FILE:
                    raise FeedError(f"{info.filename} is too large")
            payload = zf.read("payload.bin")
            sig_text = zf.read("payload.sig").decode()
    except FeedError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, UnicodeDecodeError, EOFError, ValueError,
            NotImplementedError, RuntimeError, OSError, KeyError) as e:  # a damaged zip can raise any of these
        raise FeedError(f"not a feed file: {e}") from None
    try:
        meta_line, sig_line = sig_text.strip().split("\n")
        meta = json.loads(meta_line)
        signature = base64.b64decode(sig_line, validate=True)
        key_id, key_version = str(meta["key_id"]), str(meta.get("key_version", "v1"))
    except (ValueError, KeyError, TypeError) as e:
        raise FeedError(f"malformed payload.sig: {e}") from None
    if public_keys is not None:
        candidates = [k for k in public_keys if k["key_id"] == key_id and k.get("key_version", "v1") == key_version]
        if not candidates:
            raise FeedError(f"no trusted key {key_id}/{key_version}")
        for entry in candidates:
            try:
                _load_public(entry["pem"]).verify(signature, payload, ec.ECDSA(hashes.SHA256()))
                break
            except InvalidSignature:
                continue
        else:
            raise FeedError("signature does not verify")
    return SignedPayload(payload, key_id, key_version)
