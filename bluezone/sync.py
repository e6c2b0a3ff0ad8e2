"""Sync: downloaded batches in, exposures and alerts out, exactly once.

The feeds are the named objects plugins offer through ``bluezone_feeds``
(:mod:`bluezone.feed`); a sync downloads each and hands every batch to the
``match`` of its own feed. Each batch is handled in ONE store transaction:
its feed's ``match`` runs (the core's ``"keys"`` feed runs the matching
pipeline and keeps its exposure windows), the exposures it completes are
stored with one alert each, and the batch is marked processed. A batch of a
feed nobody serves is reported as failed and left unprocessed. A process killed at any instant therefore
leaves a batch either fully done or not at all; the next sync redoes exactly
the batches that are not marked. Alerts are delivered to the sinks after the
commit and marked delivered one by one, so a crash between the two re-shows
an alert rather than losing it (sinks are called at least once).

Rules applied here, for every source (BLE and venue):

* the most severe tier wins: an exposure on a day that already has one of
  the same or a more severe tier adds no alert;
* F2 exposures need both the deployment (``[risk] f2_alerts``) and the
  person (``f2_opt_in``) to agree;
* contact data older than the retention window is purged first, every time;
* a phone that reported itself (:mod:`bluezone.own_report`) is not warned
  about the days it is isolating as a case (F0) or, after an F1 report,
  about F2 contacts: those exposures are kept, marked ``suppressed``, with
  no alert.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import own_report
from .config import RiskSettings
from .feed import Feed, collect_feeds, feed_for
from .matching.alerts import alert_sources, build_alert
from .models import BadBatch, Exposure, PublishedBatch, Tier
from .plugins import PluginError, call_hook, call_hook_async


@dataclass
class SyncStats:
    """What one sync did (``bluezone_sync_finished`` receives ``as_dict()``)."""

    batches_downloaded: int = 0
    batches_processed: int = 0
    batches_skipped: int = 0
    batches_failed: int = 0
    feeds_failed: int = 0
    #: the transport error code of the first feed whose index could not be fetched
    feed_error_code: str | None = None
    exposures_new: int = 0
    alerts_new: int = 0
    alerts_delivered: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


def published_feeds(config: Any) -> list[str]:
    """Names of the feeds this process serves, in plugin registration order."""
    return list(collect_feeds(config.pm))


def _allowed(exposure: Exposure, config: Any, f2_opt_in: bool) -> bool:
    if exposure.tier is Tier.F2:
        return config.typed(RiskSettings).f2_alerts and f2_opt_in
    return exposure.tier in (Tier.F1, Tier.F0)


def _worst_tier_on(store: Any, day: str) -> int:
    """The highest tier warned about on ``day``; LOW-risk notices do not count,
    so a day that later reaches HIGH still warns."""
    row = store.db.execute("SELECT COALESCE(MAX(tier), 0) FROM exposures WHERE day = ? "
                           "AND json_extract(details, '$.level') IS NOT 'low'", [day]).fetchone()
    return int(row[0])


def process_batch(
    store: Any, config: Any, batch: PublishedBatch, *, f2_opt_in: bool = True, now: int | None = None,
    stats: SyncStats | None = None, feeds: dict[str, Feed] | None = None,
) -> list[Exposure]:
    """Match one batch, store its exposures and alerts atomically, then tell
    ``bluezone_exposure_detected`` (from synchronous code; the async
    :func:`sync` awaits that hook instead).

    Returns the new exposures (empty when the batch was already processed).
    A batch that fails (a bad signature, a feed nobody serves, a plugin
    error) raises; nothing of it is stored and it stays unprocessed.
    ``feeds`` defaults to :func:`bluezone.feed.collect_feeds`.
    """
    feeds = collect_feeds(config.pm) if feeds is None else feeds
    fresh = _store_batch(store, config, batch, feeds, f2_opt_in=f2_opt_in, now=now, stats=stats)
    for exposure in fresh:
        call_hook(config.pm.hook.bluezone_exposure_detected, exposure=exposure, config=config)
    return fresh


def _store_batch(
    store: Any, config: Any, batch: PublishedBatch, feeds: dict[str, Feed], *, f2_opt_in: bool,
    now: int | None, stats: SyncStats | None,
) -> list[Exposure]:
    """The transaction of :func:`process_batch`: match, store, mark processed.

    A batch is known by its content (:attr:`PublishedBatch.content_id`), not
    its file name, which nobody signs. "Already processed?" is asked again
    inside the write transaction (``BEGIN IMMEDIATE``) that marks it, so two
    syncs on one store cannot both process it; the first check only spares
    the matching work of a batch already done.
    """
    stats = stats if stats is not None else SyncStats()
    feed = feed_for(feeds, batch)  # raises UnservedFeed (a BadBatch) before anything is written
    content_id = batch.content_id
    if store.batch_processed(batch.feed, content_id):
        stats.batches_skipped += 1
        return []
    now = store.now() if now is None else now
    fresh: list[Exposure] = []
    with store.transaction():
        if store.batch_processed(batch.feed, content_id):  # another process did it meanwhile
            stats.batches_skipped += 1
            return []
        own = own_report.reports(store)
        found = feed.match(batch, store, config)
        if inspect.isawaitable(found):
            if inspect.iscoroutine(found):
                found.close()
            raise PluginError(f"feed {feed.name!r}: match() returned an awaitable; it must be synchronous "
                              "(it runs inside the store transaction)")
        # Most severe first, so a day's F1 suppresses the same batch's F2.
        for exposure in sorted(found, key=lambda e: (-int(e.tier), e.date)):
            if not _allowed(exposure, config, f2_opt_in):
                continue
            if _worst_tier_on(store, exposure.date.isoformat()) >= int(exposure.tier):
                continue
            reason = own_report.suppression(own, exposure)
            if reason is not None:  # kept for information, never a warning
                exposure.details = {**exposure.details, "suppressed": reason}
                store.add_exposure(exposure)
                continue
            if store.add_exposure(exposure):
                fresh.append(exposure)
                if store.add_alert(build_alert(exposure, config.risk, config.languages, now, alert_sources(config.pm))):
                    stats.alerts_new += 1
        store.mark_batch_processed(batch.feed, content_id, batch.name)
    stats.batches_processed += 1
    stats.exposures_new += len(fresh)
    return fresh


def _deliveries(store: Any, config: Any, language: str | None, stats: SyncStats | None) -> Iterator[dict[str, Any]]:
    """The ``bluezone_deliver_alert`` arguments of every undelivered alert.

    The caller hands each to the sinks and then asks for the next; only then
    is the alert marked delivered, so a sink that raises (or a crash) leaves
    it undelivered and it is shown again next time (at least once)."""
    language = language or config.languages[0]
    for alert in store.alerts(undelivered_only=True):
        yield {"alert": alert, "language": language, "config": config}
        store.mark_alert_delivered(alert.exposure_id)
        if stats is not None:
            stats.alerts_delivered += 1


def deliver_pending(store: Any, config: Any, language: str | None = None, stats: SyncStats | None = None) -> int:
    """Hand every undelivered alert to every sink, then mark it delivered
    (from synchronous code; :func:`sync` awaits async sinks)."""
    delivered = 0
    for kwargs in _deliveries(store, config, language, stats):
        call_hook(config.pm.hook.bluezone_deliver_alert, **kwargs)
        delivered += 1
    return delivered


def _process_each(store: Any, config: Any, batches: Iterable[PublishedBatch], stats: SyncStats, *,
                  f2_opt_in: bool, now: int | None) -> set[str]:
    """Process batches in order; a bad one is counted, reported and skipped.
    Returns the names of the batches that failed."""
    failed: set[str] = set()
    feeds = collect_feeds(config.pm)
    for batch in batches:
        stats.batches_downloaded += 1
        try:
            process_batch(store, config, batch, f2_opt_in=f2_opt_in, now=now, stats=stats, feeds=feeds)
        except BadBatch as e:  # a damaged or untrusted file of any feed, or of a feed nobody serves
            stats.batches_failed += 1
            stats.errors.append(f"{batch.feed}/{batch.name}: {e}")
            failed.add(batch.name)
    return failed


def process_batches(
    store: Any, config: Any, batches: Iterable[PublishedBatch], *, f2_opt_in: bool = True,
    language: str | None = None, deliver: bool = True, now: int | None = None,
) -> SyncStats:
    """Purge, then process batches in order (failures are counted and skipped),
    then deliver pending alerts. Safe to re-run: done batches are skipped."""
    stats = SyncStats()
    store.purge(now)
    _process_each(store, config, batches, stats, f2_opt_in=f2_opt_in, now=now)
    if deliver:
        deliver_pending(store, config, language, stats)
    return stats


async def sync(
    store: Any, config: Any, transport: Any, *, f2_opt_in: bool = True, language: str | None = None,
    now: int | None = None,
) -> SyncStats:
    """Download every published feed through ``transport`` and process the new
    batches, one file at a time (a device never holds more than one batch).

    Failures cost only what failed: a feed whose index cannot be fetched is
    reported and the other feeds still sync; a file that cannot be fetched
    (gone, cut short, over the size cap) or cannot be used (bad signature) is
    reported, skipped, and asked for again next time. The feed state saved
    after each feed lists only the files that were processed, and keeps the
    index's entity tag only when nothing failed."""
    stats = SyncStats()
    feeds = collect_feeds(config.pm)  # a conflict or a bad feed object stops here, before any download
    store.purge(now)
    for feed in feeds:
        await _sync_feed(store, config, transport, feed, feeds, stats, f2_opt_in=f2_opt_in, now=now)
    # Hooks on this path are awaited: a plugin's sink may be ``async def``.
    for kwargs in _deliveries(store, config, language, stats):
        await call_hook_async(config.pm.hook.bluezone_deliver_alert, **kwargs)
    await call_hook_async(config.pm.hook.bluezone_sync_finished, stats=stats.as_dict(), config=config)
    return stats


