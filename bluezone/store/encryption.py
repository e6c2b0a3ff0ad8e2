"""Encrypt a store made before whole-file encryption, on its first open.

A store written by an earlier Bluezone is a plain SQLite file. The first
open by this version encrypts it (with SQLCipher's ``sqlcipher_export``)
into a new file beside it and swaps the new file in with one atomic
``rename``; so a crash at any instant leaves either the old plain store or
the new encrypted one, both usable, and the next open finishes the job.

Steps, and what a crash after each leaves:

1. Take an exclusive ``flock`` on the file (two commands opening the store
   at once: the second waits, then finds it encrypted), fold the WAL into
   the file and leave WAL mode, so the plain store is one self-contained
   file. *Crash: a plain store (the next open starts again).*
2. Export everything into ``<store>.encrypting``, check it, fsync it.
   *Crash: a plain store and a stale half-export, removed next time.*
3. Hard-link the plain file to ``<store>.plaintext`` and rename the
   encrypted file over the store. *Crash: the encrypted store, and the
   plain copy under the second name.*
4. Overwrite the plain copy with zeros, fsync, unlink it (also done on every
   open that finds one left by a crash). On a flash or copy-on-write file
   system the old blocks may survive the overwrite; only the platform's
   full-disk encryption covers those.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..i18n import _
from . import engine, header
from .errors import StoreError, from_sqlite

#: The two side files the steps use, as suffixes of the store's name.
EXPORT_SUFFIX = ".encrypting"
PLAINTEXT_SUFFIX = ".plaintext"


def _stage(name: str) -> None:
    """Called after each step; the crash tests replace it to kill the process there."""


def export_path(path: Path) -> Path:
    return path.with_name(path.name + EXPORT_SUFFIX)


def plaintext_path(path: Path) -> Path:
    return path.with_name(path.name + PLAINTEXT_SUFFIX)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def wipe_leftovers(path: Path) -> None:
    """Remove what an interrupted encryption left beside ``path``: the
    half-export, and the plain copy (zeroed first, unless it is still the
    store itself, i.e. the crash came before the swap)."""
    partial = export_path(path)
    for leftover in (partial, Path(f"{partial}-journal"), Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    plain = plaintext_path(path)
    # Another process finishing the same job may remove the file under us:
    # every step tolerates it (zeroing it twice is harmless).
    with contextlib.suppress(FileNotFoundError):
        if not (path.exists() and os.path.samefile(plain, path)):
            with open(plain, "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                chunk = b"\0" * 65536
                for offset in range(0, size, len(chunk)):
                    f.write(chunk[: min(len(chunk), size - offset)])
                f.flush()
                os.fsync(f.fileno())
        plain.unlink()


def finish_interrupted(path: Path) -> None:
    """Clean up after an encryption that a crash interrupted (cheap when
    there is nothing: two ``stat`` calls). Under the lock, so a migration
    under way in another process is not disturbed."""
    if not (export_path(path).exists() or plaintext_path(path).exists()):
        return
    with _exclusive(path):
        wipe_leftovers(path)


def encrypt_plain_store(path: Path, key: bytes, check: Callable[[object], None] = lambda conn: None) -> bool:
    """Encrypt the plain store at ``path`` with the raw SQLCipher ``key``;
    False when another process did it first. ``check(conn)`` runs on the
    plain store before anything is written (the key check: a plain store is
    never encrypted with another store's key)."""
    with _exclusive(path):
        if not header.is_plaintext(path):
            return False  # encrypted while we waited
        wipe_leftovers(path)  # a half-export from a crash
        old_umask = os.umask(0o077)
        try:
            _encrypt_locked(path, key, check)
        except engine.Error as e:
            raise from_sqlite(path, e) from None
        finally:
            os.umask(old_umask)
    wipe_leftovers(path)
    _stage("wiped")
    return True


def _encrypt_locked(path: Path, key: bytes, check: Callable[[object], None]) -> None:
    conn = engine.connect_plain(path)
    try:
        check(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if mode != "delete":
            raise StoreError(_("{path} is in use by another Bluezone command; try again in a moment", path=path))
        _stage("plain-checkpointed")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        target = export_path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        engine.attach_encrypted(conn, target, key)
        conn.execute("SELECT sqlcipher_export('encrypted')")
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    check_conn = engine.connect(target, key)
    try:
        if check_conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise StoreError(_("encrypting {path} failed its integrity check; the unencrypted store was kept",
                               path=path))
        check_conn.execute("PRAGMA journal_mode=WAL")
    finally:
        check_conn.close()
    _fsync(target)
    _stage("exported")
    Path(f"{path}-shm").unlink(missing_ok=True)  # the plain store's WAL index, if SQLite left it
    os.link(path, plaintext_path(path))
    os.replace(target, path)
    _fsync(path.parent)
    _stage("swapped")
