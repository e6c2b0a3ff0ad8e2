"""Calibration table: shipped data, lookups, the device's own metadata."""

import pytest

from bluezone.schedules.gaen import SCHEDULE, read_tx_power
from bluezone_ble.calibration import (
    Calibration,
    CalibrationError,
    CalibrationTable,
    attenuation,
    confidence_from_metadata,
    load_from_store,
    own_calibration,
    save_to_store,
)


def test_shipped_table_loads_and_has_a_default():
    t = CalibrationTable.load()
    assert len(t.rows) >= 10
    assert t.default.manufacturer == "*" and t.default.confidence == 0
    for r in t.rows:
        assert -50 <= r.tx_power <= 20 and 0 <= r.confidence <= 3


def test_lookup_is_case_insensitive_and_falls_back():
    t = CalibrationTable.load()
    assert t.lookup("samsung", "GALAXY A51").tx_power == -20
    assert t.lookup("Samsung", "Galaxy Z99") == t.default
    assert t.lookup("Nobody", "Nothing") == t.default


def test_google_csv_layout_is_read():
    text = ("manufacturer,device,model,rssi_correction,tx,calibration_confidence\n"
            "Google,flame,Pixel 4,5,-21,3\n*,*,*,0,-18,0\n")
    t = CalibrationTable.parse(text)
    c = t.lookup("google", "pixel 4")
    assert (c.tx_power, c.rssi_correction, c.confidence) == (-21, 5, 3)


@pytest.mark.parametrize("text, msg", [
    ("foo,bar\n1,2\n", "columns manufacturer and model"),
    ("manufacturer,model,tx_power,rssi_correction,confidence\nA,B,x,0,1\n", "not a number"),
    ("manufacturer,model,tx_power,rssi_correction,confidence\nA,B,-10,0,7\n", "confidence must be 0..3"),
    ("manufacturer,model,tx_power,rssi_correction,confidence\nA,B,-300,0,1\n", "signed byte"),
    ("manufacturer,model,tx_power,confidence\nA,B,-10,1\n", "missing rssi_correction"),
])
def test_bad_tables_are_refused_with_reason(text, msg):
    with pytest.raises(CalibrationError, match=msg):
        CalibrationTable.parse(text)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CalibrationError, match="Cannot read the calibration file"):
        CalibrationTable.load(tmp_path / "none.csv")


def test_attenuation_formula_and_floor():
    # attenuation = TX − (RSSI + correction), never negative
    assert attenuation(-18, -70, 4) == 48
    assert attenuation(-18, -5, 0) == 0
    assert Calibration("X", "Y", -20, 6, 1).attenuation(-18, -70) == 46


def test_own_entry_goes_into_the_gaen_metadata():
    cal = own_calibration({"manufacturer": "Xiaomi", "model": "Redmi Note 8"})
    md = cal.metadata()
    assert len(md) == 4 and md[2:] == b"\x00\x00"
    assert read_tx_power(md) == -22
    assert md[0] == 0x50 | (2 << 2) and confidence_from_metadata(md) == 2
    assert confidence_from_metadata(bytes([0x40, 0xEE, 0, 0])) is None
    # and it survives the AEM encryption a receiver undoes at match time
    key = SCHEDULE.new_key(1_700_000_000)
    ident = SCHEDULE.broadcast(key.key_data, key.rolling_start_interval_number, key.rolling_start_interval_number, md)
    assert SCHEDULE.decrypt_metadata(key.key_data, ident.identifier, ident.metadata) == md


def test_own_calibration_is_kept_in_the_store(make_store):
    store = make_store()
    assert load_from_store(store) is None
    cal = own_calibration({"manufacturer": "OPPO", "model": "A5s"})
    save_to_store(store, cal)
    assert load_from_store(store) == cal
    assert store.get_meta("rssi_correction_db") == "7"  # where bluezone.matching reads it


def test_deployment_calibration_file(tmp_path):
    f = tmp_path / "cal.csv"
    f.write_text("manufacturer,model,tx_power,rssi_correction,confidence\nBkav,Bphone,-16,2,2\n")
    cal = own_calibration({"manufacturer": "Bkav", "model": "Bphone", "calibration_file": str(f)})
    assert cal.tx_power == -16
