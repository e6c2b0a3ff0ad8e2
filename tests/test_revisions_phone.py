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
