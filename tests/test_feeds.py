"""Feeds are named objects: each batch goes to the one feed of its name.

Real plugin manager (the installed plugins plus objects registered on it),
real signed exports, real SQLite stores. Checks that a feed sees only its
own batches, that two plugins offering one feed name or an async ``match``
are refused before anything is downloaded or written, and that a batch of a
feed nobody serves is reported and stays unprocessed.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os

import pytest

from bluezone.config import config_from_dict
from bluezone.export import write_export
from bluezone.feed import Feed, UnservedFeed, collect_feeds
from bluezone.hookspecs import hookimpl
from bluezone.matching.fixtures import background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.matching.plugin import KEYS_FEED
from bluezone.models import Exposure, ExposureKey, PublishedBatch, ReportType, Tier, interval_number
from bluezone.plugins import PluginError
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore
from bluezone.sync import process_batch, process_batches, published_feeds

DAY0 = 2_833_056 * 600  # 2023-11-13 00:00 UTC
NOW = DAY0 + 5 * 86400
SIGNER, PEM = new_signing_key()


class RecordingFeed:
    """A plugin's feed that records the batches it was given."""

    def __init__(self, name: str = "flights", tier: Tier = Tier.F1):
        self.name, self.tier, self.seen = name, tier, []

    def match(self, batch, store, config):
        self.seen.append((batch.feed, batch.name))
        return [Exposure(self.tier, "ble", dt.date(2023, 11, 15), 1.0, 20.0, {"from": self.name})]


class Offers:
    """A plugin object whose ``bluezone_feeds`` offers the given feeds."""

    def __init__(self, *feeds):
        self.feeds = list(feeds)

    @hookimpl
    def bluezone_feeds(self):
        return self.feeds


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(500, DAY0 - 9 * 86400, 14))
    yield s
    s.close()


@pytest.fixture
def config():
    return config_from_dict(deployment(PEM))


def keys_batch(keys, name="b1") -> PublishedBatch:
    data = write_export(list(keys), SIGNER, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")
    return PublishedBatch("keys", name, data, DAY0, NOW)


def f0_met(store, minutes=20) -> ExposureKey:
    key = ExposureKey(os.urandom(16), interval_number(DAY0 + 86400), 144, 2, ReportType.CONFIRMED_TEST, 1)
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + 86400 + 10 * 3600, minutes, rssi=-55, tx_power=-10))
    return key


def test_installed_feeds_are_named_objects_following_the_contract(config):
    feeds = collect_feeds(config.pm)
    assert "keys" in feeds  # the core's; plugins add theirs (the check-in plugin's venue-traces: its own tests)
    assert feeds["keys"] is KEYS_FEED
    assert all(isinstance(f, Feed) and f.name == name for name, f in feeds.items())
    assert published_feeds(config) == list(feeds)


def test_each_batch_goes_to_its_own_feed_only(store, config):
    flights = RecordingFeed()
    config.pm.register(Offers(flights))
    f0 = f0_met(store)
    stats = process_batches(store, config, [keys_batch([f0]), PublishedBatch("flights", "f1", b"manifest")],
                            now=NOW, deliver=False)
    assert stats.batches_processed == 2 and stats.batches_failed == 0
    assert flights.seen == [("flights", "f1")]  # never handed the keys batch
    by_day = {e.date: e for e in store.exposures()}
    assert {"max_window_score", "report_types"} <= by_day[dt.date(2023, 11, 14)].details.keys()  # from the keys feed
    assert by_day[dt.date(2023, 11, 15)].details == {"from": "flights"}  # from the plugin's feed
    assert store.batch_processed("flights", PublishedBatch("flights", "x", b"manifest").content_id)


def test_two_plugins_offering_one_feed_name_is_refused(store, config):
    config.pm.register(Offers(RecordingFeed("keys")))
    with pytest.raises(PluginError, match="two plugins offer a feed named 'keys'"):
        process_batches(store, config, [keys_batch([f0_met(store)])], now=NOW)
    assert store.exposures() == []


def test_an_async_match_is_refused_when_feeds_are_collected(store, config):
    class AsyncFeed:
        name = "slow"

        async def match(self, batch, store, config):
            return []

    config.pm.register(Offers(AsyncFeed()))
    with pytest.raises(PluginError, match="'slow'.*must be synchronous"):
        collect_feeds(config.pm)


