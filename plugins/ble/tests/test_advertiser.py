"""The BlueZ advertiser against a fake org.bluez on a private dbus-daemon."""

import random

import pytest

from bluezone.models import INTERVAL_SECONDS, interval_number
from bluezone.schedules.gaen import SCHEDULE, aemk, encrypt_metadata
from bluezone_ble.advert import ProximityPayload
from bluezone_ble.advertiser import (
    BluezAdvertiser,
    BlueZUnavailable,
    next_rotation,
    store_payload_source,
)
from bluezone_ble.calibration import CalibrationTable

PAYLOAD = ProximityPayload(bytes(range(16)), b"\xa1\xb2\xc3\xd4")


async def test_register_sends_exact_properties(fake_bluez, dbus_address):
    adv = BluezAdvertiser(bus_address=dbus_address)
    await adv.connect()
    assert adv.adapter_path == "/org/bluez/hci0"
    await adv.advertise(PAYLOAD)
    [call] = fake_bluez.calls
    assert call.member == "RegisterAdvertisement"
    assert call.path == "/org/bluezone/advertisement0"
    assert call.options == {}
    assert call.properties == {
        "Type": "broadcast",
        "ServiceUUIDs": ["fd6f"],
        "ServiceData": {"fd6f": bytes(range(16)) + b"\xa1\xb2\xc3\xd4"},
        "MinInterval": 200,
        "MaxInterval": 270,
    }
    await adv.stop()
    assert [c.member for c in fake_bluez.calls] == ["RegisterAdvertisement", "UnregisterAdvertisement"]
    assert fake_bluez.registered == {}
    await adv.stop()  # twice is harmless


async def test_new_identifier_reregisters(fake_bluez, dbus_address):
    adv = BluezAdvertiser(bus_address=dbus_address)
    await adv.connect()
    second = ProximityPayload(b"\xff" * 16, b"\x00\x01\x02\x03")
    await adv.advertise(PAYLOAD)
    await adv.advertise(second)
    members = [c.member for c in fake_bluez.calls]
    assert members == ["RegisterAdvertisement", "UnregisterAdvertisement", "RegisterAdvertisement"]
    assert fake_bluez.calls[-1].properties["ServiceData"] == {"fd6f": second.service_data()}
    assert list(fake_bluez.registered) == ["/org/bluezone/advertisement0"]
    await adv.stop()


async def test_rotation_follows_store_key_with_jitter(fake_bluez, dbus_address, make_store):
    """A virtual clock runs the rotation loop over three interval changes:
    each registration carries the store's RPI (and AEM) for the interval it
    happens in, and each happens between the boundary and boundary + jitter."""
    store = make_store()
    metadata = CalibrationTable.load().lookup("Samsung", "SM-A515F").metadata()
    clock = {"now": 1_700_000_123.0}

    async def sleep(seconds):
        clock["now"] += seconds

    adv = BluezAdvertiser(bus_address=dbus_address)
    await adv.run(store_payload_source(store, SCHEDULE, metadata), jitter_seconds=45,
                  clock=lambda: clock["now"], sleep=sleep, rng=random.Random(3), max_rotations=3)
    regs = [c for c in fake_bluez.calls if c.member == "RegisterAdvertisement"]
    assert len(regs) == 4 and len(adv.history) == 4
    start = interval_number(1_700_000_123)
    assert [h.interval for h in adv.history] == [start, start + 1, start + 2, start + 3]
    for h in adv.history[1:]:
        offset = h.time - h.interval * INTERVAL_SECONDS
        assert 0 <= offset < 45
    key = store.current_key(SCHEDULE, 1_700_000_123)
    for h, call in zip(adv.history, regs):
        expected = SCHEDULE.broadcast(key.key_data, key.rolling_start_interval_number, h.interval, metadata)
        assert call.properties["ServiceData"]["fd6f"] == expected.identifier + expected.metadata
        assert encrypt_metadata(aemk(key.key_data), expected.identifier, expected.metadata) == metadata
        assert call.properties["ServiceData"]["fd6f"][16:] != metadata  # TX power is not sent in the clear
    # the loop ended cleanly: last call unregisters, nothing left registered
    assert fake_bluez.calls[-1].member == "UnregisterAdvertisement"
    assert fake_bluez.registered == {}


def test_next_rotation_is_after_boundary_within_jitter():
    rng = random.Random(1)
    for now in (0, 599, 600, 1_700_000_123.5):
        t = next_rotation(now, 30, rng)
        boundary = (int(now) // 600 + 1) * 600
        assert boundary <= t < boundary + 30
    assert next_rotation(1200, 0, rng) == 1800


async def test_release_from_bluez_is_honoured(fake_bluez, dbus_address):
    adv = BluezAdvertiser(bus_address=dbus_address)
    await adv.connect()
    await adv.advertise(PAYLOAD)
    await fake_bluez.release_all()
    assert adv.advertisement.released.is_set()
    await adv.stop()  # BlueZ already dropped it: no Unregister for a released advert
    assert [c.member for c in fake_bluez.calls] == ["RegisterAdvertisement"]


async def test_bluez_absent_gives_clear_error(dbus_address):
    adv = BluezAdvertiser(bus_address=dbus_address)
    with pytest.raises(BlueZUnavailable, match="BlueZ .* is not running"):
        await adv.connect()


async def test_no_advertising_adapter_gives_clear_error(fake_bluez_factory, dbus_address):
    await fake_bluez_factory(can_advertise=False)
    with pytest.raises(BlueZUnavailable, match="No Bluetooth adapter here can advertise LE"):
        await BluezAdvertiser(bus_address=dbus_address).connect()


async def test_unknown_adapter_name(fake_bluez, dbus_address):
    with pytest.raises(BlueZUnavailable, match="'hci7'"):
        await BluezAdvertiser(bus_address=dbus_address, adapter="hci7").connect()


async def test_no_system_bus_gives_clear_error(tmp_path):
    with pytest.raises(BlueZUnavailable, match="system D-Bus"):
        await BluezAdvertiser(bus_address=f"unix:path={tmp_path}/nothing-here").connect()
