"""Sync end to end: signed exports in, F1/F2 alerts out, exactly once."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from bluezone.config import config_from_dict
from bluezone.export import write_export
from bluezone.matching.fixtures import GAEN_APPLE_RISK, background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.models import ExposureKey, PublishedBatch, ReportType, Tier, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore
from bluezone.sync import process_batches

DAY0 = 2_833_056 * 600  # 2023-11-13 00:00 UTC
NOW = DAY0 + 5 * 86400
SIGNER, PEM = new_signing_key()


def person(day: int, rt: ReportType = ReportType.CONFIRMED_TEST, dsos: int | None = 1) -> ExposureKey:
    start = interval_number(DAY0 + day * 86400)
    return ExposureKey(os.urandom(16), start, 144, 2, rt, dsos)


def batch(keys, name="b1", signer=SIGNER, noise=200) -> PublishedBatch:
    fake = [ExposureKey(os.urandom(16), interval_number(DAY0) + 144 * (i % 5)) for i in range(noise)]
    data = write_export(list(keys) + fake, signer, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")
    return PublishedBatch("keys", name, data, DAY0, NOW)


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(3000, DAY0 - 9 * 86400, 14))
    yield s
    s.close()


@pytest.fixture
def config():
    return config_from_dict(deployment(PEM, risk=GAEN_APPLE_RISK))


def meet(store, key, day, minutes, hour=10, rssi=-60, tx=-10):
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + day * 86400 + hour * 3600, minutes, rssi=rssi, tx_power=tx))


def test_close_contact_with_f0_gives_one_f1_alert(store, config, capsys):
    f0 = person(1)
    meet(store, f0, 1, 20)
    stats = process_batches(store, config, [batch([f0])], now=NOW)
    assert (stats.batches_processed, stats.exposures_new, stats.alerts_new, stats.alerts_delivered) == (1, 1, 1, 1)
    [alert] = store.alerts()
    assert alert.tier is Tier.F1 and alert.exposure_date == dt.date(2023, 11, 14)
    assert alert.isolate_until == dt.date(2023, 11, 28)
    out = capsys.readouterr().out
    assert "[F1]" in out and "14/11/2023" in out  # console sink, the deployment's first language (vi)
    [exposure] = store.exposures()
    assert exposure.minutes == pytest.approx(20.0)


def test_rerun_is_idempotent(store, config):
    f0 = person(1)
    meet(store, f0, 1, 20)
    b = batch([f0])
    process_batches(store, config, [b], now=NOW)
    again = process_batches(store, config, [b, b], now=NOW)
    assert (again.batches_skipped, again.alerts_new, again.alerts_delivered) == (2, 0, 0)
    assert len(store.alerts()) == 1 and len(store.exposures()) == 1


def test_recursive_key_gives_f2(store, config):
    f1 = person(2, ReportType.RECURSIVE, None)
    meet(store, f1, 2, 30)
    process_batches(store, config, [batch([f1])], now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F2]
    assert "F2" in store.alerts()[0].messages["en"]


def test_f2_needs_the_persons_opt_in_and_the_deployment(store):
    f1 = person(2, ReportType.RECURSIVE)
    meet(store, f1, 2, 30)
    cfg = config_from_dict(deployment(PEM))
    process_batches(store, cfg, [batch([f1])], f2_opt_in=False, now=NOW)
    assert store.alerts() == []
    cfg_off = config_from_dict(deployment(PEM, risk={**GAEN_APPLE_RISK, "f2_alerts": False}))
    process_batches(store, cfg_off, [batch([f1], name="b2")], now=NOW)
    assert store.alerts() == []
    # the F2 gate is for F2 alone: an F0 met still warns (F1) with both switched off
    f0 = person(3)
    meet(store, f0, 3, 20)
    process_batches(store, cfg_off, [batch([f0], name="b3")], f2_opt_in=False, now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F1]


def test_short_or_far_contacts_give_nothing(store, config):
    short, far = person(1), person(1)
    meet(store, short, 1, 10)                   # 10 min < 15
    meet(store, far, 1, 60, hour=14, rssi=-105)  # attenuation 95 dB: bucket "other", weight 0
    stats = process_batches(store, config, [batch([short, far])], now=NOW)
    assert stats.exposures_new == 0 and store.alerts() == []


def test_self_report_and_revoked_keys_warn_nobody(store, config):
    a, b = person(1, ReportType.SELF_REPORT), person(1, ReportType.REVOKED)
    meet(store, a, 1, 30)
    meet(store, b, 1, 30, hour=15)
    process_batches(store, config, [batch([a, b])], now=NOW)
    assert store.alerts() == []


def test_keys_without_report_type_use_report_type_when_missing(store, config):
    k = person(1, ReportType.UNKNOWN)
    meet(store, k, 1, 20)
    process_batches(store, config, [batch([k])], now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F1]


def test_most_severe_tier_wins_on_a_day(store, config):
    f0, f1 = person(1), person(1, ReportType.RECURSIVE)
    meet(store, f0, 1, 20)
    meet(store, f1, 1, 20, hour=15)
    process_batches(store, config, [batch([f0, f1])], now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F1]


def test_f2_then_f1_on_the_same_day_escalates_once(store, config):
    f0, f1 = person(1), person(1, ReportType.RECURSIVE)
    meet(store, f1, 1, 20)
    meet(store, f0, 1, 20, hour=15)
    process_batches(store, config, [batch([f1], name="a")], now=NOW)
    process_batches(store, config, [batch([f0], name="b")], now=NOW)
    process_batches(store, config, [batch([f1], name="c")], now=NOW)  # F2 again: below F1, no alert
    assert sorted(a.tier for a in store.alerts()) == [Tier.F2, Tier.F1]


def test_exposure_accumulates_across_batches(store, config):
    """Two F0s met on one day for 10 minutes each, published in different batches."""
    a, b = person(3), person(3)
    meet(store, a, 3, 10)
    meet(store, b, 3, 10, hour=16)
    process_batches(store, config, [batch([a], name="first")], now=NOW)
    assert store.alerts() == []
    process_batches(store, config, [batch([b], name="second")], now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F1]


def test_tx_power_outside_range_is_dropped(store, config):
    k = person(1)
    meet(store, k, 1, 30, tx=25)  # a forged/corrupt advertisement: +25 dBm
    process_batches(store, config, [batch([k])], now=NOW)
    assert store.alerts() == []


def test_rssi_correction_from_calibration_changes_attenuation(store, config):
    k = person(1)
    meet(store, k, 1, 30, rssi=-65, tx=-10)  # attenuation 55: close (≤ 60 dB)
    store.set_meta("rssi_correction_db", "-10")  # corrected: attenuation 65, not close
    process_batches(store, config, [batch([k])], now=NOW)
    assert store.exposures() == []
    other = person(2)  # the same signal another day, without the correction: a close contact
    meet(store, other, 2, 30, rssi=-65, tx=-10)
    store.set_meta("rssi_correction_db", "0")
    process_batches(store, config, [batch([other], name="other")], now=NOW)
    [exposure] = store.exposures()
    assert exposure.minutes == pytest.approx(30.0)


def test_bad_signature_batch_is_refused_and_nothing_is_stored(store, config):
    k = person(1)
    meet(store, k, 1, 30)
    other, _ = new_signing_key()
    before = store.counts()
    forged = batch([k], signer=other)
    stats = process_batches(store, config, [forged], now=NOW)
    assert stats.batches_failed == 1 and "does not verify" in stats.errors[0]
    after = store.counts()
    assert after == before
    assert not store.batch_processed("keys", forged.content_id)


def test_truncated_batch_is_refused_and_later_good_batches_still_work(store, config):
    k = person(1)
    meet(store, k, 1, 30)
    good = batch([k], name="good")
    broken = PublishedBatch("keys", "broken", good.payload[:-40])
    stats = process_batches(store, config, [broken, good], now=NOW)
    assert (stats.batches_failed, stats.batches_processed, stats.alerts_new) == (1, 1, 1)


def test_windows_and_exposures_hold_no_keys_or_identifiers(store, config, tmp_path):
    """Privacy: what matching keeps is dates, tiers and attenuation figures."""
    k = person(1)
    meet(store, k, 1, 20)
    process_batches(store, config, [batch([k])], now=NOW)
    rows = store.db.execute("SELECT window FROM exposure_windows").fetchall()
    assert rows
    rpis = {s.identifier for s in contact_sightings(GAEN, k, DAY0 + 86400 + 36000, 20)}
    for (text,) in rows:
        assert k.key_data.hex() not in text and all(r.hex() not in text for r in rpis)
    for (tag,) in store.db.execute("SELECT key_tag FROM exposure_windows"):
        assert tag and k.key_data not in tag  # a keyed tag, not the key
    for e in store.exposures():
        assert set(e.details) <= {"max_window_score", "minutes_unweighted", "minutes_by_closeness", "closeness",
                                  "attenuation_thresholds_db", "report_types"}


def test_exposures_older_than_retention_are_purged(store, config):
    k = person(1)
    meet(store, k, 1, 20)
    process_batches(store, config, [batch([k])], now=NOW)
    assert store.alerts()
    store.purge(NOW + 20 * 86400)
    assert store.alerts() == [] and store.exposures() == []
    assert store.db.execute("SELECT COUNT(*) FROM exposure_windows").fetchone()[0] == 0


def test_dp3t_deployment_matches_with_its_schedule(tmp_path):
    from bluezone.schedules.dp3t_lowcost import SCHEDULE as DP3T

    cfg = config_from_dict(deployment(PEM, schedule="dp3t-lowcost"))
    s = DeviceStore(tmp_path / "d.db", clock=lambda: NOW)
    key = DP3T.new_key(DAY0 + 86400)
    key = ExposureKey(key.key_data, key.rolling_start_interval_number, 144, 2, ReportType.CONFIRMED_TEST)
    s.add_sightings(contact_sightings(DP3T, key, DAY0 + 86400 + 36000, 20, tx_power=-10))
    data = write_export([key], SIGNER, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")
    process_batches(s, cfg, [PublishedBatch("keys", "d", data)], now=NOW)
    assert [a.tier for a in s.alerts()] == [Tier.F1]
    s.close()


async def test_sync_downloads_through_the_file_transport_and_retries_failed_batches(store, config, tmp_path):
    from bluezone.sync import sync
    from bluezone.transports.file import FileTransport

    k = person(1)
    meet(store, k, 1, 20)
    feed = tmp_path / "cdn" / "keys"
    feed.mkdir(parents=True)
    other, _ = new_signing_key()
    (feed / f"{DAY0}-{NOW}-1.zip").write_bytes(batch([k], signer=other).payload)  # bad signature
    (feed / "index.txt").write_text(f"{DAY0}-{NOW}-1.zip\n")
    transport = FileTransport(tmp_path / "cdn")
    stats = await sync(store, config, transport, now=NOW)
    assert stats.batches_failed == 1 and store.alerts() == []
    # the authority re-signs the file: the next sync fetches it again and matches
    (feed / f"{DAY0}-{NOW}-1.zip").write_bytes(batch([k]).payload)
    stats = await sync(store, config, transport, now=NOW)
    assert (stats.batches_processed, stats.alerts_new) == (1, 1)
    stats = await sync(store, config, transport, now=NOW)
    assert stats.batches_downloaded == 0 and len(store.alerts()) == 1


async def test_sync_awaits_async_plugin_hooks(store, config, tmp_path):
    """The README's plugin example: an ``async def`` alert sink (and async
    event hooks) on the async sync path are awaited, and the alert is marked
    delivered only after the sink ran. (call_hook once tried asyncio.run
    inside the running loop and the alert stayed undelivered forever.)"""
    import asyncio

    from bluezone.hookspecs import hookimpl
    from bluezone.sync import sync
    from bluezone.transports.file import FileTransport

    seen: dict[str, list] = {"alerts": [], "exposures": [], "stats": []}

    class AsyncPlugin:
        @hookimpl
        async def bluezone_deliver_alert(self, alert, language, config):
            await asyncio.sleep(0)
            seen["alerts"].append((alert.tier, language))

        @hookimpl
        async def bluezone_exposure_detected(self, exposure, config):
            await asyncio.sleep(0)
            seen["exposures"].append(exposure.tier)

        @hookimpl
        async def bluezone_sync_finished(self, stats, config):
            seen["stats"].append(stats["batches_processed"])

    config.pm.register(AsyncPlugin(), name="async-test-plugin")
    k = person(1)
    meet(store, k, 1, 20)
    feed = tmp_path / "cdn" / "keys"
    feed.mkdir(parents=True)
    (feed / f"{DAY0}-{NOW}-1.zip").write_bytes(batch([k]).payload)
    (feed / "index.txt").write_text(f"{DAY0}-{NOW}-1.zip\n")
    stats = await sync(store, config, FileTransport(tmp_path / "cdn"), now=NOW)
    assert stats.alerts_delivered == 1
    assert seen == {"alerts": [(Tier.F1, "vi")], "exposures": [Tier.F1], "stats": [1]}
    assert store.alerts(undelivered_only=True) == []


async def test_sync_hook_called_from_async_code_is_refused_clearly(config):
    """Calling an async implementation through the synchronous helper inside
    a running loop names the hook instead of failing inside asyncio."""
    from bluezone.hookspecs import hookimpl
    from bluezone.plugins import PluginError, call_hook

    class AsyncSink:
        @hookimpl
        async def bluezone_sync_finished(self, stats, config):
            return None

    config.pm.register(AsyncSink(), name="async-sink")
    with pytest.raises(PluginError, match="bluezone_sync_finished.*call_hook_async"):
        call_hook(config.pm.hook.bluezone_sync_finished, stats={}, config=config)


async def test_every_sync_purges_expired_contacts_even_with_nothing_new(store, config, tmp_path):
    """"Contact data older than the retention window is purged first, every time":
    both entry points (``process_batches`` and the downloading ``sync``) purge,
    even when there is no batch to process."""
    from bluezone.sync import sync
    from bluezone.transports.file import FileTransport

    cutoff = NOW - store.retention_days * 86400
    (tmp_path / "cdn" / "keys").mkdir(parents=True)
    (tmp_path / "cdn" / "keys" / "index.txt").write_text("")
    transport = FileTransport(tmp_path / "cdn")

    async def downloading():
        return await sync(store, config, transport, now=NOW)

    async def offline():
        return process_batches(store, config, [], now=NOW)

    for run in (offline, downloading):
        store.add_sightings(background_sightings(40, cutoff - 3 * 86400, 2))
        assert len(list(store.sightings(until=cutoff))) >= 40
        kept = store.sighting_count() - len(list(store.sightings(until=cutoff)))
        stats = await run()
        assert stats.batches_processed == 0
        assert list(store.sightings(until=cutoff)) == [], run.__name__
        assert store.sighting_count() == kept  # what is still inside the window stays


async def test_a_clean_sync_keeps_the_index_tag_so_the_next_asks_only_if_it_changed(store, config, tmp_path):
    """Nothing failed: the feed state keeps the index's entity tag, so the
    next sync learns "unchanged" instead of reading the index again."""
    from bluezone.sync import sync
    from bluezone.transport import FeedState
    from bluezone.transports.file import FileTransport

    feed = tmp_path / "cdn" / "keys"
    feed.mkdir(parents=True)
    (feed / f"{DAY0}-{NOW}-1.zip").write_bytes(batch([person(1)]).payload)
    (feed / "index.txt").write_text(f"{DAY0}-{NOW}-1.zip\n")
    transport = FileTransport(tmp_path / "cdn")
    stats = await sync(store, config, transport, now=NOW)
    assert (stats.feeds_failed, stats.batches_failed, stats.errors) == (0, 0, [])
    assert (stats.batches_downloaded, stats.batches_processed) == (1, 1)
    state = FeedState.from_dict(store.get_sync_state("keys"))
    assert state.etag is not None and state.seen == [f"{DAY0}-{NOW}-1.zip"]
    assert await transport.fetch_index("keys", state.etag) is None


def test_deliver_pending_returns_how_many_alerts_it_handed_over(store, config):
    from bluezone.sync import deliver_pending

    k = person(1)
    meet(store, k, 1, 20)
    stats = process_batches(store, config, [batch([k])], now=NOW, deliver=False)
    assert (stats.batches_downloaded, stats.batches_processed, stats.alerts_new, stats.alerts_delivered) == (1, 1, 1, 0)
    assert deliver_pending(store, config) == 1
    assert deliver_pending(store, config) == 0  # delivered once


async def test_a_feed_that_cannot_be_read_and_a_listed_file_that_is_gone_are_each_counted_once(store, config, tmp_path):
    """The stats the CLI and ``bluezone_sync_finished`` report: the first
    unreadable feed's error code, and one failure per missing file."""
    from bluezone.sync import sync
    from bluezone.transport import FeedState
    from bluezone.transports.file import FileTransport

    (tmp_path / "cdn" / "keys" / "index.txt").mkdir(parents=True)  # not a file: unreadable
    stats = await sync(store, config, FileTransport(tmp_path / "cdn"), now=NOW)
    assert (stats.feeds_failed, stats.feed_error_code, stats.batches_failed) == (1, "unreadable", 0)
    (tmp_path / "cdn" / "keys" / "index.txt").rmdir()
    (tmp_path / "cdn" / "keys" / f"{DAY0}-{NOW}-2.zip").write_bytes(batch([person(1)]).payload)
    # the first file listed was never written; the one after it is still fetched
    (tmp_path / "cdn" / "keys" / "index.txt").write_text(f"{DAY0}-{NOW}-1.zip\n{DAY0}-{NOW}-2.zip\n")
    stats = await sync(store, config, FileTransport(tmp_path / "cdn"), now=NOW)
    assert (stats.feeds_failed, stats.feed_error_code, stats.batches_failed) == (0, None, 1)
    assert (stats.batches_downloaded, stats.batches_processed) == (1, 1)
    assert FeedState.from_dict(store.get_sync_state("keys")).etag is None  # asked again next time


