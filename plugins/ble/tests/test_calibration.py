"""Calibration table: shipped data, lookups, the device's own metadata."""

import hashlib
import statistics
from pathlib import Path

import pytest

import bluezone_ble
from bluezone.schedules.gaen import SCHEDULE, read_tx_power
from bluezone_ble.calibration import (
    DEFAULT_TABLE,
    Calibration,
    CalibrationError,
    CalibrationTable,
    attenuation,
    confidence_from_metadata,
    load_from_store,
    own_calibration,
    save_to_store,
)


def test_shipped_table_is_googles_published_one():
    """The packaged default is Google's GAEN calibration table, unchanged
    (the checksum recorded with its provenance)."""
    folder = Path(bluezone_ble.__file__).parent
    source = (folder / "CALIBRATION_SOURCE.txt").read_text("utf-8")
    digest = hashlib.sha256((folder / DEFAULT_TABLE).read_bytes()).hexdigest()
    assert f"sha256 {digest}" in source
    t = CalibrationTable.load()
    assert len(t.rows) > 9000
    assert t.default.manufacturer == "*" and t.default.confidence == 0
    for r in t.rows:
        assert -50 <= r.tx_power <= 20 and 0 <= r.confidence <= 3


def test_lookup_uses_the_published_rows():
    t = CalibrationTable.load()
    # estimated for a similar model ("has direct measurement" no) → MEDIUM
    c = t.lookup("samsung", "sm-a515f")
    assert (c.tx_power, c.rssi_correction, c.confidence) == (-24, -3, 2)
    # measured → HIGH
    c = t.lookup("SAMSUNG", "SAMSUNG-SM-G930AZ")
    assert (c.tx_power, c.rssi_correction, c.confidence) == (-34, 6, 3)
    assert t.lookup("Google", "Pixel 4").tx_power == -28


def test_unknown_models_fall_back_as_gaen_does():
    """Unknown model → its manufacturer's median, LOW; unknown manufacturer →
    the whole table's median, LOWEST."""
    t = CalibrationTable.load()
    samsung = [r for r in t.rows if r.manufacturer == "Samsung" and r.model != "*"]
    c = t.lookup("Samsung", "Galaxy Z99")
    assert c.confidence == 1 and c.model == "*"
    assert c.tx_power == round(statistics.median(r.tx_power for r in samsung))
    assert c.rssi_correction == round(statistics.median(r.rssi_correction for r in samsung))
    measured = [r for r in t.rows if r.model != "*"]
    assert t.lookup("Nobody", "Nothing") == t.default
    assert t.default.tx_power == round(statistics.median(r.tx_power for r in measured))
    assert t.default.confidence == 0


def test_a_file_with_its_own_default_keeps_it():
    t = CalibrationTable.parse("manufacturer,model,tx_power,rssi_correction,confidence\n*,*,-18,0,0\nA,B,-30,4,3\n")
    assert t.default.tx_power == -18 and t.lookup("a", "x").tx_power == -30


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
    ("manufacturer,model,tx_power,rssi_correction,confidence\n", "no rows"),
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
    cal = own_calibration({"manufacturer": "Samsung", "model": "SM-A515F"})
    md = cal.metadata()
    assert len(md) == 4 and md[2:] == b"\x00\x00"
    assert read_tx_power(md) == -24
    assert md[0] == 0x50 | (2 << 2) and confidence_from_metadata(md) == 2
    assert confidence_from_metadata(bytes([0x40, 0xEE, 0, 0])) is None
    # and it survives the AEM encryption a receiver undoes at match time
    key = SCHEDULE.new_key(1_700_000_000)
    ident = SCHEDULE.broadcast(key.key_data, key.rolling_start_interval_number, key.rolling_start_interval_number, md)
    assert SCHEDULE.decrypt_metadata(key.key_data, ident.identifier, ident.metadata) == md


def test_own_calibration_is_kept_in_the_store(make_store):
    store = make_store()
    assert load_from_store(store) is None
    cal = own_calibration({"manufacturer": "Samsung", "model": "SAMSUNG-SM-G930AZ"})
    save_to_store(store, cal)
    assert load_from_store(store) == cal
    assert store.get_meta("rssi_correction_db") == "6"  # where bluezone.matching reads it


def test_deployment_calibration_file(tmp_path):
    f = tmp_path / "cal.csv"
    f.write_text("manufacturer,model,tx_power,rssi_correction,confidence\nBkav,Bphone,-16,2,2\n")
    cal = own_calibration({"manufacturer": "Bkav", "model": "Bphone", "calibration_file": str(f)})
    assert cal.tx_power == -16
