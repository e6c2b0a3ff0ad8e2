"""The device store's refusals, each one line in English then Vietnamese.

A person meets these from every command that opens a store (``status``,
``sync``, check-in, trace, declare), so each says what happened, that the
file was left alone, and what to do next.
"""

from __future__ import annotations

from pathlib import Path

from ..i18n import Message, _


class StoreError(Exception):
    """The store cannot be opened or a write was refused."""


def damaged_message(path: Path | str, detail: str) -> str:
    return (
        f"{path} is not a usable Bluezone device store ({detail}); it was left as it is: restore it from a "
        "backup, or set up a new store with 'bluezone init' / "
        f"{path} không phải kho dữ liệu Bluezone dùng được ({detail}); tệp được giữ nguyên: hãy khôi phục "
        "từ bản sao lưu, hoặc tạo kho mới bằng 'bluezone init'"
    )


def unopenable_message(path: Path | str) -> Message:
    """An encrypted file the key file does not open. SQLCipher cannot tell
    which it is (both fail the first page's check), so the line says both."""
    return _("{path} is not a usable Bluezone device store with this key file (not a SQLite database, damaged, "
             "or encrypted with another store's key); it was left as it is: restore the right key file, or "
             "restore it from a backup, or set up a new store with 'bluezone init'", path=path)


def newer_message(path: Path | str, found: int | str, known: int | str) -> str:
    return (
        f"{path} has schema version {found}, newer than this Bluezone knows ({known}); it was left as it is: "
        "upgrade Bluezone / "
        f"{path} có phiên bản lược đồ {found}, mới hơn phiên bản Bluezone này biết ({known}); tệp được giữ "
        "nguyên: hãy cập nhật Bluezone"
    )


def from_sqlite(path: Path | str, exc: BaseException) -> StoreError:
    """A :class:`StoreError` for an error SQLite raised on ``path``: a busy
    store is not a damaged one, so the person is not told to restore it."""
    from .engine import OperationalError

    text = str(exc)
    if isinstance(exc, OperationalError) and ("locked" in text or "busy" in text):
        return StoreError(
            f"{path} is in use by another Bluezone command; try again in a moment / "
            f"{path} đang được một lệnh Bluezone khác sử dụng; hãy thử lại sau giây lát"
        )
    if isinstance(exc, OperationalError) and "unable to open" in text:
        return StoreError(
            f"cannot open {path} ({text}); check that the file and its folder are yours and writable / "
            f"không mở được {path} ({text}); kiểm tra quyền của tệp và thư mục"
        )
    return StoreError(damaged_message(path, text))
