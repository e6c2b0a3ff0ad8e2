"""Built-in plugin ``match-keys``: the core's ``"keys"`` feed.

A ``"keys"`` batch is a signed GAEN export. :class:`KeysFeed` verifies it
with the deployment's export public keys and runs it through the matching
pipeline (:mod:`.pipeline`) with two feed-specific steps: it drops what the
store already counted (each published key and interval counts once,
:mod:`.once`), and it keeps the batch's exposure windows in the store
(inside the sync's transaction) so every affected day is scored over all
batches so far.
"""

from __future__ import annotations

from typing import Any

from ..export import ExportError
from ..export.reader import key_rows, open_export_rows
from ..hookspecs import hookimpl
from ..models import Exposure, ExposureWindow, Infectiousness, PublishedBatch, Tier
from . import pipeline
from .matcher import Match
from .once import uncounted
from .windows import effective_report_type, infectiousness, uploader_tier, window_to_json

FEED = "keys"


def _counts(row: tuple, risk: dict[str, Any]) -> bool:
    """Whether a published key's matches can add to exposure windows (the
    same per-key tests as :func:`.windows.build_windows`)."""
    return (uploader_tier(effective_report_type(row[3], risk), risk) is not None
            and infectiousness(row[4], risk) is not Infectiousness.NONE)


def _remember(store: Any, batch: PublishedBatch, windows: list[ExposureWindow]) -> list[ExposureWindow]:
    """Store this batch's windows; return every stored window of their days."""
    store.add_exposure_windows(FEED, batch.content_id,
                               [(w.date.isoformat(), int(w.tier), window_to_json(w)) for w in windows])
    return pipeline.stored_windows(store, {w.date.isoformat() for w in windows})


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
    n, length = len(message.keys), schedule.key_length

    def rows_between(a: int, b: int):
        # The whole batch in this process streams the open iterator; a
        # worker's slice reads its own rows from the (forked) message.
        return rows if (a, b) == (0, n) else key_rows(message.keys[a:b], length)

    def keep(matches: list[Match]) -> list[Match]:
        # What another batch (or a copy of this one) already counted adds nothing.
        return uncounted(store, FEED, matches, counts=lambda m: _counts(m.key, config.risk))

    result = pipeline.run(store, schedule, pipeline.KeyBatch(n, rows_between), config.risk,
                          [pipeline.hook_scorer(config)], keep=keep,
                          accumulate=lambda windows: _remember(store, batch, windows), workers=workers)
    return [
        Exposure(r.tier, "ble", r.date, round(r.score, 3), round(r.weighted_minutes, 2),
                 {"max_window_score": round(r.max_window_score, 3), **({"level": "low"} if r.low else {})})
        for r in result.daily[0] if (r.exposed or r.low) and r.tier is not Tier.NONE
    ]


class KeysFeed:
    """The ``"keys"`` feed (follows :class:`bluezone.feed.Feed`)."""

    name = FEED

    def match(self, batch: PublishedBatch, store: Any, config: Any) -> list[Exposure]:
        return match_keys_batch(batch, store, config)


KEYS_FEED = KeysFeed()


@hookimpl
def bluezone_feeds():
    return [KEYS_FEED]
