"""The plugin as installed: hooks, config sections, and the `bluezone trace`
command run as a real subprocess."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.config import ConfigError, config_from_dict
from bluezone.plugins import call_hook, collect_named, make_plugin_manager

BLUEZONE = [str(Path(sys.executable).parent / "bluezone")]
BASE = {"deployment": {"name": "Test", "region": "452"}, "authority": {"url": "https://authority.example"}}


def config(**sections):
    return config_from_dict({**BASE, **sections})


def write_config(tmp_path, extra=""):
    p = tmp_path / "deploy.toml"
    p.write_text('[deployment]\nname = "Test"\nregion = "452"\n[authority]\nurl = "https://a.example"\n' + extra)
    return p


def init_phone(cfg, store):
    """Only 'bluezone init' creates a store (and its key); trace refuses a missing one."""
    r = run_cli("init", "--config", str(cfg), "--store", str(store), "--consent", "all")
    assert r.returncode == 0, r.stderr


def test_sources_and_sections_are_registered():
    pm = make_plugin_manager()
    sources = collect_named(call_hook(pm.hook.bluezone_proximity_sources), "proximity source")
    assert {"ble", "sim"} <= set(sources)
    c = config(ble={"model": "SM-A515F", "manufacturer": "Samsung"}, sim={"scenario": "bus"})
    assert c.section("ble")["scan_period_seconds"] == 270 and c.section("sim")["devices"] == 10


@pytest.mark.parametrize("sections, text", [
    ({"ble": {"scan_sekonds": 4}}, "unknown key 'scan_sekonds'"),
    ({"sim": {"scenario": "beach"}}, "[sim] scenario"),
    ({"ble": {"scanning_mode": "loud"}}, "[ble] scanning_mode"),
    ({"ble": {"adapter": "usb0"}}, "[ble] adapter"),
])
def test_bad_sections_are_reported(sections, text):
    with pytest.raises(ConfigError) as e:
        config(**sections)
    assert text in str(e.value)


async def test_sim_source_records_into_the_given_store(make_store, tmp_path):
    pm = make_plugin_manager()
    sim = collect_named(call_hook(pm.hook.bluezone_proximity_sources), "proximity source")["sim"]
    store = make_store("me")
    c = config(sim={"scenario": "home", "devices": 4, "minutes": 60, "seed": 1})
    truth = await sim.run(store, c.schedule(), c, peers_dir=str(tmp_path / "peers"), start_time=1_700_035_200)
    assert truth.devices[0] == "me" and len(truth.devices) == 4
    assert store.sighting_count() == sum(1 for _ in store.sightings())
    assert (tmp_path / "peers" / "peer001.db").exists()


def run_cli(*args, env=None):
    return subprocess.run([*BLUEZONE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_trace_simulate_prints_progress_and_summary(tmp_path):
    out = tmp_path / "run"
    r = run_cli("trace", "--simulate", "office", "--devices", "5", "--minutes", "40", "--seed", "4",
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "100%" in r.stdout and "Summary (" in r.stdout and "Tóm tắt (" in r.stdout and "precision" in r.stdout
    # the default estimator, and the spread over seeds with the model's source (make bench's summary)
    assert "rule kalman ≤ 60 dB" in r.stdout
    assert "office: precision" in r.stdout and " ± " in r.stdout and "fitted to Leith & Farrell" in r.stdout
    assert "market: precision" not in r.stdout  # only the scenario that was run
    truth = json.loads((out / "truth.json").read_text())
    assert truth["scenario"] == "office" and len(truth["pairs"]) == 10
    assert len(list(out.glob("phone*.db"))) == 5


def test_trace_unknown_scenario_is_one_line(tmp_path):
    r = run_cli("trace", "--simulate", "beach")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "choose one of: bus, home, market, office" in r.stderr


def test_trace_real_radio_without_dbus_is_one_line(tmp_path):
    cfg = write_config(tmp_path)
    init_phone(cfg, tmp_path / "me.db")
    r = run_cli("trace", "--config", str(cfg), "--store", str(tmp_path / "me.db"), "--scans", "1",
                env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.startswith("Lỗi / Error: ")
    assert "system D-Bus" in r.stderr


async def test_trace_real_radio_powered_off_adapter(tmp_path, fake_bluez_factory, dbus_address):
    """bleak's real BlueZ backend in a subprocess, against our fake org.bluez
    whose adapter is powered off (advertising disabled in the config)."""
    await fake_bluez_factory(powered=False)
    cfg = write_config(tmp_path, "[ble]\nadvertise = false\n")
    init_phone(cfg, tmp_path / "me.db")
    proc = await asyncio.create_subprocess_exec(
        *BLUEZONE, "trace", "--config", str(cfg), "--store", str(tmp_path / "me.db"), "--scans", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": dbus_address})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2, err
    assert "Bluetooth is powered off" in err.decode() and "Traceback" not in err.decode()


async def test_trace_real_radio_carries_an_advertisement_through_bluez_into_the_store(tmp_path, fake_bluez,
                                                                                       dbus_address, advert):
    """``bluezone trace`` in a subprocess, bleak's real BlueZ backend on the
    private bus: it registers its own advertisement, sets the discovery filter,
    discovers, and the phone nearby (a Device1 with 0xFD6F service data, heard
    three times) ends up in the store as one sighting: its RPI, its AEM, the mean
    and the strongest RSSI. A phone advertising something else is ignored."""
    from bluezone.device import Device
    from bluezone_ble.advert import SERVICE_UUID as FD6F

    rpi, aem = bytes(range(16)), b"\x40\x08\x00\x00"
    fake_bluez.air = [advert("5A:11:22:33:44:55", rpi + aem, (-60, -70, -62)),
                      advert("6B:11:22:33:44:66", bytes(20), (-40,), uuids=("0000180f-0000-1000-8000-00805f9b34fb",))]
    cfg = write_config(tmp_path, "[ble]\nscan_seconds = 1\n")
    init_phone(cfg, tmp_path / "me.db")
    proc = await asyncio.create_subprocess_exec(
        *BLUEZONE, "trace", "--config", str(cfg), "--store", str(tmp_path / "me.db"), "--scans", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": dbus_address})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()

    members = [c.member for c in fake_bluez.calls]
    # the advertiser and the scanner start side by side: their calls interleave in either order,
    # but each keeps its own order, and the advertisement is withdrawn last
    scan = [c for c in fake_bluez.calls if "Advertisement" not in c.member]
    assert [c.member for c in scan] == ["SetDiscoveryFilter", "StartDiscovery", "StopDiscovery",
                                        "SetDiscoveryFilter"], members
    assert members.count("RegisterAdvertisement") == 1 and members[-1] == "UnregisterAdvertisement", members
    assert FD6F in scan[0].options["UUIDs"] and scan[3].options == {}
    assert fake_bluez.registered == {}
    assert list(fake_bluez.devices) == ["/org/bluez/hci0/dev_5A_11_22_33_44_55"]  # the filter kept the other out

    device = Device.open(cfg, tmp_path / "me.db")
    try:
        sightings = list(device.store.sightings())
    finally:
        device.store.close()
    assert [(s.identifier, s.metadata, s.rssi, s.rssi_max, s.source) for s in sightings] == \
        [(rpi, aem, -64, -60, "ble")]
