"""Scanner: parsing, coalescing, storing, duty cycle and adapter errors,
driven through bleak's own BleakScanner with a backend (bleak's ``backend=``
parameter), so bleak builds the BLEDevice/AdvertisementData objects and calls
the detection callback itself."""

import random

import pytest
from bleak import BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason
from hypothesis import given
from hypothesis import strategies as st

from bluezone.models import Sighting
from bluezone.store.engine import open_raw
from bluezone_ble.advert import (
    SERVICE_UUID,
    MalformedAdvert,
    ProximityPayload,
    find_service_data,
    parse_service_data,
    raw_advertisement,
)
from bluezone_ble.collector import ScanCollector
from bluezone_ble.duty import DutyCycle, seconds_since_last_scan
from bluezone_ble.scanner import AdapterUnavailable, BleScanner, ScanSettings, scan_window
from bluezone_ble.sim.backend import AirBackend, AirPacket

RPI_A = bytes.fromhex("8b2ed8bc2d4b6a15e4c9e1d20e04f7a3")
AEM_A = bytes.fromhex("0badcafe")
RPI_B = bytes(range(16))


def packet(data: bytes | None, rssi: int, address: str = "5A:11:22:33:44:55",
           uuids: tuple[str, ...] = (SERVICE_UUID,), key: str = SERVICE_UUID) -> AirPacket:
    return AirPacket(address, {key: data} if data is not None else {}, uuids, rssi)


async def nothing():
    return None


# -- parsing ---------------------------------------------------------------------


def test_parse_good_payload():
    p = parse_service_data(RPI_A + AEM_A)
    assert p == ProximityPayload(RPI_A, AEM_A)
    assert p.service_data() == RPI_A + AEM_A


@pytest.mark.parametrize("length", [0, 1, 16, 19, 21, 31])
def test_parse_wrong_length_is_malformed(length):
    with pytest.raises(MalformedAdvert, match="must be 20 bytes"):
        parse_service_data(bytes(length))


@given(st.binary(max_size=64))
def test_parse_fuzz(data):
    try:
        p = parse_service_data(data)
    except MalformedAdvert:
        assert len(data) != 20
    else:
        assert len(data) == 20 and p.rpi + p.aem == data


def test_find_service_data_accepts_both_uuid_spellings():
    assert find_service_data({SERVICE_UUID.upper(): b"x"}) == b"x"
    assert find_service_data({"fd6f": b"y"}) == b"y"
    assert find_service_data({"0000feaa-0000-1000-8000-00805f9b34fb": b"z"}) is None


def test_raw_advertisement_layout_is_gaen():
    raw = raw_advertisement(ProximityPayload(RPI_A, AEM_A))
    assert len(raw) == 31
    assert raw[:7] == bytes.fromhex("0201 1a 0303 6ffd".replace(" ", ""))
    assert raw[7:11] == bytes.fromhex("17166ffd") and raw[11:] == RPI_A + AEM_A


# -- the detection path ----------------------------------------------------------------


async def test_repeats_in_one_window_coalesce_with_mean_and_max(make_store):
    store = make_store()
    collector = ScanCollector()
    packets = [packet(RPI_A + AEM_A, r) for r in (-60, -64, -71)] + [packet(RPI_B + AEM_A, -80, "6B:00:00:00:00:01")]
    stored = await scan_window(collector, store, 1_700_000_000.7, 270, nothing,
                               backend=AirBackend, backend_kwargs={"packets": packets})
    assert stored == 2
    got = {s.identifier: s for s in store.sightings()}
    a = got[RPI_A]
    assert (a.time, a.rssi, a.rssi_max, a.metadata, a.seconds_since_last_scan, a.source) == \
        (1_700_000_000, -65, -60, AEM_A, 270, "ble")
    assert got[RPI_B].rssi == -80 and got[RPI_B].rssi_max == -80
    assert collector.stats.adverts == 4 and collector.stats.sightings == 2


async def test_a_scan_after_bluetooth_consent_is_withdrawn_stores_nothing(make_store):
    """Withdrawing consent while tracing runs stops recording at the next scan
    window (issue 19): bleak still reports the adverts, none is stored."""
    from bluezone.consent import record

    store = make_store()
    record(store, {"bluetooth": False}, "1")
    packets = [packet(RPI_A + AEM_A, -60), packet(RPI_B + AEM_A, -70, "6B:00:00:00:00:01")]
    stored = await scan_window(ScanCollector(), store, 1_700_000_000.7, 270, nothing,
                               backend=AirBackend, backend_kwargs={"packets": packets})
    assert stored == 0 and store.sighting_count() == 0
    record(store, {"bluetooth": True}, "1")  # given again: recorded again
    stored = await scan_window(ScanCollector(), store, 1_700_000_300.7, 270, nothing,
                               backend=AirBackend, backend_kwargs={"packets": packets})
    assert stored == 2 and store.sighting_count() == 2


