"""Sealing declarations to the health authority (libsodium sealed box).

The device seals with ``crypto_box_seal`` to the authority's Curve25519
declaration key (config ``[authority] declaration_public_key``, base64). A
sealed box uses a fresh ephemeral key per message, so the device cannot open
its own declaration after sealing, and the server, which never holds the
private key, stores ciphertext it cannot read (docs/privacy.md rule 7). Only
the authority's offline tools (:mod:`.authority`) open it.

Key files: the private key is 32 bytes written base64 on one line, mode
0600; the public key is printed base64 for the deployment's TOML.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.public

from ..i18n import _
from ..keytext import decode_key32
from ..store.secrets import write_private_file
from .declaration import MAX_PLAINTEXT, PAD_BLOCK, Declaration

#: crypto_box_SEALBYTES: ephemeral public key (32) + MAC (16).
SEAL_OVERHEAD = nacl.bindings.crypto_box_SEALBYTES


class SealError(Exception):
    """A key is malformed, or a sealed declaration does not open with it."""


def _b64_key(text: str, what: str) -> bytes:
    return decode_key32(text, what, SealError)


def public_key_from_b64(text: str) -> nacl.public.PublicKey:
    """The authority's declaration key as written in the deployment TOML."""
    return nacl.public.PublicKey(_b64_key(text, "declaration_public_key"))


def public_key_from_config(config) -> nacl.public.PublicKey:
    value = config.typed("authority").declaration_public_key
    if not value:
        raise SealError(_("the deployment has no [authority] declaration_public_key; declarations cannot be sealed"))
    return public_key_from_b64(value)


def load_private_key(path: str | os.PathLike) -> nacl.public.PrivateKey:
    """Read the authority's private key file (base64 text, or 32 raw bytes)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise SealError(f"cannot read key file {p}: {e.strerror}") from None
    if len(data) == 32:
        return nacl.public.PrivateKey(data)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SealError(f"{p} is not a declaration key file") from None
    return nacl.public.PrivateKey(_b64_key(text, f"key file {p}"))


@dataclass(frozen=True)
class KeyPair:
    private_key: nacl.public.PrivateKey

    @property
    def public_b64(self) -> str:
        return base64.b64encode(bytes(self.private_key.public_key)).decode()

    @classmethod
    def generate(cls) -> "KeyPair":
        return cls(nacl.public.PrivateKey.generate())

    def write_private(self, path: str | os.PathLike) -> None:
        """Write the private key, mode 0600, refusing to overwrite a key."""
        p = Path(path)
        if p.exists():
            raise SealError(f"{p} exists; refusing to overwrite a key")
        write_private_file(p, base64.b64encode(bytes(self.private_key)) + b"\n")


def seal_plaintext(plaintext: bytes, public_key: nacl.public.PublicKey) -> bytes:
    return bytes(nacl.public.SealedBox(public_key).encrypt(plaintext))


def seal(declaration: Declaration, public_key: nacl.public.PublicKey, block: int = PAD_BLOCK) -> bytes:
    """The sealed, padded declaration: what leaves the device."""
    return seal_plaintext(declaration.to_plaintext(block), public_key)


def open_plaintext(sealed: bytes, private_key: nacl.public.PrivateKey) -> bytes:
    if len(sealed) < SEAL_OVERHEAD + 8 or len(sealed) > MAX_PLAINTEXT + SEAL_OVERHEAD:
        raise SealError(f"not a sealed declaration ({len(sealed)} bytes)")
    try:
        return bytes(nacl.public.SealedBox(private_key).decrypt(sealed))
    except nacl.exceptions.CryptoError:
        raise SealError("does not open with this key (wrong key, or corrupted)") from None


def open_sealed(sealed: bytes, private_key: nacl.public.PrivateKey) -> Declaration:
    """Open and parse; raises :class:`SealError` or ``DeclarationFormatError``."""
    return Declaration.from_plaintext(open_plaintext(sealed, private_key))
