"""The server's secrets: how they are made, kept and loaded.

* ``code_key`` (32 random bytes): HMAC key for stored verification codes, so
  a stolen database does not reveal live codes.
* ``certificate_key`` (P-256): signs verification certificates.
* The export signing key (P-256) signs published batches. It normally comes
  from ``[server] signing_key`` (a PEM the province manages, whose public half
  ships in every device's config); when unset, one is generated into the
  secrets file (development and tests).

The secrets file is JSON, mode 0600, created on first start.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.i18n import _


@dataclass(frozen=True)
class ServerKeys:
    code_key: bytes
    certificate_key: ec.EllipticCurvePrivateKey
    export_key: ec.EllipticCurvePrivateKey

    def export_public_pem(self) -> str:
        return public_pem(self.export_key)


def new_p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _load_private(pem: str | bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(_("the key must be an EC P-256 private key"))
    return key


def write_private_file(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 and ``text`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_or_create(secrets_file: Path, signing_key: Path | None) -> ServerKeys:
    if secrets_file.exists():
        data = json.loads(secrets_file.read_text())
    else:
        data = {"code_key": base64.b64encode(secrets.token_bytes(32)).decode(),
                "certificate_key": private_pem(new_p256())}
        if signing_key is None:
            data["export_key"] = private_pem(new_p256())
        write_private_file(secrets_file, json.dumps(data, indent=1))
    if signing_key is not None:
        export_key = _load_private(Path(signing_key).read_bytes())
    else:
        if "export_key" not in data:
            data["export_key"] = private_pem(new_p256())
            write_private_file(secrets_file, json.dumps(data, indent=1))
        export_key = _load_private(data["export_key"])
    return ServerKeys(base64.b64decode(data["code_key"]), _load_private(data["certificate_key"]), export_key)
