"""The advertiser: Bluezone identifiers on the air through BlueZ over D-Bus.

bleak cannot advertise, so this talks to BlueZ directly with dbus-fast
(the GAEN Bluetooth specification): it exports an ``org.bluez.LEAdvertisement1`` object
(``Type`` "broadcast", ``ServiceUUIDs`` ["fd6f"], ``ServiceData``
{"fd6f": RPI || AEM}) and registers it with the adapter's
``org.bluez.LEAdvertisingManager1.RegisterAdvertisement``. When the
identifier changes (each 10-minute interval, with jitter) the advertisement
is unregistered and registered again with the new data, which is what makes
BlueZ (with ``Privacy`` enabled in ``main.conf``) pick a new random address
together with the new identifier. On exit it unregisters cleanly.

This module deliberately has no ``from __future__ import annotations``:
dbus-fast reads the D-Bus signatures from the annotations at class creation.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from bluezone import INTERVAL_SECONDS, interval_number
from bluezone.i18n import Message as I18nMessage
from bluezone.i18n import _

from .advert import SERVICE_UUID_16, ProximityPayload

BLUEZ = "org.bluez"
ADVERTISING_MANAGER = "org.bluez.LEAdvertisingManager1"
ADVERTISEMENT = "org.bluez.LEAdvertisement1"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
DEFAULT_PATH = "/org/bluezone/advertisement0"


class BlueZUnavailable(RuntimeError):
    """BlueZ (or an adapter that can advertise) is not there; the message says
    what to do (a :class:`bluezone.i18n.Message`: ``str()`` is in the deployment's languages)."""


def _unavailable(message: I18nMessage) -> BlueZUnavailable:
    return BlueZUnavailable(message)


class Advertisement(ServiceInterface):
    """The exported ``org.bluez.LEAdvertisement1`` object BlueZ reads."""

    def __init__(self, min_interval_ms: int = 200, max_interval_ms: int = 270):
        super().__init__(ADVERTISEMENT)
        self.payload: ProximityPayload | None = None
        self.min_interval_ms = min_interval_ms
        self.max_interval_ms = max_interval_ms
        self.released = asyncio.Event()

    @dbus_method()
    def Release(self) -> None:  # noqa: N802 - D-Bus name
        """BlueZ dropped the advertisement (adapter reset or powered off)."""
        self.released.set()

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":  # type: ignore[name-defined]  # noqa: N802,F821 - a D-Bus signature, read by dbus-next
        return "broadcast"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":  # type: ignore[valid-type]  # noqa: N802,F821,F722 - a D-Bus signature
        return [SERVICE_UUID_16]

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":  # type: ignore[valid-type]  # noqa: N802,F821,F722 - a D-Bus signature
        data = self.payload.service_data() if self.payload else b""
        return {SERVICE_UUID_16: Variant("ay", data)}

    @dbus_property(access=PropertyAccess.READ)
    def MinInterval(self) -> "u":  # type: ignore[name-defined]  # noqa: N802,F821 - a D-Bus signature
        return self.min_interval_ms

    @dbus_property(access=PropertyAccess.READ)
    def MaxInterval(self) -> "u":  # type: ignore[name-defined]  # noqa: N802,F821 - a D-Bus signature
        return self.max_interval_ms


def next_rotation(now: float, jitter_seconds: float, rng: random.Random) -> float:
    """When to switch to the next identifier: the next interval boundary plus
    a random delay in ``[0, jitter_seconds)``, so phones near each other do not
    all change address at the same instant."""
    boundary = (int(now) // INTERVAL_SECONDS + 1) * INTERVAL_SECONDS
    return boundary + rng.uniform(0, jitter_seconds) if jitter_seconds > 0 else float(boundary)


@dataclass(frozen=True, slots=True)
class Registration:
    """One registration made, for progress output and tests."""

    time: float
    interval: int
    payload: ProximityPayload


class BluezAdvertiser:
    """Registers and rotates one broadcast advertisement with BlueZ."""

    def __init__(
        self,
        *,
        bus_address: str | None = None,
        adapter: str | None = None,
        path: str = DEFAULT_PATH,
        min_interval_ms: int = 200,
        max_interval_ms: int = 270,
    ):
        self.bus_address = bus_address
        self.adapter = adapter
        self.path = path
        self.advertisement = Advertisement(min_interval_ms, max_interval_ms)
        self.bus: MessageBus | None = None
        self.adapter_path: str | None = None
        self.registered = False
        self.history: list[Registration] = []

    # -- connection --------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the system bus (or ``bus_address``), find an adapter that
        can advertise, export the advertisement object."""
        try:
            if self.bus_address:
                bus = MessageBus(bus_address=self.bus_address)
            else:
                bus = MessageBus(bus_type=BusType.SYSTEM)
            self.bus = await bus.connect()
        except (OSError, EOFError) as e:
            raise _unavailable(_("Cannot reach the system D-Bus ({detail}); BlueZ advertising needs it.",
                                 detail=e.__class__.__name__)) from None
        reply = await self.bus.call(Message(destination=BLUEZ, path="/", interface=OBJECT_MANAGER,
                                            member="GetManagedObjects"))
        if reply.message_type == MessageType.ERROR:
            self.bus.disconnect()
            if reply.error_name in ("org.freedesktop.DBus.Error.ServiceUnknown",
                                    "org.freedesktop.DBus.Error.NameHasNoOwner"):
                raise _unavailable(_("BlueZ (bluetoothd) is not running; install and start it to advertise."))
            raise _unavailable(_("BlueZ answered {error}: {body}.", error=reply.error_name, body=reply.body))
        candidates = sorted(p for p, ifaces in reply.body[0].items() if ADVERTISING_MANAGER in ifaces)
        if self.adapter:
            candidates = [p for p in candidates if p.rsplit("/", 1)[-1] == self.adapter]
        if not candidates:
            self.bus.disconnect()
            if self.adapter:
                raise _unavailable(_("No LE advertising support on {adapter} (LEAdvertisingManager1 missing).",
                                     adapter=repr(self.adapter)))
            raise _unavailable(_("No Bluetooth adapter here can advertise LE (LEAdvertisingManager1 missing)."))
        self.adapter_path = candidates[0]
        self.bus.export(self.path, self.advertisement)

    async def _call_manager(self, member: str, signature: str, body: list[Any]) -> None:
        assert self.bus is not None and self.adapter_path is not None, "connect() first"
        reply = await self.bus.call(Message(destination=BLUEZ, path=self.adapter_path,
                                            interface=ADVERTISING_MANAGER, member=member,
                                            signature=signature, body=body))
        if reply.message_type == MessageType.ERROR:
            raise DBusError(reply.error_name or "org.bluez.Error.Failed", str(reply.body[0] if reply.body else ""))

    # -- advertising -------------------------------------------------------------

    async def advertise(self, payload: ProximityPayload, at: float | None = None) -> None:
        """Put ``payload`` on the air, replacing what was there."""
        if self.registered:
            await self._call_manager("UnregisterAdvertisement", "o", [self.path])
            self.registered = False
        self.advertisement.payload = payload
        self.advertisement.released.clear()
        await self._call_manager("RegisterAdvertisement", "oa{sv}", [self.path, {}])
        self.registered = True
        t = time.time() if at is None else at
        self.history.append(Registration(t, interval_number(t), payload))

    async def stop(self) -> None:
        """Unregister (if registered), unexport and disconnect; safe to call twice."""
        if self.bus is None:
            return
        try:
            if self.registered and not self.advertisement.released.is_set():
                await self._call_manager("UnregisterAdvertisement", "o", [self.path])
        finally:
            self.registered = False
            self.bus.unexport(self.path)
            self.bus.disconnect()
            self.bus = None

    async def run(
        self,
        current_payload: Callable[[float], ProximityPayload],
        *,
        jitter_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        max_rotations: int | None = None,
    ) -> None:
        """Advertise until cancelled, switching identifiers at each interval
        boundary plus jitter. ``current_payload(now)`` gives what to send."""
        rng = rng or random.Random()
        if self.bus is None:
            await self.connect()
        try:
            done = 0
            while True:
                now = clock()
                await self.advertise(current_payload(now), now)
                if max_rotations is not None and done >= max_rotations:
                    break
                done += 1
                await sleep(max(0.0, next_rotation(now, jitter_seconds, rng) - clock()))
        finally:
            await self.stop()


def store_payload_source(store: Any, schedule: Any, metadata: bytes) -> Callable[[float], ProximityPayload]:
    """``current_payload`` for :meth:`BluezAdvertiser.run`: this device's own
    identifier for the moment, from its own key in the store."""

    def payload(now: float) -> ProximityPayload:
        key = store.current_key(schedule, int(now))
        ident = schedule.broadcast(key.key_data, key.rolling_start_interval_number, interval_number(now), metadata)
        return ProximityPayload(ident.identifier, ident.metadata)

    return payload
