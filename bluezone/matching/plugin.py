"""Built-in plugin ``match-keys``: the core's ``"keys"`` feed.

Answers ``bluezone_published_feeds`` with ``["keys"]`` and matches
``"keys"`` batches (signed GAEN exports) in ``bluezone_match_batch``:
verify with the deployment's export public keys, stream the keys through the
matcher, drop what the store already counted (each published key and
interval counts once, :mod:`.once`), keep the exposure windows in the store
(inside the sync's transaction) and score every affected day over all
batches so far.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..export import ExportError
from ..export.reader import key_rows, open_export_rows
from ..hookspecs import hookimpl
from ..models import Exposure, Infectiousness, PublishedBatch, Tier
from .derive import deriver_for
from .index import SightingIndex, store_stamp
from .matcher import match_all
from .once import uncounted
from .windows import build_windows, effective_report_type, infectiousness, window_from_json, window_to_json

FEED = "keys"
#: Store meta key holding this phone's RSSI correction in dB (written by the
#: BLE plugin's calibration, 0 when absent).
RSSI_CORRECTION_META = "rssi_correction_db"

_INDEXES: "weakref.WeakKeyDictionary[Any, SightingIndex]" = weakref.WeakKeyDictionary()


def sighting_index(store: Any, identifier_length: int) -> SightingIndex:
    """The store's index, built once and reused while its sightings are unchanged."""
    stamp = store_stamp(store)
    index = _INDEXES.get(store)
    if index is None or index.stamp != stamp or index.identifier_length != identifier_length:
        index = SightingIndex.from_store(store, identifier_length)
        _INDEXES[store] = index
    return index


def _counts(row: tuple, risk: dict[str, Any]) -> bool:
    """Whether a published key's matches can add to exposure windows (the
    same per-key tests as :func:`.windows.build_windows`)."""
    return (effective_report_type(row[3], risk).tier is not None
            and infectiousness(row[4], risk) is not Infectiousness.NONE)


def match_keys_batch(batch: PublishedBatch, store: Any, config: Any, *, workers: int | None = None) -> list[Exposure]:
    """Match one signed export; returns the day-level exposures it completes.

    Raises :class:`ExportError` for a file that fails verification; nothing
    is written then.
    """
    public_keys = config.export_public_keys()
    if not public_keys:
        raise ExportError("no [authority] export_keys configured: refusing an unverifiable export")
    schedule = config.schedule()
    message, rows = open_export_rows(batch.payload, public_keys, key_length=schedule.key_length)
    index = sighting_index(store, schedule.identifier_length)
    n = len(message.keys)
    length = schedule.key_length

    def source(a: int, b: int):
        # The whole batch in this process streams the open iterator; a
        # worker's slice reads its own rows from the (forked) message.
        return rows if (a, b) == (0, n) else key_rows(message.keys[a:b], length)

    matches = match_all(source, n, index, deriver_for(schedule), schedule.match_tolerance_intervals, workers)
    # What another batch (or a copy of this one) already counted adds nothing.
    matches = uncounted(store, FEED, matches, counts=lambda m: _counts(m.key, config.risk))
    if not matches:
        return []
    correction = float(store.get_meta(RSSI_CORRECTION_META, "0") or 0)
    windows, _dropped = build_windows(matches, schedule, config.risk, correction)
    if not windows:
        return []
    store.add_exposure_windows(FEED, batch.content_id,
                               [(w.date.isoformat(), int(w.tier), window_to_json(w)) for w in windows])
    days = {w.date.isoformat() for w in windows}
    all_windows = [window_from_json(text) for _day, _tier, text in store.exposure_windows(days)]
    # firstresult hook, sync only: returns the first implementation's list.
    daily = config.pm.hook.bluezone_score_exposure_windows(windows=all_windows, config=config) or []
    return [
        Exposure(r.tier, "ble", r.date, round(r.score, 3), round(r.weighted_minutes, 2),
                 {"max_window_score": round(r.max_window_score, 3)})
        for r in daily if r.exposed and r.tier is not Tier.NONE
    ]


@hookimpl
def bluezone_published_feeds(config):
    return [FEED]


@hookimpl
def bluezone_match_batch(batch, store, config):
    if batch.feed != FEED:
        return None
    return match_keys_batch(batch, store, config)
