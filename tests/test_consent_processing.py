"""F2 off means off, and a withdrawn purpose stops its processing, on a real
store with signed exports (the same sync the phone runs).

Before: F2 windows were stored before the opt-out filter (only the alert was
suppressed), and there was no consent to withdraw."""

from __future__ import annotations

import os

import pytest

from bluezone import consent
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


def person(day: int, rt: ReportType = ReportType.CONFIRMED_TEST) -> ExposureKey:
    return ExposureKey(os.urandom(16), interval_number(DAY0 + day * 86400), 144, 2, rt, 1)


def batch(keys, name: str) -> PublishedBatch:
    data = write_export(list(keys), SIGNER, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")
    return PublishedBatch("keys", name, data, DAY0, NOW)


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(500, DAY0 - 2 * 86400, 6))
    yield s
    s.close()


@pytest.fixture
def config():
    return config_from_dict(deployment(PEM, risk=GAEN_APPLE_RISK))


def meet(store, key, day, minutes):
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + day * 86400 + 10 * 3600, minutes, rssi=-60, tx_power=-10))


def windows(store) -> int:
    return store.db.execute("SELECT count(*) FROM exposure_windows").fetchone()[0]


def contributions(store) -> int:
    return store.db.execute("SELECT count(*) FROM matched_contributions").fetchone()[0]


def test_f2_off_stores_no_f2_window_at_all(store, config):
    f1 = person(2, ReportType.RECURSIVE)
    meet(store, f1, 2, 30)
    consent.record(store, {"f2": False}, "1")
    process_batches(store, config, [batch([f1], "a")], f2_opt_in=False, now=NOW)
    assert (windows(store), contributions(store), store.alerts()) == (0, 0, [])


def test_f2_on_stores_the_window_and_warns(store, config):
    """The control: the same contact with F2 on is matched, kept and warned."""
    f1 = person(2, ReportType.RECURSIVE)
    meet(store, f1, 2, 30)
    consent.record(store, {"f2": True}, "1")
    process_batches(store, config, [batch([f1], "a")], now=NOW)
    assert windows(store) > 0 and [a.tier for a in store.alerts()] == [Tier.F2]


def test_f2_off_by_the_deployment_stores_no_f2_window(store):
    cfg = config_from_dict(deployment(PEM, risk={**GAEN_APPLE_RISK, "f2_alerts": False}))
    f1 = person(2, ReportType.RECURSIVE)
    meet(store, f1, 2, 30)
    process_batches(store, cfg, [batch([f1], "a")], now=NOW)
    assert (windows(store), store.alerts()) == (0, [])


def test_f2_off_still_matches_f0_keys(store, config):
    f0, f1 = person(1), person(2, ReportType.RECURSIVE)
    meet(store, f0, 1, 20)
    meet(store, f1, 2, 30)
    consent.record(store, {"f2": False}, "1")
    process_batches(store, config, [batch([f0, f1], "a")], f2_opt_in=False, now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F1]
    assert {t for (t,) in store.db.execute("SELECT DISTINCT tier FROM exposure_windows")} == {int(Tier.F1)}


def test_bluetooth_withdrawn_matches_nothing(store, config):
    f0 = person(1)
    meet(store, f0, 1, 20)
    consent.record(store, {"bluetooth": False}, "1")
    stats = process_batches(store, config, [batch([f0], "a")], now=NOW)
    assert stats.batches_processed == 1  # verified and marked, but not matched
    assert (windows(store), contributions(store), store.alerts()) == (0, 0, [])


def test_a_store_without_decisions_keeps_processing(store, config):
    """A store from before consent existed: nothing withdrawn, tracing goes on."""
    assert consent.decisions(store) == {}
    f0 = person(1)
    meet(store, f0, 1, 20)
    process_batches(store, config, [batch([f0], "a")], now=NOW)
    assert [a.tier for a in store.alerts()] == [Tier.F1]


def test_recording_consent_keeps_the_f2_opt_in_in_step(store):
    consent.record(store, {"f2": False, "venues": True}, "3", now=NOW)
    assert store.get_meta("f2_opt_in") == "0"
    d = consent.decisions(store)
    assert d["venues"] == consent.Decision("venues", True, "3", NOW) and not d["f2"].granted
    with pytest.raises(consent.ConsentWithdrawn, match="bluezone consent give f2"):
        consent.require(store, "f2")
    with pytest.raises(consent.ConsentError):
        consent.record(store, {"tracking": True}, "3")


@pytest.mark.parametrize("text, granted", [
    ("all", set(consent.PURPOSES)), ("none", set()), ("bluetooth,venues", {"bluetooth", "venues"}),
    (" F2 ", {"f2"}),
])
def test_consent_choices_name_every_purpose(text, granted):
    choice = consent.parse_choice(text)
    assert set(choice) == set(consent.PURPOSES) and {p for p, g in choice.items() if g} == granted


@pytest.mark.parametrize("text", ["", "yes", "bluetooth,tracking", ","])
def test_unknown_consent_choices_are_refused(text):
    with pytest.raises(consent.ConsentError, match="--consent"):
        consent.parse_choice(text)
