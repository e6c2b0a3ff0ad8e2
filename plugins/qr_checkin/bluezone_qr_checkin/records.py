"""Visit records: what a phone stores per hour of a stay, and matching them.

A record is ``IBE.Enc(mpk, id_hour, m)`` with ``m`` the arrival, departure and
the venue's notification key. Its plaintext is compatible with
libcrowdnotifier (``JSON.stringify`` of a Node Buffer, padded with JSON whitespace), so records and traces
interoperate with the reference implementation in both directions.

A record reveals nothing about the venue: the ciphertext is randomised, its
length depends only on the digits of the two timestamps, and only the
published ``sk_id`` of that venue and hour opens it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import nacl.exceptions
import nacl.secret

from . import derive
from .ibe import IbeCiphertext, decrypt, encrypt
from .mcl import G1, CryptoFormatError, load_g2
from .payload import VenueInfo
from .proto import crowdnotifier_pb2 as pb

#: Records are padded with JSON whitespace to this size, so a ciphertext's
#: length does not depend on the digits of the venue's notification key.
PLAINTEXT_SIZE = 256


def record_plaintext(arrival: int, departure: int, notification_key: bytes, pad: bool = True) -> bytes:
    """The reference's plaintext (compact JSON, fixed key order), padded with
    trailing spaces — still valid JSON for the reference's ``JSON.parse``."""
    data = ",".join(str(b) for b in notification_key)
    m = (f'{{"arrivalTime":{int(arrival)},"departureTime":{int(departure)},'
         f'"notificationKey":{{"type":"Buffer","data":[{data}]}}}}').encode()
    return m.ljust(PLAINTEXT_SIZE) if pad else m


@dataclass(frozen=True, slots=True)
class RecordContent:
    arrival: int
    departure: int
    notification_key: bytes


def parse_plaintext(m: bytes) -> RecordContent:
    d = json.loads(m)
    key = d["notificationKey"]
    raw = bytes(key["data"] if isinstance(key, dict) else key)
    return RecordContent(int(d["arrivalTime"]), int(d["departureTime"]), raw)


def encrypt_visit(venue: VenueInfo, arrival: int, departure: int) -> list[IbeCiphertext]:
    """One ciphertext per affected hour of the stay, in hour order."""
    keys = derive.payload_keys(venue.payload)
    pre = derive.preid(venue.payload, keys)
    mpk = load_g2(venue.master_public_key)
    m = record_plaintext(arrival, departure, keys.notification_key)
    return [
        encrypt(mpk, derive.identity_from_preid(pre, keys.nonce_timekey, hour), m)
        for hour in derive.affected_hours(arrival, departure)
    ]


@dataclass(frozen=True, slots=True)
class TraceMatch:
    """A record opened by a trace, with the overlap and the authority's message."""

    arrival: int
    departure: int
    overlap_start: int
    overlap_end: int
    message: str
    country_data: bytes

    @property
    def minutes(self) -> float:
        return (self.overlap_end - self.overlap_start) / 60


def match_record(trace: pb.Trace, sk_id: G1, record: IbeCiphertext) -> TraceMatch | None:
    """Try one record against one trace: decrypt, check the time overlap, open the message.

    ``None`` when the record is not for this venue and hour (the common case)
    or when the stay does not overlap the traced window.
    """
    m = decrypt(bytes(trace.identity), sk_id, record)
    if m is None:
        return None
    try:
        content = parse_plaintext(m)
    except (ValueError, KeyError, TypeError):
        raise CryptoFormatError("a record decrypted but its content is malformed") from None
    lo, hi = max(content.arrival, trace.startTime), min(content.departure, trace.endTime)
    if lo > hi:
        return None
    try:
        ad_bytes = nacl.secret.SecretBox(content.notification_key).decrypt(
            bytes(trace.encryptedAssociatedData), bytes(trace.nonce))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise CryptoFormatError("trace message does not open with the venue's notification key") from None
    ad = pb.AssociatedData()
    ad.ParseFromString(ad_bytes)
    return TraceMatch(content.arrival, content.departure, lo, hi, ad.message, bytes(ad.countryData))


def record_to_json(ct: IbeCiphertext) -> dict[str, str]:
    return {"c1": ct.c1.hex(), "c2": ct.c2.hex(), "c3": ct.c3.hex(), "nonce": ct.nonce.hex()}


def record_from_json(d: dict[str, str]) -> IbeCiphertext:
    return IbeCiphertext(bytes.fromhex(d["c1"]), bytes.fromhex(d["c2"]), bytes.fromhex(d["c3"]),
                         bytes.fromhex(d["nonce"]))
