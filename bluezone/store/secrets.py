"""The at-rest encryption key of a device store, kept apart from the database.

The database file is encrypted as a whole (SQLCipher, see ``engine.py``) and
the most secret columns (own keys, visits, declarations) are sealed again
inside it; the 32-byte key behind both lives in a separate key file,
mode 0600, in a key directory (``$BLUEZONE_KEY_DIR``, default
``~/.config/bluezone/keys``). A copy of the database alone — a backup, a
synced folder, a forensic image of the data partition — reveals no secret.
On a phone this file's role is played by the platform keystore (Android
Keystore, iOS Keychain). See ``docs/store.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import nacl.exceptions
import nacl.secret
import nacl.utils

from ..i18n import Message, _


class StoreKeyError(Exception):
    """The store's key file is missing, unreadable, or does not open the data."""


def default_key_dir() -> Path:
    env = os.environ.get("BLUEZONE_KEY_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "bluezone" / "keys"


def default_key_file(db_path: Path) -> Path:
    """A key file named after the database's absolute path, in the key directory."""
    digest = hashlib.sha256(str(Path(db_path).resolve()).encode()).hexdigest()[:20]
    return default_key_dir() / f"store-{digest}.key"


def missing_key_message(key_file: Path) -> Message:
    """One line (in the deployment's languages): what is missing, where keys
    are looked for, and what to do. A store copied or moved to another path
    (or machine) is the usual case: its key is named after the old path."""
    return _("the store's key file {path} is missing. Store keys are kept in the key folder {folder} "
             "(set BLUEZONE_KEY_DIR to use another), named after the store's full path: if this store was "
             "copied or moved, copy its key file from the old key folder to {path}; otherwise restore it "
             "from your backup (or set the phone up again with 'bluezone init' and a new store)",
             path=key_file, folder=key_file.parent)


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class AtRestCipher:
    """XSalsa20-Poly1305 (libsodium secretbox) with the store's key."""

    def __init__(self, key: bytes):
        if len(key) != nacl.secret.SecretBox.KEY_SIZE:
            raise StoreKeyError(_("the store key file is corrupt (wrong length)"))
        self._box = nacl.secret.SecretBox(key)
        # A separate subkey for tags, so the sealing key is never used as a MAC key.
        self._tag_key = hashlib.blake2b(key, digest_size=32, person=b"bluezone-tags").digest()
        # And one for SQLCipher, which encrypts the whole file (see engine.py).
        self._database_key = hashlib.blake2b(key, digest_size=32, person=b"bluezone-dbfile").digest()

    @classmethod
    def from_file(cls, key_file: Path, create: bool) -> "AtRestCipher":
        """The cipher of ``key_file``; a new random key only when ``create``.

        The store passes ``create`` only for a database it is creating right
        now: a new key for an existing store would split it in two (old
        secrets unreadable, new ones sealed with the new key)."""
        key_file = Path(key_file)
        if not key_file.exists():
            if not create:
                raise StoreKeyError(missing_key_message(key_file))
            write_private_file(key_file, nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))
        try:
            return cls(key_file.read_bytes())
        except OSError as e:
            raise StoreKeyError(_("cannot read the store key file {path}: {reason}", path=key_file,
                                  reason=e.strerror)) from None

    def database_key(self) -> bytes:
        """The 32-byte raw SQLCipher key of the database file (a subkey, so
        the sealing key itself is never handed to another library)."""
        return self._database_key

    def tag(self, data: bytes) -> bytes:
        """A keyed digest (HMAC-SHA256) of ``data``: equal inputs give equal
        tags, yet a copy of the database alone cannot test a guess (the
        matching bookkeeping stores tags of published keys this way)."""
        return hmac.new(self._tag_key, data, hashlib.sha256).digest()

    def seal(self, plaintext: bytes) -> bytes:
        return bytes(self._box.encrypt(plaintext))

    def open(self, ciphertext: bytes) -> bytes:
        try:
            return bytes(self._box.decrypt(ciphertext))
        except nacl.exceptions.CryptoError:
            raise StoreKeyError(WRONG_KEY_MESSAGE) from None

    def check_value(self) -> str:
        """A value the store keeps to recognise its key at open (a keyed tag
        of a constant: it reveals nothing about the key)."""
        return self.tag(b"bluezone store key check v1").hex()


WRONG_KEY_MESSAGE = _("stored data does not open with this store's key file (another store's key?): "
                      "restore the right key file")