async def _sync_feed(store: Any, config: Any, transport: Any, feed: str, feeds: dict[str, Feed],
                     stats: SyncStats, *, f2_opt_in: bool, now: int | None) -> None:
    from .transport import FeedState, TransportError

    state = FeedState.from_dict(store.get_sync_state(feed))
    try:
        index = await transport.fetch_index(feed, state.etag)
    except TransportError as e:
        stats.feeds_failed += 1
        stats.feed_error_code = stats.feed_error_code or e.code
        stats.errors.append(f"{feed}: {e}")
        return
    if index is None:  # unchanged since last time
        return
    seen = set(state.seen)
    done: list[str] = []
    complete = True
    for name in index.names:
        if name not in seen:
            try:
                batch = await transport.fetch_batch(feed, name)
            except TransportError as e:
                stats.batches_failed += 1
                stats.errors.append(f"{feed}/{name}: {e}")
                complete = False
                continue
            stats.batches_downloaded += 1
            try:
                fresh = _store_batch(store, config, batch, feeds, f2_opt_in=f2_opt_in, now=now, stats=stats)
            except BadBatch as e:
                stats.batches_failed += 1
                stats.errors.append(f"{feed}/{name}: {e}")
                complete = False
                continue
            for exposure in fresh:
                await call_hook_async(config.pm.hook.bluezone_exposure_detected, exposure=exposure, config=config)
        done.append(name)
    # Names no longer listed (deleted by retention) drop out of the state by themselves.
    store.set_sync_state(feed, FeedState(index.etag if complete else None, done).to_dict())
