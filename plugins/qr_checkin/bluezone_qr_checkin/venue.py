"""Venue setup, offline on the owner's machine (basic and managed variants).

Basic: the owner's machine makes two master key pairs, one for the venue
(msk_L) and one for the health authority (msk_HA). The QR carries
``mpk = mpk_L + mpk_HA``; msk_HA is sealed to the authority's public key and
forgotten. The owner keeps the *tracing code* (payload, msk_L, sealed msk_HA).
Tracing later needs both secrets: the owner's msk_L and the authority's
private key, which alone opens msk_HA.

Managed (an office with many rooms): msk_O = ``Fr.setHashOf(passphrase)``, one
mpk for every room, and an organisation file that holds only public values
(mpk, sealed msk_HA, the room payloads). The passphrase is the only secret.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nacl.public

from bluezone.i18n import _

from . import payload as qp
from .ibe import keygen
from .mcl import G2, Fr, fr_set_hash_of, g2, load_fr, load_g2
from .proto import crowdnotifier_pb2 as pb

#: A permanent venue's code is valid this long (then it must be reprinted).
PERMANENT_VALIDITY = 5 * 365 * 86_400

VENUE_TYPES = {name.lower(): number for name, number in pb.VenueType.items()}


class VenueSetupError(ValueError):
    """Bad venue settings (names too long, times reversed, unknown type...);
    raised with a :class:`bluezone.i18n.Message`."""


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """What the owner types in."""

    name: str
    address: str
    venue_type: str = "other"
    default_stay_seconds: int = 2 * 3600
    start: int | None = None  # event start; None: a permanent venue
    end: int | None = None
    room: str = ""


def _venue_payload(spec: VenueSpec, mpk: G2, now: int) -> bytes:
    if spec.venue_type.lower() not in VENUE_TYPES:
        raise VenueSetupError(_("Unknown venue type {type}; one of {types}", type=repr(spec.venue_type),
                                 types=", ".join(VENUE_TYPES)))
    if not spec.name.strip():
        raise VenueSetupError(_("The venue needs a name"))
    if len(spec.name.encode("utf-16-le")) // 2 > qp.MAX_TEXT:
        raise VenueSetupError(_("The venue name is longer than {n} characters", n=qp.MAX_TEXT))
    if len(spec.address.encode("utf-16-le")) // 2 > qp.MAX_TEXT:
        raise VenueSetupError(_("The address is longer than {n} characters", n=qp.MAX_TEXT))
    if spec.default_stay_seconds <= 0 or spec.default_stay_seconds > 24 * 3600:
        raise VenueSetupError(_("The default stay must be between 1 minute and 24 hours"))
    if (spec.start is None) != (spec.end is None):
        raise VenueSetupError(_("An event needs both START and END"))
    if spec.start is not None:
        start, end = int(spec.start), int(spec.end)  # type: ignore[arg-type]
        if end <= start:
            raise VenueSetupError(_("The event ends before it starts"))
    else:
        start = now - now % 86_400
        end = start + PERMANENT_VALIDITY
    country = pb.BluezoneVenueData(
        version=1, venueType=VENUE_TYPES[spec.venue_type.lower()],
        room=unicodedata.normalize("NFC", spec.room), defaultStaySeconds=spec.default_stay_seconds,
    )
    message = pb.QRCodePayload(
        version=qp.VERSION,
        locationData=pb.TraceLocation(
            version=qp.VERSION, description=unicodedata.normalize("NFC", spec.name.strip()),
            address=unicodedata.normalize("NFC", spec.address.strip()),
            startTimestamp=start, endTimestamp=end,
        ),
        crowdNotifierData=pb.CrowdNotifierData(
            version=qp.VERSION, publicKey=mpk.serialize(), cryptographicSeed=os.urandom(32),
        ),
        countryData=country.SerializeToString(),
    )
    return message.SerializeToString()


def _seal_ha_part(authority_public_key: bytes) -> tuple[G2, bytes]:
    """Make the authority's IBE key pair, seal its secret, forget it."""
    if len(authority_public_key) != 32:
        raise VenueSetupError(_("The authority's public key must be 32 bytes (X25519)"))
    mpk_ha, msk_ha = keygen()
    sealed = nacl.public.SealedBox(nacl.public.PublicKey(authority_public_key)).encrypt(msk_ha.serialize())
    return mpk_ha, bytes(sealed)


@dataclass(frozen=True, slots=True)
class CreatedVenue:
    payload: bytes
    tracing_code: bytes  # serialized QRCodeTrace; the owner's secret

    def url(self, url_base: str = qp.DEFAULT_URL_BASE) -> str:
        return qp.make_url(self.payload, url_base)


