"""On the phone: revised keys change the warnings they caused, and a phone
that reported itself is not warned for the days it isolates (signed exports,
a real store, the sync's own entry point)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

from bluezone import own_report
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
LIKELY, CONFIRMED = ReportType.CONFIRMED_CLINICAL_DIAGNOSIS, ReportType.CONFIRMED_TEST


def person(day: int, rt: ReportType = CONFIRMED) -> ExposureKey:
    return ExposureKey(os.urandom(16), interval_number(DAY0 + day * 86400), 144, 2, rt, 1)


def revised(key: ExposureKey, rt: ReportType) -> ExposureKey:
    return dataclasses.replace(key, report_type=rt)


def batch(keys, name, revisions=()) -> PublishedBatch:
    data = write_export(list(keys), SIGNER, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452",
                        revised_keys=list(revisions))
    return PublishedBatch("keys", name, data, DAY0, NOW)


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(500, DAY0 - 9 * 86400, 14))
    yield s
    s.close()


def config(**risk):
    return config_from_dict(deployment(PEM, risk={**GAEN_APPLE_RISK, **risk}))


def meet(store, key, day, minutes, hour=10):
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + day * 86400 + hour * 3600, minutes, rssi=-60, tx_power=-10))


def short_f1_and_warning_f2(store):
    """Day 1: an F1 contact too short to warn while only likely (8 weighted
    minutes, 16 once confirmed) and an F2 contact that warns, synced once."""
    cfg = config(f2_alerts=True, report_type_weights={"confirmed_test": 1.0, "confirmed_clinical_diagnosis": 0.5,
                                                      "self_report": 0.0, "recursive": 1.0})
    likely, contact_of_case = person(1, LIKELY), person(1, ReportType.RECURSIVE)
    meet(store, likely, 1, 16)
    meet(store, contact_of_case, 1, 24, hour=14)
    process_batches(store, cfg, [batch([likely, contact_of_case], "b1")], now=NOW, f2_opt_in=True)
    return cfg, likely, contact_of_case


def test_revoking_one_of_two_keys_withdraws_the_warning_only_below_the_threshold(store):
    cfg = config()
    likely, confirmed = person(1, LIKELY), person(1)
    meet(store, likely, 1, 10)
    meet(store, confirmed, 1, 10, hour=14)  # 10 + 10 minutes: over the 15-minute threshold together
    process_batches(store, cfg, [batch([likely, confirmed], "b1")], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "active"
    stats = process_batches(store, cfg, [batch([], "b2", [revised(likely, ReportType.REVOKED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "withdrawn" and alert.messages["en"].startswith("WARNING WITHDRAWN (F1, 2023-11-14)")
    assert alert.messages["vi"].startswith("ĐÃ RÚT LẠI CẢNH BÁO F1 ngày 14/11/2023")
    assert stats.alerts_delivered == 1  # shown again, so the person learns of it
    assert store.exposures() == []


def test_a_revocation_that_leaves_enough_minutes_keeps_the_warning(store):
    cfg = config()
    likely, confirmed = person(1, LIKELY), person(1)
    meet(store, likely, 1, 20)
    meet(store, confirmed, 1, 20, hour=14)
    process_batches(store, cfg, [batch([likely, confirmed], "b1")], now=NOW)
    assert store.exposures()[0].minutes == pytest.approx(40)
    process_batches(store, cfg, [batch([], "b2", [revised(likely, ReportType.REVOKED)])], now=NOW)
    [alert] = store.alerts()
    [exposure] = store.exposures()
    assert alert.state == "active" and exposure.minutes == pytest.approx(20)
    assert exposure.details["report_types"] == ["confirmed_test"]


def test_an_upgrade_can_warn_for_the_first_time(store):
    cfg = config(report_type_weights={"confirmed_test": 1.0, "confirmed_clinical_diagnosis": 0.5,
                                      "self_report": 0.0, "recursive": 1.0})
    likely = person(2, LIKELY)
    meet(store, likely, 2, 20)  # 20 min × 0.5 = 10 weighted minutes: below 15
    process_batches(store, cfg, [batch([likely], "b1")], now=NOW)
    assert store.alerts() == []
    stats = process_batches(store, cfg, [batch([], "b2", [revised(likely, CONFIRMED)])], now=NOW)
    assert stats.alerts_new == 1
    [alert] = store.alerts()
    assert alert.tier is Tier.F1 and alert.state == "active" and alert.exposure_date == dt.date(2023, 11, 15)
    # the same revision again (a re-published file) changes nothing
    again = process_batches(store, cfg, [batch([], "b3", [revised(likely, CONFIRMED)])], now=NOW)
    assert (again.alerts_new, again.alerts_delivered) == (0, 0)


def test_an_upgrade_of_a_warned_day_is_shown_as_an_update(store):
    cfg = config()
    likely = person(1, LIKELY)
    meet(store, likely, 1, 20)
    process_batches(store, cfg, [batch([likely], "b1")], now=NOW)
    stats = process_batches(store, cfg, [batch([], "b2", [revised(likely, CONFIRMED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "upgraded" and stats.alerts_delivered == 1
    assert alert.messages["vi"].startswith("CẬP NHẬT: người bạn đã tiếp xúc nay đã được xác nhận") \
        and "CẢNH BÁO F1" in alert.messages["vi"]


def test_a_reported_case_keeps_contacts_as_information_until_its_isolation_ends(store):
    cfg = config()
    own_report.record(store, report_type=int(CONFIRMED), keys=3, isolation_days=2, now=DAY0 + 86400)
    during, after = person(2), person(4)  # the isolation ends with 2023-11-16
    meet(store, during, 2, 30)
    meet(store, after, 4, 30)
    stats = process_batches(store, cfg, [batch([during, after], "b1")], now=NOW)
    assert stats.alerts_new == 1
    assert [a.exposure_date for a in store.alerts()] == [dt.date(2023, 11, 17)]
    [kept] = [e for e in store.exposures() if e.date == dt.date(2023, 11, 15)]
    assert kept.details["suppressed"] == "reported_positive"


@pytest.mark.parametrize("source", ["venue", "beacon"])
def test_a_revision_touches_only_the_bluetooth_warning_not_another_sources_of_the_same_day(store, source):
    """A venue check-in warned the person for 2023-11-14 (the QR plugin's
    exposure and alert, stored as its sync stores them; ``beacon`` stands for
    another plugin's source, named before ``ble`` in sort order); the same day
    a Bluetooth contact too short to warn is later revoked. Scoring that day
    again concerns the Bluetooth exposures only: the other warning stays."""
    from bluezone.matching.alerts import build_alert
    from bluezone.models import Exposure

    cfg = config()
    day = dt.date(2023, 11, 14)
    venue = Exposure(Tier.F1, source, day, 1.0, 45, {"visit_id": "v1"})
    assert store.add_exposure(venue)
    store.add_alert(build_alert(venue, cfg.risk, cfg.languages, NOW))
    likely = person(1, LIKELY)
    meet(store, likely, 1, 10)  # 10 minutes: kept as windows, below the 15 that warn
    process_batches(store, cfg, [batch([likely], "b1")], now=NOW)
    assert [(e.source, e.date) for e in store.exposures()] == [(source, day)]
    process_batches(store, cfg, [batch([], "b2", [revised(likely, ReportType.REVOKED)])], now=NOW)
    [alert] = store.alerts()
    assert (alert.source, alert.state) == (source, "active")
    assert [(e.source, e.date) for e in store.exposures()] == [(source, day)]


def test_warnings_of_two_tiers_on_one_day_each_describe_only_their_own_windows(store):
    """One day holds an F1 contact too short to warn and an F2 contact (met
    an F1) that warns. Upgrading the F1 contact's report scores the day again:
    the F1 contact now warns for the first time, and each warning's facts
    (what ``status`` shows as why) count only its own tier's windows: minutes
    and report type."""
    cfg, likely, contact_of_case = short_f1_and_warning_f2(store)
    [before] = store.exposures()
    assert before.tier is Tier.F2 and before.details["report_types"] == ["recursive"]
    stats = process_batches(store, cfg, [batch([], "b2", [revised(likely, CONFIRMED)])], now=NOW, f2_opt_in=True)
    assert stats.alerts_new == 1
    f2, f1 = store.exposures()  # by day, then tier
    assert (f2.tier, f1.tier) == (Tier.F2, Tier.F1)
    assert f2.details["report_types"] == ["recursive"] and f1.details["report_types"] == ["confirmed_test"]
    assert f2.details["minutes_unweighted"] == before.details["minutes_unweighted"] == pytest.approx(24, abs=1)
    assert f1.details["minutes_unweighted"] == pytest.approx(16, abs=1)
    assert sorted((a.tier.name, a.state) for a in store.alerts()) == [("F1", "active"), ("F2", "active")]


def test_an_upgraded_warning_is_stored_as_if_the_key_had_come_confirmed(store, tmp_path):
    """A revision leaves the exposures a first sync of the revised keys would
    have stored: the same score, minutes and facts (to the same rounding),
    here with a report-type weight that gives the score four decimals, and
    two days upgraded by one batch, each described by its own windows."""
    weights = {"confirmed_test": 0.912347, "confirmed_clinical_diagnosis": 0.8, "self_report": 0.0, "recursive": 1.0}
    cfg = config(report_type_weights=weights)
    likely = [person(1, LIKELY), person(3, LIKELY)]
    contacts = [(likely[0], 1, 25), (likely[1], 3, 40)]
    for key, day, minutes in contacts:
        meet(store, key, day, minutes)
    process_batches(store, cfg, [batch(likely, "b1")], now=NOW)
    process_batches(store, cfg, [batch([], "b2", [revised(k, CONFIRMED) for k in likely])], now=NOW)
    upgraded = store.exposures()
    fresh_store = DeviceStore(tmp_path / "fresh.db", clock=lambda: NOW)
    try:
        for key, day, minutes in contacts:
            meet(fresh_store, key, day, minutes)
        process_batches(fresh_store, cfg, [batch([revised(k, CONFIRMED) for k in likely], "b1")], now=NOW)
        fresh = fresh_store.exposures()
    finally:
        fresh_store.close()
    assert [e.date for e in fresh] == [dt.date(2023, 11, 14), dt.date(2023, 11, 16)]
    assert fresh[0].details["minutes_unweighted"] != fresh[1].details["minutes_unweighted"]
    assert round(fresh[0].details["max_window_score"], 2) != fresh[0].details["max_window_score"]  # rounding shows
    assert [(e.date, e.score, e.minutes, e.details) for e in upgraded] == \
        [(e.date, e.score, e.minutes, e.details) for e in fresh]


def test_a_warning_shown_as_upgraded_is_not_upgraded_a_second_time(store):
    """Two likely cases met the same day: the first is confirmed (the warning
    is shown again as an update), then revoked (the second still warns), then
    the second is confirmed. The person was already told the contact is now
    confirmed: the warning is not shown a third time with a second "UPDATE"."""
    cfg = config()
    first, second = person(1, LIKELY), person(1, LIKELY)
    meet(store, first, 1, 20)
    meet(store, second, 1, 20, hour=14)
    process_batches(store, cfg, [batch([first, second], "b1")], now=NOW)
    process_batches(store, cfg, [batch([], "b2", [revised(first, CONFIRMED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "upgraded"
    shown = alert.messages
    process_batches(store, cfg, [batch([], "b3", [revised(first, ReportType.REVOKED)])], now=NOW)
    stats = process_batches(store, cfg, [batch([], "b4", [revised(second, CONFIRMED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "upgraded" and alert.messages == shown and stats.alerts_delivered == 0
    assert alert.messages["en"].count("UPDATE") == 1


def test_a_withdrawn_warning_is_not_withdrawn_a_second_time(store):
    """A warning is withdrawn (its key revoked); the person then reports
    positive, so a new contact that day is kept as information only (an
    exposure, no warning: the alert stays withdrawn). When that contact's key
    is revoked too, the person is not shown the withdrawal again."""
    cfg = config()
    first, later = person(1, LIKELY), person(1, LIKELY)
    meet(store, first, 1, 20)
    process_batches(store, cfg, [batch([first], "b1")], now=NOW)
    process_batches(store, cfg, [batch([], "b2", [revised(first, ReportType.REVOKED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "withdrawn"
    shown = alert.messages
    own_report.record(store, report_type=int(CONFIRMED), keys=3, isolation_days=10, now=DAY0 + 86400)
    meet(store, later, 1, 20, hour=14)
    process_batches(store, cfg, [batch([later], "b3")], now=NOW)
    [kept] = store.exposures()
    assert kept.details["suppressed"] == "reported_positive"
    stats = process_batches(store, cfg, [batch([], "b4", [revised(later, ReportType.REVOKED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "withdrawn" and alert.messages == shown and stats.alerts_delivered == 0
    assert store.exposures() == []


def test_revoking_a_contact_kept_only_as_information_leaves_no_warning(store):
    """A person who reported positive is not warned for the days they isolate:
    the contact is kept as information, with no alert at all. When its key is
    revoked the exposure goes, and there is still no alert (none to withdraw)."""
    cfg = config()
    own_report.record(store, report_type=int(CONFIRMED), keys=3, isolation_days=10, now=DAY0 + 86400)
    key = person(1, LIKELY)
    meet(store, key, 1, 20)
    process_batches(store, cfg, [batch([key], "b1")], now=NOW)
    [kept] = store.exposures()
    assert kept.details["suppressed"] == "reported_positive" and store.alerts() == []
    stats = process_batches(store, cfg, [batch([], "b2", [revised(key, ReportType.REVOKED)])], now=NOW)
    assert (stats.batches_processed, stats.batches_failed, stats.errors) == (1, 0, [])
    assert store.exposures() == [] and store.alerts() == []


def test_one_batch_that_makes_a_days_f1_warn_also_withdraws_its_revoked_f2(store):
    """One batch of revisions confirms the day's F1 contact (it now warns for
    the first time) and revokes its F2 contact: the day is scored again for
    both tiers, so the F2 warning is withdrawn as well."""
    cfg, likely, contact_of_case = short_f1_and_warning_f2(store)
    assert [(a.tier.name, a.state) for a in store.alerts()] == [("F2", "active")]
    process_batches(store, cfg, [batch([], "b2", [revised(likely, CONFIRMED),
                                                  revised(contact_of_case, ReportType.REVOKED)])],
                    now=NOW, f2_opt_in=True)
    assert sorted((a.tier.name, a.state) for a in store.alerts()) == [("F1", "active"), ("F2", "withdrawn")]
    assert [e.tier for e in store.exposures()] == [Tier.F1]


def test_revoking_a_key_sighted_once_can_withdraw_a_warning(store):
    """A key seen in a single scan still counts, and its revocation still
    applies: one minute of it and fourteen of a confirmed case make the 15
    that warn; revoking the one-minute key withdraws the warning."""
    cfg = config()
    brief, confirmed = person(1, LIKELY), person(1)
    meet(store, brief, 1, 1)  # one scan
    meet(store, confirmed, 1, 14, hour=14)
    process_batches(store, cfg, [batch([brief, confirmed], "b1")], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "active"
    process_batches(store, cfg, [batch([], "b2", [revised(brief, ReportType.REVOKED)])], now=NOW)
    [alert] = store.alerts()
    assert alert.state == "withdrawn" and store.exposures() == []
