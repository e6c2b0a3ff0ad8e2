"""Look at an existing store file before SQLite writes anything to it.

Opening a database in WAL mode, migrating it or purging it all write. A
file that is not a SQLite database (random bytes, another program's file),
one cut short (a truncated copy or download), or one from a newer Bluezone
must be refused *before* any of that, so the attempt leaves it byte for
byte as it was. The checks read only the 100-byte SQLite header and the
file size (https://www.sqlite.org/fileformat.html#the_database_header), so
they cost nothing on every open. An encrypted store's header is ciphertext,
so only its size is judged here; the rest once the key opens it. Damage deeper inside the file is caught
where SQLite reports it (``sqlite3.DatabaseError``, turned into
:class:`~.errors.StoreError` by the store and the commands).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..i18n import _
from .errors import StoreError, damaged_message, newer_message

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100


def page_size_of(header: bytes) -> int:
    raw = int.from_bytes(header[16:18], "big")
    return 65536 if raw == 1 else raw


def is_plaintext(path: Path) -> bool:
    """Whether ``path`` starts like an unencrypted SQLite file (a store made
    before whole-file encryption, to be encrypted on open)."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def check_existing(path: Path, known_version: int) -> int | None:
    """Refuse ``path`` unless it looks like a whole store of a schema version
    up to ``known_version``. An empty file passes (a store being created,
    version 0).

    An unencrypted store (made before whole-file encryption) is judged by
    its header as always, and its ``PRAGMA user_version`` is returned. An
    encrypted store's header is ciphertext: only its size can be judged
    here (a whole number of SQLCipher pages), and None is returned; the
    version, and damage, are found once the key opens it."""
    with open(path, "rb") as f:
        header = f.read(HEADER_SIZE)
        size = os.fstat(f.fileno()).st_size
    if size == 0:
        return 0
    if not header.startswith(MAGIC):
        _check_encrypted(path, size)
        return None
    if len(header) < HEADER_SIZE:
        raise StoreError(damaged_message(path, _("not a SQLite database")))
    page_size = page_size_of(header)
    if page_size < 512 or page_size & (page_size - 1):
        raise StoreError(damaged_message(path, _("damaged header")))
    pages = int.from_bytes(header[28:32], "big")
    # The in-header page count is trusted only when its "valid for" counter
    # matches the change counter (as SQLite does). With a WAL file beside it
    # the store may be open in another process, whose checkpoint writes page
    # 1 before it appends the last pages: the size is then not conclusive,
    # and SQLite (which reads the WAL) is left to judge.
    count_valid = header[24:28] == header[92:96]
    in_use = Path(f"{path}-wal").exists()
    if not in_use and (size % page_size or (count_valid and size < pages * page_size)):
        raise StoreError(damaged_message(path, _("the file is cut short")))
    version = int.from_bytes(header[60:64], "big", signed=True)
    if version > known_version:
        raise StoreError(newer_message(path, version, known_version))
    if version < 0:
        raise StoreError(damaged_message(path, _("damaged header")))
    return version


def _check_encrypted(path: Path, size: int) -> None:
    from .engine import PAGE_SIZE

    in_use = Path(f"{path}-wal").exists()  # as above: a checkpoint may be under way
    if size < PAGE_SIZE or (not in_use and size % PAGE_SIZE):
        raise StoreError(damaged_message(path, _("the file is cut short")))
