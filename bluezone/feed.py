"""What a published feed is to a phone, and which feeds this process serves.

The authority publishes several feeds (the core's ``keys``; the check-in
plugin's ``venue-traces``). On the phone each is one named object that
matches a downloaded batch of that feed against the device's own history.
Plugins offer them through ``bluezone_feeds``; :func:`collect_feeds` gathers
them once per sync, and :mod:`bluezone.sync` downloads exactly those feeds
and hands every batch to the one object of its feed.

Two plugins offering one feed name is refused (which of them would match?),
and so is an async ``match``: it runs inside the batch's store transaction,
which must not wait on the network. (The signed-file format that generic
feeds share is another matter: :mod:`bluezone.feeds`.)
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

from .models import BadBatch, Exposure, PublishedBatch
from .plugins import PluginError, call_hook, collect_named


@runtime_checkable
class Feed(Protocol):
    """One published feed, as a plugin offers it.

    ``match`` returns the exposures the batch completes (an empty list when
    it completes none). It runs inside the batch's store transaction, is
    synchronous, and must make a repeat of the same data add nothing (the
    same keys can come back in another file; see docs/matching.md). It
    raises :class:`bluezone.models.BadBatch` (or a subclass) for a damaged or
    untrusted file: the sync then stores nothing of it and fetches it again.
    """

    name: str

    def match(self, batch: PublishedBatch, store: Any, config: Any) -> list[Exposure]: ...


class UnservedFeed(BadBatch):
    """A batch of a feed that no installed plugin serves (a plugin disabled
    or removed since it was downloaded): reported and kept for later, never
    marked processed."""


def collect_feeds(pm: Any) -> dict[str, Feed]:
    """Every feed the registered plugins offer, by name (in registration
    order), or :class:`~bluezone.plugins.PluginError` naming the problem."""
    feeds = collect_named(call_hook(pm.hook.bluezone_feeds), "feed")
    for name, feed in feeds.items():
        if not isinstance(name, str) or not name:
            raise PluginError(f"a feed has no name: {feed!r}")
        match = getattr(feed, "match", None)
        if not callable(match):
            raise PluginError(f"feed {name!r} has no match(batch, store, config) method")
        if inspect.iscoroutinefunction(match):
            raise PluginError(f"feed {name!r}: match() must be synchronous (it runs inside the store transaction)")
    return feeds


def feed_for(feeds: dict[str, Feed], batch: PublishedBatch) -> Feed:
    """The feed object a batch belongs to, or :class:`UnservedFeed`."""
    feed = feeds.get(batch.feed)
    if feed is None:
        raise UnservedFeed(f"no installed plugin serves the feed {batch.feed!r}; the batch is kept for later")
    return feed
