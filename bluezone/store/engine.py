"""The device store's SQL engine: SQLite encrypted as a whole by SQLCipher.

Why whole-file encryption: sealing the secret columns (own keys, visits,
declarations) left everything else readable in a copy of the file — alert
tiers and text, exposure and isolate-until dates, risk windows, which keys
were uploaded and when, the time and signal of every sighting. SQLCipher
encrypts every page of the database and of its WAL (AES-256-CBC, each page
authenticated with HMAC-SHA512), so a copy of the files alone is random
bytes; the engine is SQLite itself, so WAL, several processes at once and
sqlite-utils work as before.

The key is the 32-byte store key file's subkey (see
:meth:`.secrets.AtRestCipher.database_key`), given to SQLCipher as a *raw*
key: the file key is already random, so SQLCipher's password stretching
(PBKDF2, 256,000 rounds) would only slow every open.

The binding is ``sqlcipher3`` (SQLCipher 4 and OpenSSL linked into a
manylinux wheel). Its exception classes are not :mod:`sqlite3`'s, so code
that catches database errors uses the tuples below.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from sqlcipher3 import dbapi2 as sqlcipher

#: SQLCipher 4's page size (the file is a whole number of these).
PAGE_SIZE = 4096
#: Error classes of both engines (the plain one reads stores made before encryption).
Error: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher.Error)
DatabaseError: tuple[type[Exception], ...] = (sqlite3.DatabaseError, sqlcipher.DatabaseError)
OperationalError: tuple[type[Exception], ...] = (sqlite3.OperationalError, sqlcipher.OperationalError)
#: SQLite's result code for "file is not a database": not SQLite, or another key.
SQLITE_NOTADB = 26

__all__ = ["DatabaseError", "Error", "OperationalError", "PAGE_SIZE", "connect", "connect_plain", "open_raw"]


def _raw_key_pragma(key: bytes) -> str:
    if len(key) != 32:
        raise ValueError("a SQLCipher raw key is 32 bytes")
    return f"PRAGMA key = \"x'{key.hex()}'\""


def connect(path: str | os.PathLike, key: bytes, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection to the encrypted database at ``path`` (created empty if
    absent). Nothing is read yet: a wrong key shows at the first query.

    ``secure_delete`` is on, so deleted rows are overwritten with zeros
    before the page is encrypted — a purge is gone even for someone holding
    the key (SQLCipher builds default to it; it is set here so a build that
    does not cannot turn it off)."""
    conn = sqlcipher.connect(str(path), isolation_level=None, timeout=timeout)
    conn.execute("PRAGMA cipher_log_level = NONE")  # else SQLCipher prints HMAC failures on stderr
    conn.execute(_raw_key_pragma(key))
    conn.execute("PRAGMA cipher_compatibility = 4")  # pin the format a future default may change
    conn.execute("PRAGMA secure_delete = ON")
    return cast(sqlite3.Connection, conn)


def connect_plain(path: str | os.PathLike, *, timeout: float = 30.0) -> Any:
    """SQLCipher's connection to an *unencrypted* file (no key): reads a
    store made before encryption, with ``sqlcipher_export`` to encrypt it."""
    conn = sqlcipher.connect(str(path), isolation_level=None, timeout=timeout)
    conn.execute("PRAGMA cipher_log_level = NONE")
    return conn


def attach_encrypted(conn: Any, path: Path, key: bytes, schema: str = "encrypted") -> None:
    """Attach a new encrypted database to ``conn`` (for ``sqlcipher_export``)."""
    conn.execute(f"ATTACH DATABASE ? AS {schema} KEY \"x'{key.hex()}'\"", [str(path)])


def open_raw(path: str | os.PathLike, key_file: str | os.PathLike | None = None) -> sqlite3.Connection:
    """A bare connection to an existing store with its key file, for tools and
    tests that look inside the file (the store's own API is
    :class:`~.device.DeviceStore`). The default key file is the store's."""
    from .secrets import AtRestCipher, default_key_file

    kf = Path(key_file) if key_file else default_key_file(Path(path))
    return connect(path, AtRestCipher.from_file(kf, create=False).database_key())


@contextlib.contextmanager
def immediate_transaction(conn: Any) -> Iterator[Any]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error: the write
    lock is taken at the start, so two writers never both read then clash at
    commit. For connections opened with ``isolation_level=None``."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
