"""Each matched (published key, interval) counts once, whatever brings it.

Exposure minutes add up over batches (two F0s met on one day, published on
different days, add up), so a key that arrives twice must not add twice.
The same key comes back in practice: a batch renamed on a mirror, an
export rebuilt or re-signed after a rollback, a second batch that repeats a
key, two syncs racing on one store. None of these can be caught by looking
at files; they are caught here, at the level of what is counted: the
matches of a key at one of its intervals (one identifier of the schedule).

The store remembers a keyed tag of ``(feed, key, interval)`` for every
contribution it counted (HMAC with a subkey of the store's at-rest key, so
the database alone does not reveal which published key this phone met),
and :meth:`~bluezone.store.DeviceStore.claim_contributions` checks and
marks in the batch's transaction. The first batch that brings a
contribution counts it; later copies add nothing (a later copy with a
different report type does not change what was counted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..models import utc_date
from .matcher import Match


def contribution_material(feed: str, key_data: bytes, interval: int) -> bytes:
    """What a contribution's tag is computed over (before the store's key)."""
    return feed.encode() + b"\x00" + bytes(key_data) + int(interval).to_bytes(8, "big", signed=True)


def uncounted(store: Any, feed: str, matches: Sequence[Match],
              counts: Callable[[Match], bool] = lambda m: True) -> list[Match]:
    """The matches that count (``counts``) and whose (key, interval) this
    store has not counted yet, now claimed. Call inside the batch's
    transaction.

    Matches that do not count (a self-report, a key outside its infectious
    days) are dropped without a claim, so the same key published again with
    a report type that counts (a self-report confirmed by a test) still
    counts then."""
    tags: dict[tuple[bytes, int], bytes] = {}
    days: dict[bytes, str] = {}
    matches = [m for m in matches if counts(m)]
    for m in matches:
        ident = (m.key[0], m.interval)
        tag = tags.get(ident)
        if tag is None:
            tag = tags[ident] = store.contribution_tag(contribution_material(feed, m.key[0], m.interval))
        # Kept as long as its latest sighting: retention drops both together.
        day = utc_date(m.sighting.time).isoformat()
        if days.get(tag, "") < day:
            days[tag] = day
    if not tags:
        return []
    fresh = store.claim_contributions(days.items())
    return [m for m in matches if tags[(m.key[0], m.interval)] in fresh]
