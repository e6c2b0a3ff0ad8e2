"""Two-party tracing: the owner's pre-traces, the authority's traces.

Owner (offline, with the tracing code): for every hour of the window, the
identity and a *partial* key ``H1(id)·msk_L``. Useless alone: it opens no
record, because records are encrypted under ``mpk_L + mpk_HA``.

Authority (server, with its X25519 secret): opens the sealed msk_HA, adds
``H1(id)·msk_HA`` to get ``sk_id``, checks the owner did not cheat (the
identity is really this venue's for that hour, and ``sk_id`` really decrypts
under the venue's mpk), and publishes ``(id, sk_id, window,
secretbox(notificationKey, message))``. Without the owner's upload the
authority has no msk_L and cannot trace a venue (docs/privacy.md rule 6).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nacl.exceptions
import nacl.public
import nacl.secret

from bluezone.i18n import _, _n

from . import derive
from . import payload as qp
from .ibe import decrypt, encrypt, key_derive
from .mcl import CryptoFormatError, load_fr, load_g1, load_g2
from .proto import crowdnotifier_pb2 as pb

#: Longest window one upload may cover (the retention window).
MAX_WINDOW_SECONDS = 14 * 86_400
#: How far past "now" a window may end: the owner traces up to the present,
#: give or take clocks that disagree and the hour still running.
MAX_FUTURE_SECONDS = 3600


class TraceError(ValueError):
    """A pre-trace upload or a trace that must be refused. What a venue owner
    can cause and fix (the window) is raised with a
    :class:`bluezone.i18n.Message`; what only a broken or hostile upload
    causes is the server's English diagnosis."""


class WindowError(TraceError):
    """A tracing window outside what the authority may publish."""


