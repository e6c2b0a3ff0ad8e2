"""The matcher: published keys stream in, matches with the device's own
sightings come out.

For each key the schedule's identifiers are derived as one block (see
:mod:`.derive`); a chunk of keys' blocks is joined and tested against the
index's bitmap in one numpy step; only the few candidates are looked up
exactly, and a sighting matches when it was seen within the schedule's
tolerance (±12 intervals = ±2 h for both built-in schedules) of the
identifier's own interval.

Calls per key on the gaen fast path: one deriver call (4 SHA-256, one AES
context, one ``update``), one tuple, and a share of a ``b"".join``; nothing
else runs per key unless its bucket is set. Large batches are split across
processes (``workers``), each matching a slice against the same index,
inherited by ``fork``.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..models import Sighting
from .derive import Deriver
from .index import SightingIndex

#: Keys derived and tested per vectorised step: ~600 KB of identifiers, which
#: stays in cache (2,048 keys per step was 3x slower on the join alone).
CHUNK_KEYS = 256
#: Slices per worker process for a large batch (see :func:`match_all`).
SLICES_PER_WORKER = 8
#: Below this many keys a batch is matched in-process (forking costs more).
PARALLEL_MIN_KEYS = 200_000

#: (key_data, rolling_start, rolling_period, report_type, dsos or None, transmission_risk)
KeyRow = tuple


@dataclass(frozen=True, slots=True)
class Match:
    """One sighting of one identifier of a published key."""

    key: KeyRow
    identifier: bytes
    interval: int  # the identifier's own interval
    sighting: Sighting


#: A hit before its sighting is read: (key row, identifier, interval, index position).
Hit = tuple


def _hit_chunk(chunk: Sequence[KeyRow], index: SightingIndex, derive: Deriver, tolerance: int) -> list[Hit]:
    pairs = [derive(r[0], r[1], r[2]) for r in chunk]
    big = b"".join([p[0] for p in pairs])
    candidates = index.candidates(big)
    if not len(candidates):
        return []
    L = index.identifier_length
    by_id, times = index.by_id, index.times
    out: list[Hit] = []
    offsets: list[int] | None = None
    for c in candidates.tolist():
        ident = big[c * L : c * L + L]
        hits = by_id.get(ident)
        if not hits:
            continue  # a bucket collision, the common case
        if offsets is None:
            offsets = list(itertools.accumulate(len(p[0]) // L for p in pairs))
        k = bisect.bisect_right(offsets, c)
        pos = c - (offsets[k - 1] if k else 0)
        row, intervals, span = chunk[k], pairs[k][1], pairs[k][2]
        interval = row[1] + pos if intervals is None else intervals[pos]
        lo, hi = (interval, interval + 1) if span is None else span
        for si in hits:
            seen = times[si] // 600
            if lo - tolerance <= seen < hi + tolerance:
                out.append((row, ident, interval, si))
    return out


def _matches(hits: list[Hit], index: SightingIndex) -> list[Match]:
    """Hits with their sightings read (in the process that owns the index's
    store); a sighting deleted meanwhile is no match."""
    sightings = index.materialise(h[3] for h in hits)
    return [Match(h[0], h[1], h[2], s) for h, s in zip(hits, sightings, strict=True) if s is not None]


def _match_chunk(chunk: Sequence[KeyRow], index: SightingIndex, derive: Deriver, tolerance: int) -> list[Match]:
    return _matches(_hit_chunk(chunk, index, derive, tolerance), index)


def iter_matches(
    rows: Iterable[KeyRow], index: SightingIndex, derive: Deriver, tolerance: int = 12,
    chunk_keys: int = CHUNK_KEYS,
) -> Iterator[Match]:
    """Stream ``rows`` through the index, one chunk at a time, in this process."""
    it = iter(rows)
    while True:
        chunk = list(itertools.islice(it, chunk_keys))
        if not chunk:
            return
        yield from _match_chunk(chunk, index, derive, tolerance)


def _iter_hits(rows: Iterable[KeyRow], index: SightingIndex, derive: Deriver, tolerance: int) -> Iterator[Hit]:
    it = iter(rows)
    while True:
        chunk = list(itertools.islice(it, CHUNK_KEYS))
        if not chunk:
            return
        yield from _hit_chunk(chunk, index, derive, tolerance)


# --- both cores -------------------------------------------------------------------

#: rows_between(a, b) -> the key rows a..b of a batch (each worker reads its own slice).
RowSource = Callable[[int, int], Iterable[KeyRow]]
_SHARED: dict = {}


def _worker(bounds: tuple[int, int]) -> list[Hit]:
    """A forked child's share: hits only. The child never reads the store
    (its connection belongs to the parent); the parent reads the hit rows."""
    rows_between, index, derive, tolerance = _SHARED["job"]
    gc.disable()  # the forked child allocates no cycles; see match_all
    return list(_iter_hits(rows_between(*bounds), index, derive, tolerance))


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def match_all(
    rows_between: RowSource, n: int, index: SightingIndex, derive: Deriver, tolerance: int = 12,
    workers: int | None = None,
) -> list[Match]:
    """Every match of a batch of ``n`` keys.

    With ``workers`` > 1 (default: the CPU count) and at least
    :data:`PARALLEL_MIN_KEYS` keys, the batch is split into contiguous slices
    (:data:`SLICES_PER_WORKER` per worker, taken as workers free up) matched
    by forked processes that inherit the index (nothing is pickled
    but the slice bounds and the few hits, whose sightings this process reads). Otherwise the rows stream
    through this process.
    """
    workers = default_workers() if workers is None else workers
    # The matcher allocates no reference cycles, but its many small tuples
    # trigger the cyclic GC, which then walks every live object of the
    # process (a million-row batch halves the speed). Pause it while matching.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if (
            workers <= 1
            or n < PARALLEL_MIN_KEYS
            or "fork" not in multiprocessing.get_all_start_methods()
            or not index.by_id
        ):
            return list(iter_matches(rows_between(0, n), index, derive, tolerance))
        # Several slices per worker, handed out as workers free up: a core
        # that another program slows down takes fewer slices instead of
        # holding up the whole batch. Results come back in slice order.
        step = max(CHUNK_KEYS, -(-n // (workers * SLICES_PER_WORKER)))
        bounds = [(i, min(n, i + step)) for i in range(0, n, step)]
        _SHARED["job"] = (rows_between, index, derive, tolerance)
        gc.freeze()  # forked children do not touch (copy) the parent's objects' GC headers
        try:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(workers, len(bounds))) as pool:
                parts = pool.map(_worker, bounds, chunksize=1)
        finally:
            gc.unfreeze()
            _SHARED.clear()
        return _matches([h for part in parts for h in part], index)
    finally:
        if was_enabled:
            gc.enable()


def match_rows(rows: Sequence[KeyRow], index: SightingIndex, derive: Deriver, tolerance: int = 12,
               workers: int | None = 1) -> list[Match]:
    """:func:`match_all` over an in-memory list of rows (tests, benchmarks)."""
    return match_all(lambda a, b: rows[a:b], len(rows), index, derive, tolerance, workers)