async def test_malformed_and_foreign_adverts_are_counted_not_stored(make_store):
    store = make_store()
    before = store.sighting_count()
    collector = ScanCollector()
    packets = [
        packet(RPI_A, -60),                              # 16 bytes: no AEM
        packet(RPI_A + AEM_A + b"\x00", -60),            # 21 bytes
        packet(b"", -60),                                # empty
        packet(b"\x01\x02", -60, key="fd6f"),            # short, other spelling
        packet(RPI_A + AEM_A, 99),                       # impossible RSSI
        packet(RPI_A + AEM_A, -60, key="0000feaa-0000-1000-8000-00805f9b34fb"),  # listed fd6f, data elsewhere
    ]
    stored = await scan_window(collector, store, 1_700_000_000, None, nothing,
                               backend=AirBackend, backend_kwargs={"packets": packets})
    assert stored == 0
    assert store.sighting_count() == before
    assert collector.stats.malformed == 5 and collector.stats.ignored == 1


async def test_active_mode_lets_bleak_filter_other_services(make_store):
    """In active mode the scanner asks bleak for 0xFD6F only; a backend must
    drop the rest (bleak's is_allowed_uuid), so the collector never sees them."""
    store = make_store()
    collector = ScanCollector()
    other = AirPacket("11:22:33:44:55:66", {}, ("0000180f-0000-1000-8000-00805f9b34fb",), -50)
    await scan_window(collector, store, 1_700_000_000, None, nothing,
                      backend=AirBackend, backend_kwargs={"packets": [other, packet(RPI_A + AEM_A, -55)]})
    assert collector.stats.adverts == 1 and collector.stats.ignored == 0
    assert store.sighting_count() == 1


async def test_passive_mode_uses_or_pattern_and_filters_itself(make_store):
    settings = ScanSettings(scanning_mode="passive")
    kw = settings.bleak_kwargs()
    assert kw["service_uuids"] is None
    assert kw["bluez"]["or_patterns"][0].content_of_pattern == b"\x6f\xfd"
    store = make_store()
    collector = ScanCollector()
    other = AirPacket("11:22:33:44:55:66", {}, ("0000180f-0000-1000-8000-00805f9b34fb",), -50)
    await scan_window(collector, store, 1_700_000_000, None, nothing, settings=settings,
                      backend=AirBackend, backend_kwargs={"packets": [other, packet(RPI_A + AEM_A, -55)]})
    assert collector.stats.adverts == 2 and collector.stats.ignored == 1
    assert store.sighting_count() == 1


async def test_bleak_calls_our_callback_with_its_own_objects():
    seen = []
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    def cb(device, adv):
        seen.append((device, adv))

    scanner = BleakScanner(cb, [SERVICE_UUID], backend=AirBackend, packets=[packet(RPI_A + AEM_A, -61)])
    async with scanner:
        pass
    [(device, adv)] = seen
    assert isinstance(device, BLEDevice) and isinstance(adv, AdvertisementData)
    assert device.address == "5A:11:22:33:44:55" and adv.rssi == -61


@given(st.lists(st.tuples(st.binary(max_size=24), st.integers(-130, 30)), max_size=20))
def test_collector_never_raises_on_arbitrary_adverts(items):
    from bleak.backends.device import BLEDevice

    c = ScanCollector()
    c.begin_window(0, None)
    for data, rssi in items:
        adv = packet(data, rssi).advertisement_data()
        c.on_detection(BLEDevice("00:00:00:00:00:00", None, None), adv)
    out = c.end_window()
    assert c.stats.malformed + c.stats.ignored + sum(1 for _ in items if len(_[0]) == 20 and -127 <= _[1] <= 20) == len(items)
    assert all(len(s.identifier) == 16 and len(s.metadata) == 4 for s in out)


# -- adapter problems ------------------------------------------------------------------


@pytest.mark.parametrize("reason, text", [
    (BleakBluetoothNotAvailableReason.POWERED_OFF, "powered off"),
    (BleakBluetoothNotAvailableReason.NO_BLUETOOTH, "No Bluetooth adapter"),
])
async def test_missing_or_off_adapter_is_a_clear_message(make_store, reason, text):
    store = make_store()
    collector = ScanCollector()
    error = BleakBluetoothNotAvailableError("bleak says no", reason)
    with pytest.raises(AdapterUnavailable, match=text):
        await scan_window(collector, store, 1_700_000_000, None, nothing,
                          backend=AirBackend, backend_kwargs={"start_error": error})
    assert store.sighting_count() == 0
    # the window was closed even though the scan failed: the next one can open
    collector.begin_window(1_700_000_300, None)