def test_process_batch_alone_finds_the_feeds_and_dates_the_alert_by_the_store_clock(store, config):
    """Called without ``feeds`` or ``now`` (as a plugin or a script may), it
    looks the feeds up itself and stamps the alert with the store's clock."""
    from bluezone.sync import process_batch

    f0 = person(1)
    meet(store, f0, 1, 20)
    [exposure] = process_batch(store, config, batch([f0]))
    [alert] = store.alerts()
    assert alert.exposure_id == exposure.exposure_id and alert.created_at == NOW


def test_a_batch_another_sync_finished_while_this_one_waited_is_skipped(store, config, tmp_path, monkeypatch):
    """Two syncs on one store: both see the batch as new, the other one takes
    the write lock first and processes it. This one must then skip it (one
    alert, not two) and count it as skipped. The wrapper stands in for the
    other sync winning: a second real connection to the same store file marks
    the batch done just before this one's write transaction begins."""
    f0 = person(1)
    meet(store, f0, 1, 20)
    b = batch([f0])
    other = DeviceStore(tmp_path / "device.db", clock=lambda: NOW, create=False)
    real_transaction = store.transaction

    def lost_the_race():
        other.mark_batch_processed(b.feed, b.content_id, b.name)
        return real_transaction()

    from bluezone.sync import SyncStats, process_batch

    monkeypatch.setattr(store, "transaction", lost_the_race)
    stats = SyncStats()
    try:
        assert process_batch(store, config, b, now=NOW, stats=stats) == []
    finally:
        other.close()
    assert (stats.batches_skipped, stats.batches_processed, stats.exposures_new) == (1, 0, 0)
    assert store.exposures() == [] and store.alerts() == []


