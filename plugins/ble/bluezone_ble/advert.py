"""The GAEN advertisement format, in one place (the GAEN Bluetooth specification v1.2; docs/ble.md).

A GAEN/Bluezone advertisement carries the 16-bit service UUID 0xFD6F in its
service-UUID list and, as service data under that UUID, the 16-byte Rolling
Proximity Identifier followed by the 4-byte Associated Encrypted Metadata.
Both the scanner (parsing what bleak hands over) and the advertiser and the
radio simulator (building what goes on the air) use these helpers, so a
format mistake cannot hide in one side only.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The GAEN service UUID in the 128-bit text form bleak and BlueZ use.
SERVICE_UUID = "0000fd6f-0000-1000-8000-00805f9b34fb"
#: The short form BlueZ accepts in ``ServiceUUIDs``.
SERVICE_UUID_16 = "fd6f"
RPI_LENGTH = 16
AEM_LENGTH = 4
SERVICE_DATA_LENGTH = RPI_LENGTH + AEM_LENGTH
#: Flags value used by GAEN (LE General Discoverable off, BR/EDR not supported).
FLAGS = 0x1A


class MalformedAdvert(ValueError):
    """Service data under 0xFD6F that is not RPI(16) || AEM(4)."""


@dataclass(frozen=True, slots=True)
class ProximityPayload:
    """What one GAEN advertisement says: an identifier and its encrypted metadata."""

    rpi: bytes
    aem: bytes

    def service_data(self) -> bytes:
        return self.rpi + self.aem


def find_service_data(service_data: dict[str, bytes]) -> bytes | None:
    """The 0xFD6F service data of an advertisement, or ``None`` when it has none.

    Backends spell UUIDs differently (bleak normalises to the 128-bit lower-case
    form, some tools hand over ``"fd6f"``); both are accepted.
    """
    for uuid, data in service_data.items():
        u = uuid.lower()
        if u == SERVICE_UUID or u == SERVICE_UUID_16 or u == "0x" + SERVICE_UUID_16:
            return bytes(data)
    return None


def parse_service_data(data: bytes) -> ProximityPayload:
    """Split 0xFD6F service data into RPI and AEM; anything else is malformed.

    GAEN fixes the length at exactly 20 bytes, so a longer payload is not
    truncated and accepted: it is someone else's format and is refused.
    """
    if len(data) != SERVICE_DATA_LENGTH:
        raise MalformedAdvert(
            f"0xFD6F service data must be {SERVICE_DATA_LENGTH} bytes (RPI 16 + AEM 4), got {len(data)}"
        )
    return ProximityPayload(bytes(data[:RPI_LENGTH]), bytes(data[RPI_LENGTH:]))


def raw_advertisement(payload: ProximityPayload, flags: int = FLAGS) -> bytes:
    """The 31-byte legacy advertising PDU payload GAEN phones send
    (flags | 16-bit UUID list | service data), for documentation and tests."""
    if len(payload.rpi) != RPI_LENGTH or len(payload.aem) != AEM_LENGTH:
        raise MalformedAdvert("RPI must be 16 bytes and AEM 4 bytes")
    uuid_le = bytes([0x6F, 0xFD])
    return (
        bytes([0x02, 0x01, flags])
        + bytes([0x03, 0x03]) + uuid_le
        + bytes([0x17, 0x16]) + uuid_le + payload.rpi + payload.aem
    )
