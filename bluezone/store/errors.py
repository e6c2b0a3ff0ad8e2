"""The device store's refusals, each one line (in the deployment's languages).

A person meets these from every command that opens a store (``status``,
``sync``, check-in, trace, declare), so each says what happened, that the
file was left alone, and what to do next.
"""

from __future__ import annotations

from pathlib import Path

from ..i18n import Message, _


class StoreError(Exception):
    """The store cannot be opened or a write was refused."""


def damaged_message(path: Path | str, detail: str | Message) -> Message:
    return _("{path} is not a usable Bluezone device store ({detail}); it was left as it is: restore it from a "
             "backup, or set up a new store with 'bluezone init'", path=path, detail=detail)


def unopenable_message(path: Path | str) -> Message:
    """An encrypted file the key file does not open. SQLCipher cannot tell
    which it is (both fail the first page's check), so the line says both."""
    return _("{path} is not a usable Bluezone device store with this key file (not a SQLite database, damaged, "
             "or encrypted with another store's key); it was left as it is: restore the right key file, or "
             "restore it from a backup, or set up a new store with 'bluezone init'", path=path)


def newer_message(path: Path | str, found: int | str, known: int | str) -> Message:
    return _("{path} has schema version {found}, newer than this Bluezone knows ({known}); it was left as it is: "
             "upgrade Bluezone", path=path, found=found, known=known)


def from_sqlite(path: Path | str, exc: BaseException) -> StoreError:
    """A :class:`StoreError` for an error SQLite raised on ``path``: a busy
    store is not a damaged one, so the person is not told to restore it."""
    from .engine import OperationalError

    text = str(exc)
    if isinstance(exc, OperationalError) and ("locked" in text or "busy" in text):
        return StoreError(_("{path} is in use by another Bluezone command; try again in a moment", path=path))
    if isinstance(exc, OperationalError) and "unable to open" in text:
        return StoreError(_("cannot open {path} ({detail}); check that the file and its folder are yours and "
                            "writable", path=path, detail=text))
    return StoreError(damaged_message(path, text))
