"""Fixtures for the BLE plugin: private key dirs, device stores, a private
D-Bus daemon and a fake BlueZ on it.

The fake BlueZ is a real D-Bus service on a real ``dbus-daemon`` started for
the test (Debian package ``dbus-daemon``; ``make test`` installs it when it
is missing). It answers ``GetManagedObjects`` with an ``org.bluez.Adapter1``
and an ``org.bluez.LEAdvertisingManager1`` at ``/org/bluez/hci0``, and, like
bluetoothd, reads the client's advertisement properties back over D-Bus
(``Properties.GetAll``) when asked to register it.

It also discovers, as bluetoothd does for a scanning client: the adapter's
``SetDiscoveryFilter``/``StartDiscovery``/``StopDiscovery`` (with BlueZ's
errors for a second start or a stop without a start), and while discovering
each advertisement on the simulated air (:class:`Advert`, only the radio is
simulated) that passes the filter's ``UUIDs`` appears as an
``org.bluez.Device1`` object (``ObjectManager.InterfacesAdded``, with
``ServiceData``, ``UUIDs`` and ``RSSI``); each further RSSI reading of it is a
``PropertiesChanged`` signal, as BlueZ reports repeated advertisements.
"""


import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.errors import DBusError
from dbus_fast.service import ServiceInterface, dbus_property, method

from bluezone.i18n import register_catalogue
from bluezone.store import DeviceStore
from bluezone_ble import CATALOGUE

# In-process tests use the plugin's modules without a plugin set: add its
# texts to the catalogue as loading the plugin does (bluezone_message_catalogues).
register_catalogue(CATALOGUE)

DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture(autouse=True)
def _private_key_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BLUEZONE_KEY_DIR", str(tmp_path_factory.mktemp("keys")))


@pytest.fixture
def make_store(tmp_path):
    opened: list[DeviceStore] = []

    def make(name: str = "phone", **kw: Any) -> DeviceStore:
        s = DeviceStore(tmp_path / f"{name}.db", key_file=tmp_path / f"{name}.key", **kw)
        opened.append(s)
        return s

    yield make
    for s in opened:
        try:
            s.close()
        except Exception:
            pass


@pytest.fixture
def dbus_address(tmp_path):
    """A private dbus-daemon for this test; yields its address."""
    if not os.path.exists(DBUS_DAEMON):  # never a silent skip: these tests are the BLE plugin's only D-Bus check
        pytest.fail("dbus-daemon is not installed: run 'make test-deps' as root "
                    "(apt-get install dbus-daemon)", pytrace=False)
    socket = tmp_path / "bus.sock"
    conf = tmp_path / "bus.conf"
    conf.write_text(_BUS_CONFIG.format(socket=socket))
    proc = subprocess.Popen([DBUS_DAEMON, f"--config-file={conf}", "--nofork", "--print-address=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), proc.stderr.read()
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


FD6F = "0000fd6f-0000-1000-8000-00805f9b34fb"


@dataclass
class Advert:
    """One phone on the simulated air: its address, its 0xFD6F service data and
    the RSSI of each time it is heard (the first in ``InterfacesAdded``)."""

    address: str
    service_data: bytes
    rssi: tuple[int, ...]
    uuids: tuple[str, ...] = (FD6F,)

    @property
    def path(self) -> str:
        return "/org/bluez/hci0/dev_" + self.address.replace(":", "_")


class _Device(ServiceInterface):
    def __init__(self, advert: Advert):
        super().__init__("org.bluez.Device1")
        self.advert = advert
        self.rssi = advert.rssi[0]

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: N802,F821
        return self.advert.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":  # noqa: N802,F821
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":  # noqa: N802,F821
        return self.advert.address.replace(":", "-")

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":  # noqa: N802,F821
        return "/org/bluez/hci0"

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":  # noqa: N802,F821
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":  # noqa: N802,F821
        return False

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":  # noqa: N802,F821
        return list(self.advert.uuids)

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":  # noqa: N802,F821
        return {FD6F: Variant("ay", self.advert.service_data)}

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":  # noqa: N802,F821
        return self.rssi


class _Adapter(ServiceInterface):
    def __init__(self, owner: "FakeBlueZ"):
        super().__init__("org.bluez.Adapter1")
        self.owner = owner
        self.powered = owner.powered
        self.discovering = False
        self.filter: dict[str, Any] = {}

    @method()
    def SetDiscoveryFilter(self, properties: "a{sv}"):  # noqa: N802,F821
        self.filter = {k: v.value for k, v in properties.items()}
        self.owner.calls.append(Call("SetDiscoveryFilter", "/org/bluez/hci0", dict(self.filter)))

    @method()
    def StartDiscovery(self):  # noqa: N802
        self.owner.calls.append(Call("StartDiscovery", "/org/bluez/hci0"))
        if not self.powered:
            raise DBusError("org.bluez.Error.NotReady", "Resource Not Ready")
        if self.discovering:
            raise DBusError("org.bluez.Error.InProgress", "Operation already in progress")
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})
        asyncio.get_running_loop().call_soon(self.owner.transmit, self.filter.get("UUIDs") or None)

    @method()
    def StopDiscovery(self):  # noqa: N802
        self.owner.calls.append(Call("StopDiscovery", "/org/bluez/hci0"))
        if not self.discovering:
            raise DBusError("org.bluez.Error.Failed", "No discovery started")
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: N802,F821
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":  # noqa: N802,F821
        return self.powered

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":  # noqa: N802,F821
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":  # noqa: N802,F821
        return self.discovering