async def test_real_bluez_backend_powered_off_adapter(make_store, fake_bluez_factory, dbus_address, monkeypatch):
    """bleak's own BlueZ backend, on a bus whose org.bluez has a powered-off adapter."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", dbus_address)
    await fake_bluez_factory(powered=False)
    with pytest.raises(AdapterUnavailable, match="Bluetooth is powered off"):
        await scan_window(ScanCollector(), make_store(), 1_700_000_000, None, nothing)


async def test_real_bluez_backend_without_bluez(make_store, dbus_address, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", dbus_address)
    with pytest.raises(AdapterUnavailable, match="BlueZ\\) is not running"):
        await scan_window(ScanCollector(), make_store(), 1_700_000_000, None, nothing)


async def test_real_bluez_backend_without_system_bus(make_store, tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    with pytest.raises(AdapterUnavailable, match="not running"):
        await scan_window(ScanCollector(), make_store(), 1_700_000_000, None, nothing)


# -- duty cycle --------------------------------------------------------------------------


def test_duty_cycle_windows_follow_period_and_jitter():
    d = DutyCycle(scan_seconds=4, period_seconds=270, jitter_seconds=30)
    wins = list(d.windows(0, 86_400, random.Random(5)))
    assert 0 <= wins[0][0] < 270
    assert all(b - a == 4 for a, b in wins)
    gaps = [b[0] - a[0] for a, b in zip(wins, wins[1:])]
    assert min(gaps) >= 240 and max(gaps) <= 300
    assert 86_400 / 300 <= len(wins) <= 86_400 / 240 + 1
    assert d.fraction == pytest.approx(4 / 270)


@pytest.mark.parametrize("bad", [dict(scan_seconds=0), dict(period_seconds=2), dict(jitter_seconds=300)])
def test_duty_cycle_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        DutyCycle(**bad)


def test_seconds_since_last_scan_is_capped():
    assert seconds_since_last_scan(None, 100) is None
    assert seconds_since_last_scan(100, 370) == 270
    assert seconds_since_last_scan(100, 100 + 3600) == 300


async def test_scanner_runs_on_its_duty_cycle(make_store):
    """A virtual clock: the scanner listens scan_seconds, then sleeps the rest
    of the (jittered) period, and records secondsSinceLastScan."""
    clock = {"now": 1_700_000_000.0}
    sleeps = []

    async def sleep(s):
        sleeps.append(s)
        clock["now"] += s

    store = make_store()
    scanner = BleScanner(DutyCycle(4, 270, 30), backend=AirBackend,
                         backend_kwargs={"packets": [packet(RPI_A + AEM_A, -60)]},
                         clock=lambda: clock["now"], sleep=sleep, rng=random.Random(2))
    progress = []
    stats = await scanner.run(store, max_scans=3, on_scan=lambda n, st: progress.append(n))
    assert progress == [1, 1, 1] and stats.scans == 3
    assert sleeps[0] == 4 and sleeps[2] == 4 and sleeps[4] == 4
    gaps = [sleeps[1] + 4, sleeps[3] + 4]
    assert all(240 <= g <= 300 for g in gaps)
    got = list(store.sightings())
    assert [s.seconds_since_last_scan for s in got] == [None, round(gaps[0]), round(gaps[1])]


async def test_a_running_scanner_purges_sightings_past_retention(make_store):
    """'bluezone trace' scans for days with the store open: the scan loop
    purges hourly, so a sighting past the retention window does not wait
    for the next open or sync (docs/store.md)."""
    clock = {"now": 1_700_000_000.0}

    async def sleep(s):
        clock["now"] += s

    store = make_store(clock=lambda: int(clock["now"]))
    old = Sighting(b"\x42" * 16, int(clock["now"]) - 14 * 86_400 + 60, -60, b"\x01\x02\x03\x04", source="ble")
    store.add_sightings([old])  # within retention when stored, past it a minute later
    scanner = BleScanner(DutyCycle(4, 270, 30), backend=AirBackend,
                         backend_kwargs={"packets": [packet(RPI_A + AEM_A, -60)]},
                         clock=lambda: clock["now"], sleep=sleep, rng=random.Random(2))
    await scanner.run(store, max_scans=3)  # about 9 minutes: past retention, not yet an hour since the last purge
    assert old.identifier in {s.identifier for s in store.sightings()}
    await scanner.run(store, max_scans=16)  # more than an hour of scanning
    heard = [s.identifier for s in store.sightings()]
    assert old.identifier not in heard and len(heard) == 19


# -- privacy (docs/privacy.md) ---------------------------------------------------------------


async def test_no_bluetooth_address_is_kept(make_store):
    """Rule 2: nothing identifying is stored. The sender's (rotating) Bluetooth
    address reaches the callback but is never written to the store."""
    store = make_store()
    address = "5A:11:22:33:44:55"
    await scan_window(ScanCollector(), store, 1_700_000_000, None, nothing,
                      backend=AirBackend, backend_kwargs={"packets": [packet(RPI_A + AEM_A, -60, address)]})
    store.close()
    # Every value of every table, decrypted (the file itself is ciphertext as a whole).
    conn = open_raw(store.path, store.key_file)
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode()
                   for t in tables for row in conn.execute(f"SELECT * FROM {t}") for v in row)
    conn.close()
    assert RPI_A in raw  # the identifier is stored (as GAEN does) ...
    for form in (address.encode(), address.replace(":", "").encode(), bytes.fromhex(address.replace(":", ""))):
        assert form not in raw  # ... the address is not
