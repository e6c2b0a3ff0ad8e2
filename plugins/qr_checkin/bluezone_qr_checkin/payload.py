"""The entry QR code: URL form, parsing and validation.

The QR holds ``https://<host>?v=3#<base64url QRCodePayload>``. The payload is in
the URL *fragment*, which browsers never send to a web server, so scanning
the code with a generic camera app leaks nothing about the venue to any
server. Parsing is strict: anything that is not a complete, current v3 venue
code is refused with a message a person understands, and nothing is stored.
"""

from __future__ import annotations

import base64
import binascii
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from bluezone.i18n import Message

from . import messages as msg
from .mcl import CryptoFormatError, load_g2
from .proto import crowdnotifier_pb2 as pb

VERSION = 3
MAX_TEXT = 100
DEFAULT_URL_BASE = "https://qr.bluezone.gov.vn"


class PayloadError(ValueError):
    """A QR code or URL that is not a usable venue code.

    ``str()`` is what a person reads (``message``, in the deployment's
    languages); ``detail`` says what exactly was wrong, for a developer
    (it is not shown: "cryptographicSeed must be 32 bytes" helps nobody at
    a venue's door)."""

    def __init__(self, message: Message, detail: str = ""):
        self.message = message
        self.detail = detail
        super().__init__(message)

    def __repr__(self) -> str:
        return f"PayloadError({self.message.msgid!r}, {self.detail!r})"


def b64url_encode(data: bytes) -> str:
    """URL-safe base64 without padding (what the reference emits)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Accepts URL-safe or standard alphabet, with or without padding."""
    text = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as e:
        raise PayloadError(msg.DAMAGED_CODE, f"bad base64: {e}") from None


def make_url(payload: bytes, url_base: str = DEFAULT_URL_BASE) -> str:
    return f"{url_base.rstrip('/')}?v={VERSION}#{b64url_encode(payload)}"


def payload_from_url(url: str) -> bytes:
    """The exact payload bytes inside a venue URL (not yet validated)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.fragment:
        raise PayloadError(msg.NOT_A_VENUE_CODE, "expected https://host?v=3#payload")
    version = urllib.parse.parse_qs(parts.query).get("v", [""])[0]
    if version != str(VERSION):
        raise PayloadError(msg.WRONG_VERSION, f"v={version or 'missing'}")
    return b64url_decode(parts.fragment)


@dataclass(frozen=True, slots=True)
class VenueInfo:
    """What a visitor's phone learns from the entry QR (all of it public)."""

    payload: bytes  # exact bytes; every derivation hashes these
    description: str
    address: str
    start_timestamp: int
    end_timestamp: int
    master_public_key: bytes
    seed: bytes
    venue_type: int = 0
    room: str = ""
    default_stay_seconds: int = 0

    @property
    def title(self) -> str:
        return f"{self.description} — {self.room}" if self.room else self.description


def _check_text(value: str, what: str) -> None:
    if unicodedata.normalize("NFC", value) != value:
        raise PayloadError(msg.DAMAGED_CODE, f"{what} is not NFC-normalised")
    if len(value.encode("utf-16-le")) // 2 > MAX_TEXT:
        raise PayloadError(msg.DAMAGED_CODE, f"{what} longer than {MAX_TEXT} characters")


def parse_payload(payload: bytes, now: int | None = None, check_time: bool = True) -> VenueInfo:
    """Decode and validate a QRCodePayload; raises :class:`PayloadError`."""
    message = pb.QRCodePayload()
    try:
        message.ParseFromString(payload)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise PayloadError(msg.DAMAGED_CODE, f"not a QRCodePayload: {e}") from None
    if not message.HasField("locationData") or not message.HasField("crowdNotifierData"):
        raise PayloadError(msg.NOT_A_VENUE_CODE, "locationData or crowdNotifierData missing")
    loc, cn = message.locationData, message.crowdNotifierData
    if message.version != VERSION or cn.version != VERSION or loc.version != VERSION:
        raise PayloadError(msg.WRONG_VERSION,
                           f"versions {message.version}/{loc.version}/{cn.version}, expected {VERSION}")
    if not loc.description:
        raise PayloadError(msg.NOT_A_VENUE_CODE, "no venue name")
    _check_text(loc.description, "description")
    _check_text(loc.address, "address")
    if len(cn.cryptographicSeed) != 32:
        raise PayloadError(msg.DAMAGED_CODE, "cryptographicSeed must be 32 bytes")
    try:
        load_g2(cn.publicKey, "publicKey")
    except CryptoFormatError as e:
        raise PayloadError(msg.DAMAGED_CODE, str(e)) from None
    if loc.endTimestamp <= loc.startTimestamp:
        raise PayloadError(msg.DAMAGED_CODE, "end before start")
    if check_time:
        now = int(time.time()) if now is None else now
        if now < loc.startTimestamp:
            raise PayloadError(msg.NOT_YET_VALID)
        if now > loc.endTimestamp:
            raise PayloadError(msg.EXPIRED)
    extra = pb.BluezoneVenueData()
    if message.countryData:
        try:
            extra.ParseFromString(message.countryData)
        except DecodeError:
            extra = pb.BluezoneVenueData()  # another deployment's country data: ignore it
    return VenueInfo(
        payload=bytes(payload), description=loc.description, address=loc.address,
        start_timestamp=loc.startTimestamp, end_timestamp=loc.endTimestamp,
        master_public_key=bytes(cn.publicKey), seed=bytes(cn.cryptographicSeed),
        venue_type=extra.venueType, room=extra.room, default_stay_seconds=extra.defaultStaySeconds,
    )


def parse_url(url: str, now: int | None = None, check_time: bool = True) -> VenueInfo:
    """A venue URL → :class:`VenueInfo` (raises :class:`PayloadError`)."""
    return parse_payload(payload_from_url(url), now=now, check_time=check_time)