class _Manager(ServiceInterface):
    def __init__(self, owner: "FakeBlueZ"):
        super().__init__("org.bluez.LEAdvertisingManager1")
        self.owner = owner

    @dbus_property(access=PropertyAccess.READ)
    def ActiveInstances(self) -> "y":  # noqa: N802,F821
        return len(self.owner.registered)

    @dbus_property(access=PropertyAccess.READ)
    def SupportedInstances(self) -> "y":  # noqa: N802,F821
        return 4 - len(self.owner.registered)


@dataclass
class Call:
    member: str
    path: str
    options: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None


@dataclass
class FakeBlueZ:
    """A fake ``org.bluez`` that records every advertising-manager and
    discovery call; ``air``: the advertisements it hears while discovering."""

    address: str
    powered: bool = True
    can_advertise: bool = True
    air: list[Advert] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    registered: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)
    bus: MessageBus | None = None

    async def start(self) -> "FakeBlueZ":
        self.bus = await MessageBus(bus_address=self.address).connect()
        self.bus.export("/org/bluez/hci0", _Adapter(self))
        if self.can_advertise:
            self.bus.export("/org/bluez/hci0", _Manager(self))
            self.bus.add_message_handler(self._handle)
        await self.bus.request_name("org.bluez")
        return self

    def stop(self) -> None:
        if self.bus:
            self.bus.disconnect()

    def transmit(self, uuids: list[str] | None) -> None:
        """What bluetoothd reports for the adverts on the air that pass the
        discovery filter: a new Device1 object, then one RSSI change per repeat."""
        assert self.bus is not None
        for advert in self.air:
            if uuids is not None and not set(uuids) & set(advert.uuids):
                continue
            device = self.devices.get(advert.path)
            if device is None:
                device = self.devices[advert.path] = _Device(advert)
                self.bus.export(advert.path, device)  # dbus_fast emits InterfacesAdded with every property
            else:
                device.rssi = advert.rssi[0]
                device.emit_properties_changed({"RSSI": device.rssi})
            for rssi in advert.rssi[1:]:
                device.rssi = rssi
                device.emit_properties_changed({"RSSI": rssi})

    def _handle(self, msg: Message) -> bool:
        if (msg.message_type == MessageType.METHOD_CALL and msg.interface == "org.bluez.LEAdvertisingManager1"
                and msg.member in ("RegisterAdvertisement", "UnregisterAdvertisement")):
            asyncio.ensure_future(self._serve(msg))
            return True
        return False

    async def _serve(self, msg: Message) -> None:
        assert self.bus is not None
        path = msg.body[0]
        if msg.member == "UnregisterAdvertisement":
            self.calls.append(Call("UnregisterAdvertisement", path))
            if path not in self.registered:
                self.bus.send(Message.new_error(msg, "org.bluez.Error.DoesNotExist", "Does Not Exist"))
                return
            del self.registered[path]
            self.bus.send(Message.new_method_return(msg))
            return
        options = msg.body[1]
        if path in self.registered:
            self.calls.append(Call("RegisterAdvertisement", path, options, None))
            self.bus.send(Message.new_error(msg, "org.bluez.Error.AlreadyExists", "Already Exists"))
            return
        reply = await self.bus.call(Message(destination=msg.sender, path=path,
                                            interface="org.freedesktop.DBus.Properties", member="GetAll",
                                            signature="s", body=["org.bluez.LEAdvertisement1"]))
        if reply.message_type == MessageType.ERROR:
            self.bus.send(Message.new_error(msg, "org.bluez.Error.InvalidArguments", "cannot read advertisement"))
            return
        props = {k: (v.value if isinstance(v, Variant) else v) for k, v in reply.body[0].items()}
        if "ServiceData" in props:
            props["ServiceData"] = {k: bytes(v.value) for k, v in props["ServiceData"].items()}
        self.calls.append(Call("RegisterAdvertisement", path, options, props))
        if props.get("Type") not in ("broadcast", "peripheral"):
            self.bus.send(Message.new_error(msg, "org.bluez.Error.InvalidArguments", "bad Type"))
            return
        self.registered[path] = {"sender": msg.sender, **props}
        self.bus.send(Message.new_method_return(msg))

    async def release_all(self) -> None:
        """What bluetoothd does when the adapter goes away: call Release on each."""
        assert self.bus is not None
        for path, info in list(self.registered.items()):
            await self.bus.call(Message(destination=info["sender"], path=path,
                                        interface="org.bluez.LEAdvertisement1", member="Release"))
            del self.registered[path]


@pytest.fixture
async def fake_bluez(dbus_address):
    fake = await FakeBlueZ(dbus_address).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_bluez_factory(dbus_address):
    started: list[FakeBlueZ] = []

    async def make(**kw: Any) -> FakeBlueZ:
        fake = await FakeBlueZ(dbus_address, **kw).start()
        started.append(fake)
        return fake

    yield make
    for f in started:
        f.stop()


@pytest.fixture
def advert():
    """The :class:`Advert` maker (test modules cannot import conftest under --import-mode=importlib)."""
    return Advert