def check_window(start: int, end: int, *, now: int, retention_days: int) -> None:
    """Refuse a window the authority must not publish.

    A trace is only useful while phones keep the visits it can match (the
    retention period), and its window becomes part of a published file name;
    a window from 1970, far in the future or years long produced a file the
    server's own feed route could not serve. So: ``0 <= start < end``, no longer
    than the retention period (and 14 days), ``start`` no earlier than
    ``now - retention``, ``end`` no later than ``now + 1 h``.
    """
    retention = min(retention_days * 86_400, MAX_WINDOW_SECONDS)
    if start < 0:
        raise WindowError(_("The tracing window starts before 1970"))
    if end <= start:
        raise WindowError(_("The tracing window ends before it starts"))
    if end - start > retention:
        raise WindowError(_n("The tracing window is longer than {n} day", "The tracing window is longer than {n} days",
                             retention // 86_400))
    if start < now - retention_days * 86_400:
        raise WindowError(_n("The tracing window starts more than {n} day ago (the retention period)",
                             "The tracing window starts more than {n} days ago (the retention period)",
                             retention_days))
    if end > now + MAX_FUTURE_SECONDS:
        raise WindowError(_("The tracing window ends in the future"))


def owner_pretraces(tracing_code: pb.QRCodeTrace, start: int, end: int) -> pb.PreTraceUpload:
    """The owner's side: one PreTraceWithProof per affected hour of ``[start, end]``."""
    if end <= start:
        raise TraceError(_("The tracing window ends before it starts"))
    if end - start > MAX_WINDOW_SECONDS:
        raise TraceError(_n("The tracing window is longer than {n} day", "The tracing window is longer than {n} days",
                            MAX_WINDOW_SECONDS // 86_400))
    payload = bytes(tracing_code.qrCodePayload)
    keys = derive.payload_keys(payload)
    pre = derive.preid(payload, keys)
    msk_l = load_fr(tracing_code.masterSecretKeyLocation, "masterSecretKeyLocation")
    mpk = qp.parse_payload(payload, check_time=False).master_public_key
    upload = pb.PreTraceUpload(version=qp.VERSION)
    for hour in derive.affected_hours(start, end):
        ident = derive.identity_from_preid(pre, keys.nonce_timekey, hour)
        upload.preTraces.append(pb.PreTraceWithProof(
            preTrace=pb.PreTrace(
                identity=ident,
                partialSecretKeyForIdentityOfLocation=key_derive(msk_l, ident).serialize(),
                cipherTextHealthAuthority=tracing_code.cipherTextHealthAuthority,
                notificationKey=keys.notification_key,
            ),
            proof=pb.TraceProof(masterPublicKey=mpk, nonce1=keys.nonce_preid, nonce2=keys.nonce_timekey),
            qrCodePayload=payload, startTime=start, endTime=end, startOfInterval=hour,
        ))
    return upload


@dataclass(frozen=True, slots=True)
class VerifiedTraces:
    """What the authority learns and publishes from one upload."""

    venue: qp.VenueInfo  # so staff can check it is the venue they asked for
    traces: list[pb.Trace]


def parse_upload(data: bytes) -> pb.PreTraceUpload:
    upload = pb.PreTraceUpload()
    try:
        upload.ParseFromString(data)
    except Exception:
        raise TraceError("not a pre-trace upload") from None
    if upload.version != qp.VERSION or not upload.preTraces:
        raise TraceError("empty pre-trace upload or wrong version")
    return upload


def authority_traces(upload: pb.PreTraceUpload, authority_secret_key: bytes, message: str,
                     country_data: bytes = b"") -> VerifiedTraces:
    """The authority's side: verify every pre-trace and complete its key.

    Refuses (``TraceError``) an upload that mixes venues or windows, whose
    identities are not the venue's, or whose partial keys do not complete to
    a working decryption key.
    """
    box = nacl.public.SealedBox(nacl.public.PrivateKey(authority_secret_key))
    first = upload.preTraces[0]
    payload = bytes(first.qrCodePayload)
    try:
        venue = qp.parse_payload(payload, check_time=False)
    except qp.PayloadError as e:
        raise TraceError(f"the uploaded venue payload is not valid: {e.message.text('en')} ({e.detail})") from None
    start, end = first.startTime, first.endTime
    if end <= start or end - start > MAX_WINDOW_SECONDS:
        raise TraceError("bad tracing window")
    hours = derive.affected_hours(start, end)
    keys = derive.payload_keys(payload)
    pre = derive.preid(payload, keys)
    mpk = load_g2(venue.master_public_key)
    seen: set[int] = set()
    traces: list[pb.Trace] = []
    for item in upload.preTraces:
        if bytes(item.qrCodePayload) != payload or (item.startTime, item.endTime) != (start, end):
            raise TraceError("one upload must cover one venue and one window")
        if item.startOfInterval not in hours or item.startOfInterval in seen:
            raise TraceError("interval outside the window or repeated")
        seen.add(item.startOfInterval)
        ident = derive.identity_from_preid(pre, keys.nonce_timekey, item.startOfInterval)
        if bytes(item.preTrace.identity) != ident:
            raise TraceError("identity does not belong to this venue and hour")
        if bytes(item.proof.masterPublicKey) != venue.master_public_key:
            raise TraceError("proof master public key differs from the venue's")
        if bytes(item.preTrace.notificationKey) != keys.notification_key:
            raise TraceError("notification key does not belong to this venue")
        try:
            msk_ha = load_fr(box.decrypt(bytes(item.preTrace.cipherTextHealthAuthority)), "msk_HA")
            psk_l = load_g1(bytes(item.preTrace.partialSecretKeyForIdentityOfLocation), "partial key")
        except nacl.exceptions.CryptoError:
            raise TraceError("the sealed authority part does not open with this authority's key") from None
        except CryptoFormatError as e:
            raise TraceError(str(e)) from None
        sk_id = psk_l + key_derive(msk_ha, ident)
        probe = os.urandom(32)
        if decrypt(ident, sk_id, encrypt(mpk, ident, probe)) != probe:
            raise TraceError("the owner's partial key does not complete a valid key (wrong tracing code?)")
        ad = pb.AssociatedData(version=qp.VERSION, message=message, countryData=country_data)
        nonce = os.urandom(24)
        box_ad = nacl.secret.SecretBox(keys.notification_key).encrypt(ad.SerializeToString(), nonce).ciphertext
        traces.append(pb.Trace(identity=ident, secretKeyForIdentity=sk_id.serialize(), startTime=start,
                               endTime=end, nonce=nonce, encryptedAssociatedData=bytes(box_ad)))
    return VerifiedTraces(venue, traces)


def complete_upload(raw: bytes, authority_secret_key: bytes, message: str,
                    country_data: bytes) -> tuple[str, list[bytes]]:
    """:func:`authority_traces` on the wire bytes, returning plain values.

    This is the heavy part of an upload (two pairings and a hash to G1 per
    hour); the server runs it in a worker process, so arguments and result
    are bytes and strings that pickle cheaply. Returns the venue's name and
    the serialized traces."""
    result = authority_traces(parse_upload(raw), authority_secret_key, message, country_data)
    return result.venue.description, [t.SerializeToString() for t in result.traces]