def create_venue(spec: VenueSpec, authority_public_key: bytes, now: int | None = None) -> CreatedVenue:
    """Basic variant: a fresh key pair per venue."""
    now = int(time.time()) if now is None else now
    mpk_l, msk_l = keygen()
    mpk_ha, ctxt_ha = _seal_ha_part(authority_public_key)
    payload = _venue_payload(spec, mpk_l + mpk_ha, now)
    trace = pb.QRCodeTrace(version=qp.VERSION, qrCodePayload=payload,
                           masterSecretKeyLocation=msk_l.serialize(), cipherTextHealthAuthority=ctxt_ha)
    return CreatedVenue(payload, trace.SerializeToString())


def load_tracing_code(data: bytes) -> pb.QRCodeTrace:
    """Parse and check an owner's tracing code (file bytes or a scanned QR's base64)."""
    trace = pb.QRCodeTrace()
    try:
        trace.ParseFromString(data)
    except Exception:
        raise VenueSetupError(_("This is not a Bluezone tracing code")) from None
    if trace.version != qp.VERSION or not trace.qrCodePayload:
        raise VenueSetupError(_("This is not a version 3 tracing code"))
    try:
        load_fr(trace.masterSecretKeyLocation, "masterSecretKeyLocation")
        qp.parse_payload(trace.qrCodePayload, check_time=False)
    except ValueError as e:
        raise VenueSetupError(_("The tracing code is damaged")) from e
    if len(trace.cipherTextHealthAuthority) != 80:
        raise VenueSetupError(_("The tracing code is damaged: the authority's sealed part must be 80 bytes"))
    return trace


# --- managed variant -----------------------------------------------------------------


def new_passphrase() -> str:
    """A passphrase with 256 bits of entropy (the techspec's minimum)."""
    return secrets.token_urlsafe(32)


def organisation_secret(passphrase: str) -> Fr:
    """msk_O = Fr.setHashOf(passphrase), as in the techspec's managed setup code."""
    if len(passphrase) < 16:
        raise VenueSetupError(_("The passphrase is too short"))
    return fr_set_hash_of(passphrase.encode("utf-8"))


@dataclass
class Organisation:
    """An organisation file: public values only (mpk, sealed msk_HA, room payloads)."""

    master_public_key: bytes
    cipher_text_health_authority: bytes
    rooms: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def create(cls, passphrase: str, authority_public_key: bytes) -> "Organisation":
        mpk_o = g2 * organisation_secret(passphrase)
        mpk_ha, ctxt_ha = _seal_ha_part(authority_public_key)
        return cls((mpk_o + mpk_ha).serialize(), ctxt_ha)

    def add_room(self, spec: VenueSpec, now: int | None = None) -> bytes:
        if not spec.room:
            raise VenueSetupError(_("A room of an organisation needs --room"))
        if spec.room in self.rooms:
            raise VenueSetupError(_("Room {room} already exists", room=repr(spec.room)))
        now = int(time.time()) if now is None else now
        payload = _venue_payload(spec, load_g2(self.master_public_key), now)
        self.rooms[spec.room] = payload
        return payload

    def tracing_code(self, room: str, passphrase: str) -> bytes:
        """Recover the QRCodeTrace of one room from the passphrase."""
        if room not in self.rooms:
            raise VenueSetupError(_("No room {room} in this organisation", room=repr(room)))
        msk_o = organisation_secret(passphrase)
        load_g2(self.master_public_key, "organisation master public key")  # refuse a damaged file
        trace = pb.QRCodeTrace(version=qp.VERSION, qrCodePayload=self.rooms[room],
                               masterSecretKeyLocation=msk_o.serialize(),
                               cipherTextHealthAuthority=self.cipher_text_health_authority)
        return trace.SerializeToString()

    def to_json(self) -> str:
        return json.dumps({
            "format": "bluezone-organisation/1",
            "master_public_key": qp.b64url_encode(self.master_public_key),
            "cipher_text_health_authority": qp.b64url_encode(self.cipher_text_health_authority),
            "rooms": {k: qp.b64url_encode(v) for k, v in self.rooms.items()},
        }, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Organisation":
        try:
            d = json.loads(text)
            if d.get("format") != "bluezone-organisation/1":
                raise ValueError("format")
            return cls(qp.b64url_decode(d["master_public_key"]), qp.b64url_decode(d["cipher_text_health_authority"]),
                       {k: qp.b64url_decode(v) for k, v in d["rooms"].items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            raise VenueSetupError(_("This is not a Bluezone organisation file")) from None

    def save(self, path: Path) -> None:
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)
