"""Delete everything: the store, its WAL/SHM siblings and its key file (``bluezone forget``).

The key file goes first. Every secret in the store is sealed with it (and
the whole file once the store is encrypted as a whole), so once the key is
gone what a flash chip may still hold of the database cannot be opened.
The key file is overwritten before it is unlinked; on flash storage that is
no guarantee, which is why destroying the key, not the bytes, is what
carries the deletion.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..store.secrets import default_key_file


@dataclass
class Forgotten:
    removed: list[Path] = field(default_factory=list)


def _overwrite_and_unlink(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def forget(store_path: str | os.PathLike, key_file: str | os.PathLike | None = None) -> Forgotten:
    """Remove the key file, then the store and its siblings; returns what was removed."""
    store_path = Path(store_path)
    key = Path(key_file) if key_file else default_key_file(store_path)
    done = Forgotten()
    if key.exists():
        _overwrite_and_unlink(key)
        done.removed.append(key)
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = store_path.with_name(store_path.name + suffix)
        if p.exists():
            _overwrite_and_unlink(p)
            done.removed.append(p)
    return done
