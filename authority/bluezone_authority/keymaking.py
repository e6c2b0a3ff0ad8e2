"""The three key pairs of a deployment, each made into a folder.

A province needs three pairs, each with its own job and its own keeper:

* **export signing** (P-256, PEM): the server signs every key export; phones
  check the signature with the public half in their deployment file.
* **declarations** (X25519, base64): phones seal health declarations to the
  public half; the private half opens them offline at the authority, never
  on the server.
* **venue authority** (X25519, base64): venue posters carry the authority's
  half of each venue's master key sealed to it; the server keeps the secret
  half to take part in a venue trace.

Every maker writes the private half with mode 0600 and refuses to overwrite
an existing file, since a replaced key breaks every phone or poster that
trusted the old one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import nacl.public

from bluezone.i18n import _

EXPORT_PRIVATE = "export-signing.pem"
EXPORT_PUBLIC = "export-signing.pub.pem"
DECLARATIONS_PRIVATE = "declarations.key"
DECLARATIONS_PUBLIC = "declarations.pub"
VENUE_PRIVATE = "venue-authority.key"
VENUE_PUBLIC = "venue-authority.pub"


class KeyMakingError(Exception):
    """A key file exists already, or the folder cannot be written; the message says which."""


@dataclass(frozen=True)
class MadeKeys:
    """Where a pair went; ``public_text`` is what a deployment file holds
    (a file name for the PEM export key, base64 text for the X25519 keys)."""

    private: Path
    public: Path
    public_text: str


def _refuse_existing(*paths: Path) -> None:
    for p in paths:
        if p.exists():
            raise KeyMakingError(str(_("{path} exists; refusing to overwrite a key", path=p)))


def _write_private(path: Path, content: str) -> None:
    from .server.keys import write_private_file

    try:
        write_private_file(path, content)
    except OSError as e:
        raise KeyMakingError(str(_("cannot write {path}: {reason}", path=path, reason=e.strerror or e))) from None


def make_export_keys(folder: Path) -> MadeKeys:
    """``export-signing.pem`` (private, 0600) and ``export-signing.pub.pem``."""
    from .server.keys import new_p256, private_pem, public_pem

    private, public = folder / EXPORT_PRIVATE, folder / EXPORT_PUBLIC
    _refuse_existing(private, public)
    key = new_p256()
    _write_private(private, private_pem(key))
    public.write_text(public_pem(key), encoding="ascii")
    return MadeKeys(private, public, public.name)


def _make_x25519(folder: Path, private_name: str, public_name: str) -> MadeKeys:
    private, public = folder / private_name, folder / public_name
    _refuse_existing(private, public)
    key = nacl.public.PrivateKey.generate()
    _write_private(private, base64.b64encode(bytes(key)).decode() + "\n")
    public_b64 = base64.b64encode(bytes(key.public_key)).decode()
    public.write_text(public_b64 + "\n", encoding="ascii")
    return MadeKeys(private, public, public_b64)


def make_declaration_keys(folder: Path) -> MadeKeys:
    """``declarations.key`` (private, kept offline) and ``declarations.pub`` (base64)."""
    return _make_x25519(folder, DECLARATIONS_PRIVATE, DECLARATIONS_PUBLIC)


def make_venue_keys(folder: Path) -> MadeKeys:
    """``venue-authority.key`` (private, the server's) and ``venue-authority.pub`` (base64)."""
    return _make_x25519(folder, VENUE_PRIVATE, VENUE_PUBLIC)


def x25519_public_of(private_file: Path) -> str:
    """The base64 public half of a base64 X25519 private key file (for cross-checks)."""
    raw = base64.b64decode(private_file.read_text().strip(), validate=True)
    return base64.b64encode(bytes(nacl.public.PrivateKey(raw).public_key)).decode()
