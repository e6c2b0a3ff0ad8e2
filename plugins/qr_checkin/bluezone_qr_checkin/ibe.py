"""Identity-based encryption for visit records (CrowdNotifier's Boneh–Franklin
style scheme with the Fujisaki–Okamoto transform, as in libcrowdnotifier).

Why IBE: a visitor encrypts each hour of a visit to the venue's *identity for
that hour* under the venue's master public key. Nobody — not the venue, not
the authority — can decrypt until both have contributed their half of the
master secret for that identity (a trace). The key ``sk_id`` opens exactly
that hour at exactly that venue, so publishing it reveals nothing to others.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import nacl.exceptions
import nacl.secret

from .mcl import G1, G2, CryptoFormatError, Fr, fr_set_hash_of, g2, h1, load_g1, load_g2, pairing

NONCE_LENGTH = 24


@dataclass(frozen=True, slots=True)
class IbeCiphertext:
    """``c1`` (G2, 96 B), ``c2`` (32 B), ``c3`` (secretbox, MAC ‖ data), ``nonce`` (24 B)."""

    c1: bytes
    c2: bytes
    c3: bytes
    nonce: bytes

    def problems(self) -> list[str]:
        out = []
        if len(self.c1) != 96:
            out.append("c1 must be 96 bytes")
        if len(self.c2) != 32:
            out.append("c2 must be 32 bytes")
        if len(self.nonce) != NONCE_LENGTH:
            out.append("nonce must be 24 bytes")
        if len(self.c3) < nacl.secret.SecretBox.MACBYTES:
            out.append("c3 is shorter than a MAC")
        return out


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _gt_hash(value) -> bytes:
    return hashlib.sha256(value.serialize()).digest()


def keygen() -> tuple[G2, Fr]:
    """A fresh master key pair ``(mpk = g2·msk, msk)``."""
    msk = Fr.random()
    return g2 * msk, msk


def key_derive(msk: Fr, identity: bytes) -> G1:
    """``sk_id = H1(id)·msk`` (a partial key when ``msk`` is one party's share)."""
    return h1(identity) * msk


def encrypt(mpk: G2, identity: bytes, message: bytes, *, _x: bytes | None = None,
            _nonce: bytes | None = None) -> IbeCiphertext:
    """Encrypt ``message`` to ``identity`` under ``mpk``."""
    x = _x if _x is not None else os.urandom(32)
    r = fr_set_hash_of(x + identity + message)
    c1 = g2 * r
    c2 = _xor(x, _gt_hash(pairing(h1(identity), mpk) ** r))
    nonce = _nonce if _nonce is not None else os.urandom(NONCE_LENGTH)
    c3 = nacl.secret.SecretBox(hashlib.sha256(x).digest()).encrypt(message, nonce).ciphertext
    return IbeCiphertext(c1.serialize(), c2, bytes(c3), nonce)


def decrypt(identity: bytes, sk_id: G1, ct: IbeCiphertext) -> bytes | None:
    """The message, or ``None`` when ``sk_id`` is not the key of this ciphertext.

    A wrong key is the normal case while matching (most traces are other
    venues), so it is a ``None``, not an exception. Malformed ciphertexts raise
    :class:`~.mcl.CryptoFormatError`.
    """
    if ct.problems():
        raise CryptoFormatError("; ".join(ct.problems()))
    c1 = load_g2(ct.c1, "c1")
    x = _xor(ct.c2, _gt_hash(pairing(sk_id, c1)))
    try:
        message = nacl.secret.SecretBox(hashlib.sha256(x).digest()).decrypt(ct.c3, ct.nonce)
    except nacl.exceptions.CryptoError:
        return None
    if g2 * fr_set_hash_of(x + identity + message) != c1:
        return None
    return bytes(message)


def load_secret_key(data: bytes) -> G1:
    """A published ``sk_id`` checked for format, order and non-zero."""
    return load_g1(data, "secretKeyForIdentity")
