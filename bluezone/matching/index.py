"""The device's own sightings, indexed once per sync for matching.

Memory is proportional to the device's sightings (a 14-day store of tens of
thousands), never to the number of published keys, which stream past it.

Two layers:

* ``by_id``: identifier → indices of its sightings (exact, Python dict);
* ``bitmap``: a bit per hash bucket of the first 4 identifier bytes, sized at
  about 64 buckets per identifier, so a random published identifier passes
  with probability ≈ 1/64 and almost every key is rejected in one
  vectorised numpy gather over all its identifiers at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models import Sighting


def _bitmap_bits(n: int) -> int:
    return max(16, min(27, (max(n, 1) * 64 - 1).bit_length()))


@dataclass(slots=True)
class SightingIndex:
    """Sightings of one identifier length, ready for :mod:`bluezone.matching.matcher`."""

    sightings: list[Sighting]
    by_id: dict[bytes, list[int]]
    bitmap: Any  # numpy bool array, 2**bits entries
    mask: int
    identifier_length: int
    stamp: tuple[int, int] = (0, 0)

    @classmethod
    def build(cls, sightings: list[Sighting], identifier_length: int = 16, stamp: tuple[int, int] = (0, 0)) -> "SightingIndex":
        keep = [s for s in sightings if len(s.identifier) == identifier_length]
        by_id: dict[bytes, list[int]] = {}
        for i, s in enumerate(keep):
            by_id.setdefault(s.identifier, []).append(i)
        bits = _bitmap_bits(len(by_id))
        mask = (1 << bits) - 1
        bitmap = np.zeros(1 << bits, dtype=np.bool_)
        if by_id:
            heads = np.frombuffer(b"".join(k[:4] for k in by_id), dtype="<u4")
            bitmap[heads & mask] = True
        return cls(keep, by_id, bitmap, mask, identifier_length, stamp)

    @classmethod
    def from_store(cls, store: Any, identifier_length: int = 16) -> "SightingIndex":
        return cls.build(list(store.sightings()), identifier_length, store_stamp(store))

    def __len__(self) -> int:
        return len(self.sightings)

    def candidates(self, big: bytes) -> Any:
        """Positions (in identifiers) in a concatenation of identifiers whose
        bucket is set: a superset of the true matches."""
        n = len(big) // self.identifier_length
        if n == 0 or not self.by_id:
            return np.empty(0, dtype=np.int64)
        words = np.frombuffer(big, dtype="<u4", count=n * self.identifier_length // 4)
        heads = words[:: self.identifier_length // 4]
        return np.flatnonzero(self.bitmap.take((heads & self.mask).astype(np.intp)))


def store_stamp(store: Any) -> tuple[int, int]:
    """Changes whenever sightings are added or purged (cache key for the index)."""
    row = store.db.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM sightings").fetchone()
    return int(row[0]), int(row[1])
