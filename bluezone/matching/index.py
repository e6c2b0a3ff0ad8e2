"""The device's own sightings, indexed for matching.

Memory is proportional to the device's sightings (a 14-day store of tens of
thousands), never to the number of published keys, which stream past it.

Two layers:

* ``by_id``: identifier → positions of its sightings (exact, Python dict);
* ``bitmap``: a bit per hash bucket of the first 4 identifier bytes, sized at
  about 64 buckets per identifier, so a random published identifier passes
  with probability ≈ 1/64 and almost every key is rejected in one
  vectorised numpy gather over all its identifiers at once.

Why the index holds only identifiers and times: matching needs nothing else
until a sighting is hit, and hits are a handful per sync. Reading every
column of 40,000 rows and making 40,000 :class:`Sighting` objects was most of
an index build (about 130 ms, over half of a 10,000-key sync); reading
``id, identifier, time`` is a tenth of that. A hit's whole row is read by its
row id, in the process that owns the store (:meth:`SightingIndex.sighting`).

Why it is refreshed rather than rebuilt (:meth:`SightingIndex.refreshed`):
a long-lived ``sync --watch`` keeps one index. Sightings are only ever
appended (new row ids) or deleted (retention, ``privacy forget``); rows
appended since the last look are added in place, anything else rebuilds.
Nothing is written to disk: the index lives in memory only, so it cannot
weaken the store's encryption.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models import Sighting

#: (largest row id, row count, total of the times) of the sightings table.
Stamp = tuple[int, int, float]
_NO_STAMP: Stamp = (0, 0, 0.0)


def _bitmap_bits(n: int) -> int:
    return max(16, min(27, (max(n, 1) * 64 - 1).bit_length()))


@dataclass(slots=True)
class SightingIndex:
    """Sightings of one identifier length, ready for :mod:`bluezone.matching.matcher`."""

    identifiers: list[bytes]
    times: list[int]
    by_id: dict[bytes, list[int]]
    bitmap: Any  # numpy bool array, 2**bits entries
    mask: int
    identifier_length: int
    stamp: Stamp = _NO_STAMP
    #: store row id of each position (store-backed indexes only)
    rowids: list[int] = field(default_factory=list)
    #: the objects given to :meth:`build`, or those read for hits so far
    objects: dict[int, Sighting] = field(default_factory=dict)
    store: Any = None
    #: (PRAGMA data_version, connection total_changes) when last checked
    version: tuple[int, int] = (-1, -1)

    # -- building ----------------------------------------------------------------------

    @classmethod
    def _from_columns(cls, identifiers: list[bytes], times: list[int], identifier_length: int,
                      **extra: Any) -> "SightingIndex":
        by_id: dict[bytes, list[int]] = {}
        for i, ident in enumerate(identifiers):
            by_id.setdefault(ident, []).append(i)
        bits = _bitmap_bits(len(by_id))
        mask = (1 << bits) - 1
        bitmap = np.zeros(1 << bits, dtype=np.bool_)
        index = cls(identifiers, times, by_id, bitmap, mask, identifier_length, **extra)
        index._set_bits(by_id)
        return index

    def _set_bits(self, identifiers: Iterable[bytes]) -> None:
        heads = b"".join(k[:4] for k in identifiers)
        if heads:
            self.bitmap[np.frombuffer(heads, dtype="<u4") & self.mask] = True

    @classmethod
    def build(cls, sightings: list[Sighting], identifier_length: int = 16,
              stamp: Stamp = _NO_STAMP) -> "SightingIndex":
        """An index of sightings held in memory (tests, the simulator)."""
        keep = [s for s in sightings if len(s.identifier) == identifier_length]
        return cls._from_columns([s.identifier for s in keep], [s.time for s in keep], identifier_length,
                                 stamp=stamp, objects=dict(enumerate(keep)))

    @classmethod
    def from_store(cls, store: Any, identifier_length: int = 16) -> "SightingIndex":
        """An index of a device store's sightings, reading three columns."""
        version = data_version(store)
        stamp = store_stamp(store)
        # in row-id order: a plain table scan (ordering by time walks the time
        # index and fetches each row apart, several times slower)
        rows = store.db.conn.execute(
            "SELECT id, identifier, time FROM sightings WHERE length(identifier) = ? ORDER BY id",
            [identifier_length]).fetchall()
        index = cls._from_columns([r[1] for r in rows], [r[2] for r in rows], identifier_length,
                                  stamp=stamp, rowids=[r[0] for r in rows], store=store, version=version)
        index._time_order(index.by_id.values())
        return index

    def _time_order(self, lists: Iterable[list[int]]) -> None:
        """Each identifier's sightings by (time, row id), the order in which
        matches are reported (positions are in row-id order, so a stable sort
        by time is enough)."""
        times = self.times
        for positions in lists:
            if len(positions) > 1:
                positions.sort(key=times.__getitem__)

    def refreshed(self, store: Any) -> "SightingIndex":
        """This index brought up to date with ``store``: itself when nothing
        was written, itself with the appended rows added when sightings were
        only added, else a new index."""
        if store is not self.store:
            return SightingIndex.from_store(store, self.identifier_length)
        version = data_version(store)
        if version == self.version:
            return self
        # One pass over the table: its stamp, and whether the rows this index
        # was built from are all still there, unchanged. Row ids of deleted
        # newest rows can be reused (``INTEGER PRIMARY KEY``), so the count and
        # the time total of ``id <= last_id`` are compared: a reinserted row is
        # a new sighting, heard later than the one it replaced.
        last_id, count, total = self.stamp
        row = store.db.conn.execute(
            "SELECT COALESCE(MAX(id), 0), COUNT(*), TOTAL(time), COUNT(CASE WHEN id <= ? THEN 1 END), "
            "TOTAL(CASE WHEN id <= ? THEN time END) FROM sightings", [last_id, last_id]).fetchone()
        stamp: Stamp = (int(row[0]), int(row[1]), float(row[2]))
        if stamp == self.stamp:
            self.version = version
            return self
        if (int(row[3]), float(row[4])) == (count, total):
            new = store.db.conn.execute(
                "SELECT id, identifier, time FROM sightings WHERE id > ? AND length(identifier) = ? ORDER BY id",
                [last_id, self.identifier_length]).fetchall()
            if _bitmap_bits(len(self.by_id) + len(new)) == _bitmap_bits(len(self.by_id)):
                self._append(new)
                self.stamp, self.version = stamp, version
                return self
        return SightingIndex.from_store(store, self.identifier_length)

    def _append(self, rows: list[tuple[int, bytes, int]]) -> None:
        touched: set[bytes] = set()
        for rowid, ident, time in rows:
            pos = len(self.identifiers)
            self.identifiers.append(ident)
            self.times.append(time)
            self.rowids.append(rowid)
            self.by_id.setdefault(ident, []).append(pos)
            touched.add(ident)
        self._time_order(self.by_id[ident] for ident in touched)  # as a fresh build has them
        self._set_bits(touched)

    # -- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.identifiers)

    @property
    def sightings(self) -> list[Sighting]:
        """Every indexed sighting as an object (reads them all for a store-backed index)."""
        return self.materialise(range(len(self)))

    def sighting(self, pos: int) -> Sighting | None:
        """The sighting at ``pos`` (``None`` if the store no longer has it)."""
        return self.materialise([pos])[0] if pos not in self.objects else self.objects[pos]

    def materialise(self, positions: Iterable[int]) -> list[Any]:
        """The sightings at ``positions``, read by row id in one query; the same
        object every time for one position (windows drop duplicate scans by
        object identity). Call it only in the process that opened the store."""
        positions = list(positions)
        missing = sorted({p for p in positions if p not in self.objects})
        if missing:
            if self.store is None:
                raise KeyError(missing[0])
            by_rowid = {self.rowids[p]: p for p in missing}
            for chunk in range(0, len(missing), 500):
                ids = [self.rowids[p] for p in missing[chunk:chunk + 500]]
                for rowid, s in self.store.sightings_by_rowid(ids):
                    self.objects[by_rowid[rowid]] = s
        return [self.objects.get(p) for p in positions]

    def candidates(self, big: bytes) -> Any:
        """Positions (in identifiers) in a concatenation of identifiers whose
        bucket is set: a superset of the true matches."""
        n = len(big) // self.identifier_length
        if n == 0 or not self.by_id:
            return np.empty(0, dtype=np.int64)
        words = np.frombuffer(big, dtype="<u4", count=n * self.identifier_length // 4)
        heads = words[:: self.identifier_length // 4]
        return np.flatnonzero(self.bitmap.take((heads & self.mask).astype(np.intp)))


def store_stamp(store: Any) -> Stamp:
    """Changes whenever sightings are added or purged."""
    row = store.db.execute("SELECT COALESCE(MAX(id), 0), COUNT(*), TOTAL(time) FROM sightings").fetchone()
    return int(row[0]), int(row[1]), float(row[2])


def data_version(store: Any) -> tuple[int, int]:
    """Changes whenever anything is committed to the store, by this connection
    (``total_changes``) or by another one (``PRAGMA data_version``): when it
    has not moved, a cached index is current without reading the table."""
    conn = store.db.conn
    return int(conn.execute("PRAGMA data_version").fetchone()[0]), int(conn.total_changes)
