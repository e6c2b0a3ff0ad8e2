"""LOW-risk encounters: a notice without isolation advice, in Vietnamese and
English, that does not stop the same day from becoming a warning.

Over a real device store (SQLite) with signed exports, scored from
``examples/risk/cwa-v2.toml`` (HIGH from 9 normalized minutes a day, LOW from 5).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

import pytest

from bluezone.config import config_from_dict
from bluezone.export import write_export
from bluezone.matching.alerts import build_alert
from bluezone.matching.fixtures import background_sightings, contact_sightings, deployment, new_signing_key
from bluezone.models import Exposure, ExposureKey, PublishedBatch, ReportType, Tier, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore
from bluezone.sync import process_batches

DAY0 = 2_833_056 * 600  # 2023-11-13 00:00 UTC
NOW = DAY0 + 5 * 86400
SIGNER, PEM = new_signing_key()
CWA = tomllib.loads((Path(__file__).resolve().parent.parent / "examples" / "risk" / "cwa-v2.toml").read_text())["risk"]


def person(day: int, rt: ReportType = ReportType.CONFIRMED_TEST) -> ExposureKey:
    return ExposureKey(os.urandom(16), interval_number(DAY0 + day * 86400), 144, 2, rt, 1)


def batch(keys, name) -> PublishedBatch:
    data = write_export(list(keys), SIGNER, region="452", start_timestamp=DAY0, end_timestamp=NOW, key_id="452")
    return PublishedBatch("keys", name, data, DAY0, NOW)


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", clock=lambda: NOW)
    s.add_sightings(background_sightings(500, DAY0 - 9 * 86400, 14))
    yield s
    s.close()


def meet(store, key, minutes, hour=10):
    # attenuation -10 - (-60) = 50 dB: weight 0.8; a confirmed test, 1 day after onset: level 8, value 1.6
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + 86400 + hour * 3600, minutes, rssi=-60, tx_power=-10))


def test_low_notice_then_the_same_day_becomes_a_warning(store):
    config = config_from_dict(deployment(PEM, risk=CWA))
    a, b = person(1), person(1)
    meet(store, a, 5)            # 4 weighted minutes × 1.6 = 6.4: LOW
    meet(store, b, 5, hour=15)   # the day then sums 12.8: HIGH
    stats = process_batches(store, config, [batch([a], "first")], now=NOW)
    [notice] = store.alerts()
    assert stats.alerts_new == 1 and notice.tier is Tier.F1
    assert notice.isolate_until == notice.exposure_date == dt.date(2023, 11, 14)
    vi, en = notice.messages["vi"], notice.messages["en"]
    assert vi.startswith("TIẾP XÚC NGUY CƠ THẤP: Ngày 14/11/2023") and "không cần cách ly" in vi
    assert en.startswith("LOW-RISK ENCOUNTER: On 2023-11-14") and "do not need to isolate" in en
    assert "tự cách ly" not in vi and "self-isolate" not in en and "CẢNH BÁO" not in vi
    [exposure] = store.exposures()
    assert exposure.low and exposure.minutes == pytest.approx(6.4)

    process_batches(store, config, [batch([b], "second")], now=NOW)
    notice_again, warning = sorted(store.alerts(), key=lambda x: x.isolate_until)
    assert notice_again == notice
    assert warning.messages["vi"].startswith("CẢNH BÁO F1") and warning.isolate_until == dt.date(2023, 11, 28)
    assert sorted(e.low for e in store.exposures()) == [False, True]


def test_a_warned_day_gets_no_lower_low_notice(store):
    """An F1 warning and an F2-level LOW encounter on one day: only the warning."""
    values = [{"level": v["level"], "value": 1.0 if v["level"] == 2 else v["value"]}
              for v in CWA["transmission_risk_values"]]  # recursive + high infectiousness now counts
    config = config_from_dict(deployment(PEM, risk={**CWA, "transmission_risk_values": values}))
    a, f1 = person(1), person(1, ReportType.RECURSIVE)
    meet(store, a, 10)             # 8 × 1.6 = 12.8: HIGH, F1
    meet(store, f1, 7, hour=15)    # 5.6 × 1.0: LOW, F2
    stats = process_batches(store, config, [batch([a, f1], "one")], now=NOW)
    assert [al.messages["en"][:10] for al in store.alerts()] == ["F1 WARNING"] and stats.alerts_new == 1
    # without the F1 warning the same encounter is a notice
    store2 = DeviceStore(store.path.with_name("other.db"), clock=lambda: NOW)
    meet(store2, f1, 7, hour=15)
    process_batches(store2, config, [batch([f1], "one")], now=NOW)
    assert [al.messages["en"][:18] for al in store2.alerts()] == ["LOW-RISK ENCOUNTER"]
    store2.close()


def test_default_risk_section_gives_no_low_notice(store):
    config = config_from_dict(deployment(PEM))
    a = person(1)
    meet(store, a, 5)
    assert process_batches(store, config, [batch([a], "first")], now=NOW).alerts_new == 0


def test_low_and_high_of_one_day_are_different_alerts():
    config = config_from_dict(deployment(PEM))
    day = dt.date(2024, 5, 3)
    low = build_alert(Exposure(Tier.F2, "ble", day, 300, 5, {"level": "low"}), config.risk, ["vi", "en"], 0)
    high = build_alert(Exposure(Tier.F2, "ble", day, 900, 15), config.risk, ["en"], 0)
    assert low.exposure_id != high.exposure_id
    assert "near an F1 (a close contact of a case) over Bluetooth" in low.messages["en"]
    assert "ở gần một người là F1" in low.messages["vi"] and set(low.messages) == {"en", "vi"}
    # only the deployment's languages (and English, the catalogue's fallback) are stored
    assert set(build_alert(Exposure(Tier.F2, "ble", day, 300, 5, {"level": "low"}), config.risk, ["en"],
                           0).messages) == {"en"}
