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

from ..export import OTHER_PROVINCE_REGION, ExportError
from ..export.reader import key_rows, open_export_rows
from ..hookspecs import hookimpl
from ..models import Exposure, ExposureWindow, Infectiousness, PublishedBatch, ReportType, Tier
from . import pipeline, revisions
from .alerts import OTHER_PROVINCE
from .explain import describe_windows
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
    """Store this batch's windows, each tagged with its key (see
    :mod:`.revisions`); return every stored window of their days."""
    tags: dict[bytes, bytes] = {}
    rows = []
    for w in windows:
        tag = tags.get(w.origin)
        if tag is None and w.origin:
            tag = tags[w.origin] = revisions.key_tag(store, FEED, w.origin)
        rows.append((w.date.isoformat(), int(w.tier), window_to_json(w), tag))
    store.add_exposure_windows(FEED, batch.content_id, rows)
    days = {w.date.isoformat() for w in windows}
    return pipeline.stored_windows(store, days)


def match_keys_batch(batch: PublishedBatch, store: Any, config: Any, *, workers: int | None = None) -> list[Exposure]:
    """Match one signed export; returns the day-level exposures it completes.

    Raises :class:`ExportError` for a file that fails verification; nothing
    is written then.
    """
    from .. import consent

    if not consent.allowed(store, "bluetooth"):
        return []  # Bluetooth tracing withdrawn: nothing is matched, nothing stored
    f2_wanted = consent.f2_wanted(store, config)
    public_keys = config.export_public_keys()
    if not public_keys:
        raise ExportError("no [authority] export_keys configured: refusing an unverifiable export")
    schedule = config.schedule()
    message, rows = open_export_rows(batch.payload, public_keys, key_length=schedule.key_length)
    length = schedule.key_length
    # Revised keys (a report confirmed or revoked) are matched like the others;
    # :mod:`.revisions` tells them apart by the windows the store keeps.
    every = message.keys if not message.revised_keys else [*message.keys, *message.revised_keys]
    n = len(every)

    def rows_between(a: int, b: int):
        # The whole batch in this process streams the open iterator; a
        # worker's slice reads its own rows from the (forked) message.
        if (a, b) == (0, n) and not message.revised_keys:
            return rows
        return key_rows(every[a:b], length)

    revised_days: set[str] = set()
    scored: list[ExposureWindow] = []

    def keep(matches: list[Match]) -> list[Match]:
        if not f2_wanted:
            # F2 off means off: matches of recursive (F1) keys are dropped here,
            # before any window is built or stored, not only before alerting.
            matches = [m for m in matches if effective_report_type(m.key[3], config.risk) is not ReportType.RECURSIVE]
        fresh, days = revisions.apply(store, FEED, matches, config.risk)
        revised_days.update(days)
        # What another batch (or a copy of this one) already counted adds nothing.
        return uncounted(store, FEED, fresh, counts=lambda m: _counts(m.key, config.risk))

    def accumulate(windows: list[ExposureWindow]) -> list[ExposureWindow]:
        scored[:] = _remember(store, batch, windows)
        return scored

    scorer = pipeline.hook_scorer(config)
    result = pipeline.run(store, schedule, pipeline.KeyBatch(n, rows_between), config.risk,
                          [scorer], keep=keep, accumulate=accumulate, workers=workers)
    found: dict[tuple[Any, Tier], Exposure] = {
        (r.date, r.tier): Exposure(r.tier, "ble", r.date, round(r.score, 3), round(r.weighted_minutes, 2),
                                   {"max_window_score": round(r.max_window_score, 3),
                                    **({"level": "low"} if r.low else {}),
                                    **describe_windows([w for w in scored if w.date == r.date and w.tier is r.tier],
                                                       config.risk)})
        for r in result.daily[0] if (r.exposed or r.low) and r.tier is not Tier.NONE
    }
    for exposure in revisions.rescore(store, revised_days, config.risk, scorer):
        found.setdefault((exposure.date, exposure.tier), exposure)
    if message.region == OTHER_PROVINCE_REGION:  # keys another province sent (docs/federation.md)
        for exposure in found.values():
            exposure.details = {**exposure.details, "origin": OTHER_PROVINCE}
    return list(found.values())


class KeysFeed:
    """The ``"keys"`` feed (follows :class:`bluezone.feed.Feed`)."""

    name = FEED

    def match(self, batch: PublishedBatch, store: Any, config: Any) -> list[Exposure]:
        return match_keys_batch(batch, store, config)


KEYS_FEED = KeysFeed()


@hookimpl
def bluezone_feeds():
    return [KEYS_FEED]