def test_a_match_returning_an_awaitable_fails_the_batch_and_writes_nothing(store, config):
    class Sneaky:
        name = "sneaky"

        def match(self, batch, store, config):
            async def later():
                return []
            made.append(later())
            return made[-1]

    class Awaitable:  # awaitable, but not a coroutine (it has no close())
        def __await__(self):
            yield

    class Sneakier:
        name = "sneakier"

        def match(self, batch, store, config):
            return Awaitable()

    made: list = []
    config.pm.register(Offers(Sneaky(), Sneakier()))
    batch = PublishedBatch("sneaky", "s1", b"data")
    with pytest.raises(PluginError, match="'sneaky'.*synchronous"):
        process_batch(store, config, batch)
    assert not store.batch_processed("sneaky", batch.content_id)
    # the coroutine is closed, not left for the garbage collector to warn about
    assert inspect.getcoroutinestate(made[0]) == inspect.CORO_CLOSED
    other = PublishedBatch("sneakier", "s1", b"data")
    with pytest.raises(PluginError, match="'sneakier'.*synchronous"):
        process_batch(store, config, other)
    assert not store.batch_processed("sneakier", other.content_id)


def test_a_feed_without_a_match_method_is_refused(config):
    class Nameless:
        name = "broken"

    config.pm.register(Offers(Nameless()))
    with pytest.raises(PluginError, match="'broken' has no match"):
        collect_feeds(config.pm)


def test_a_batch_of_a_feed_nobody_serves_is_reported_and_kept_for_later(store, config):
    orphan = PublishedBatch("flights", "f1", b"manifest")
    stats = process_batches(store, config, [orphan], now=NOW, deliver=False)
    assert (stats.batches_failed, stats.batches_processed) == (1, 0)
    assert stats.errors == ["flights/f1: no installed plugin serves the feed 'flights'; the batch is kept for later"]
    assert not store.batch_processed("flights", orphan.content_id)
    with pytest.raises(UnservedFeed):
        process_batch(store, config, orphan)
    # once a plugin serves it, the same batch is processed
    config.pm.register(Offers(RecordingFeed()))
    assert process_batches(store, config, [orphan], now=NOW, deliver=False).batches_processed == 1


@pytest.mark.needs_plugins
def test_disabling_the_checkin_plugin_removes_its_feed():
    config = config_from_dict(deployment(PEM, disabled=["qr-checkin"]))
    assert "venue-traces" not in collect_feeds(config.pm) and "keys" in collect_feeds(config.pm)


def test_a_day_already_warned_at_a_tier_is_not_warned_again_by_another_source_and_later_days_still_are(
        store, config):
    """One warning per day and tier, whichever feed or source finds it; a day
    already warned does not stop the batch's other days from warning."""

    class Venues:
        name = "venues"

        def match(self, batch, store, config):
            return [Exposure(Tier.F1, "venue", dt.date(2023, 11, 14), 1.0, 30.0, {}),  # warned already (ble)
                    Exposure(Tier.F1, "venue", dt.date(2023, 11, 15), 1.0, 30.0, {})]  # a new day

    config.pm.register(Offers(Venues()))
    process_batches(store, config, [keys_batch([f0_met(store)])], now=NOW)
    assert [(a.exposure_date, a.source) for a in store.alerts()] == [(dt.date(2023, 11, 14), "ble")]
    process_batches(store, config, [PublishedBatch("venues", "v1", b"visits")], now=NOW)
    assert sorted((a.exposure_date, a.source) for a in store.alerts()) == [
        (dt.date(2023, 11, 14), "ble"), (dt.date(2023, 11, 15), "venue")]


def test_after_an_exposure_the_persons_own_report_covers_the_batchs_later_days_still_warn(store, config):
    """The person reported positive (isolating to 2023-11-14): that day's F1
    is kept unwarned, the day after their isolation still warns, and every
    new exposure reaches ``bluezone_exposure_detected``."""

    class Venues:
        name = "venues"

        def match(self, batch, store, config):
            return [Exposure(Tier.F1, "venue", dt.date(2023, 11, 14), 1.0, 30.0, {}),  # covered by the report
                    Exposure(Tier.F1, "venue", dt.date(2023, 11, 16), 1.0, 30.0, {})]  # after its isolation

    class Detected:
        def __init__(self):
            self.days = []

        @hookimpl
        def bluezone_exposure_detected(self, exposure, config):
            self.days.append(exposure.date)

    detected = Detected()
    config.pm.register(Offers(Venues()))
    config.pm.register(detected)
    store.add_own_report(reported_at=DAY0, report_type=int(ReportType.CONFIRMED_TEST), tier=int(Tier.F0),
                         isolate_until=dt.date(2023, 11, 14), keys=14)
    process_batches(store, config, [PublishedBatch("venues", "v1", b"visits")], now=NOW)
    assert [a.exposure_date for a in store.alerts()] == [dt.date(2023, 11, 16)]
    assert detected.days == [dt.date(2023, 11, 16)]
    assert {e.date: e.details.get("suppressed") is not None for e in store.exposures()} == {
        dt.date(2023, 11, 14): True, dt.date(2023, 11, 16): False}