def test_process_batch_alone_counts_the_person_as_opted_in_to_f2_like_process_batches(store, config):
    """Both entry points share one default (opted in), so a plugin calling
    either gets the same warnings for the same batch."""
    from bluezone.sync import process_batch

    f1 = person(2, ReportType.RECURSIVE, None)
    meet(store, f1, 2, 30)
    process_batch(store, config, batch([f1]))
    assert [a.tier for a in store.alerts()] == [Tier.F2]


async def test_a_file_with_a_bad_signature_does_not_stop_the_next_and_sync_defaults_to_f2_opted_in(
        store, config, tmp_path):
    """The next file of the feed is still processed; and ``sync`` called
    without ``f2_opt_in`` has the same default as ``process_batches``."""
    from bluezone.sync import sync
    from bluezone.transports.file import FileTransport

    f1 = person(2, ReportType.RECURSIVE, None)
    meet(store, f1, 2, 30)
    feed = tmp_path / "cdn" / "keys"
    feed.mkdir(parents=True)
    other, _ = new_signing_key()
    (feed / f"{DAY0}-{NOW}-1.zip").write_bytes(batch([person(1)], signer=other).payload)  # bad signature
    (feed / f"{DAY0}-{NOW}-2.zip").write_bytes(batch([f1]).payload)
    (feed / "index.txt").write_text(f"{DAY0}-{NOW}-1.zip\n{DAY0}-{NOW}-2.zip\n")
    stats = await sync(store, config, FileTransport(tmp_path / "cdn"), now=NOW)
    assert (stats.batches_failed, stats.batches_processed) == (1, 1)
    assert [a.tier for a in store.alerts()] == [Tier.F2]
