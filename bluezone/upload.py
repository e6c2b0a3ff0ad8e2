"""The device side of an upload: code → token → certificate → publish.

Only a person holding a code from the health authority can start this, and
nothing else can (docs/privacy.md rule 3: there is no remote command that makes
a phone upload). The device picks a random HMAC secret, sends only the HMAC
of its keys to get a certificate, then the keys, the secret and the
certificate to publish (:mod:`bluezone.verification`).

Decoys: :func:`send_decoys` runs the same three requests, in the same
order, with ``X-Chaff: 1`` where a real report sends ``X-Chaff: 0``, padded
to the same sizes, and :func:`next_decoy_delay` spaces them at random
(exponential, mean one day by default). They run on their own schedule
(:mod:`bluezone.cover`), not after a sync, so an observer cannot tell an F0
upload from routine traffic.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

from . import own_report
from .config import RiskSettings
from .models import DAY_SECONDS, ExposureKey, ReportType, interval_number
from .transport import Transport, UploadReceipt
from .verification import keys_hmac

MAX_UPLOAD_KEYS = 30


@dataclass(frozen=True)
class UploadResult:
    receipt: UploadReceipt
    report_type: int
    keys: list[ExposureKey]


def keys_to_upload(own_keys: list[ExposureKey], *, now: int, retention_days: int = 14) -> list[ExposureKey]:
    """Own keys inside the retention window that have ended (the current key
    is ended by an early rotation first), newest 30 at most."""
    oldest = interval_number(now - retention_days * DAY_SECONDS)
    current = interval_number(now)
    keys = [k for k in own_keys if oldest <= k.end_interval_number <= current]
    keys.sort(key=lambda k: k.rolling_start_interval_number)
    return keys[-MAX_UPLOAD_KEYS:]


async def upload_with_code(transport: Transport, code: str, keys: list[ExposureKey],
                           revision_token: str = "") -> UploadResult:
    """Run the whole flow. Raises :class:`bluezone.transport.TransportError`
    with the server's code (``invalid_code``, ``code_expired``...).

    ``revision_token`` (from this phone's previous upload) lets the server
    revise keys it already has: a likely case confirmed by a test uploads
    again with its new code, and the published keys change report type."""
    if not keys:
        raise ValueError("no keys to upload")
    verified = await transport.redeem_code(code.strip())
    return await _publish(transport, verified, keys, revision_token)


async def _publish(transport: Transport, verified: Any, keys: list[ExposureKey], revision_token: str,
                   share_beyond_province: bool = False) -> UploadResult:
    """Certificate and publish for a redeemed code (``verified``)."""
    secret = secrets.token_bytes(32)
    certificate = await transport.request_certificate(verified.token, keys_hmac(secret, keys))
    extra: dict[str, Any] = {"share_beyond_province": True} if share_beyond_province else {}
    if revision_token:
        receipt = await transport.upload_keys(keys, certificate, secret, revision_token=revision_token, **extra)
    else:
        receipt = await transport.upload_keys(keys, certificate, secret, **extra)
    return UploadResult(receipt, verified.report_type, keys)


def _ended_now(own: list[ExposureKey], now: int) -> list[ExposureKey]:
    """``own`` with the key on the air at ``now`` ended at ``now`` (in memory
    only): what an early rotation would leave, without writing it."""
    enin = interval_number(now)
    out = []
    for k in own:
        if k.rolling_start_interval_number <= enin < k.end_interval_number:
            k = ExposureKey(k.key_data, k.rolling_start_interval_number,
                            max(1, enin - k.rolling_start_interval_number))
        out.append(k)
    return out


async def report_own_keys(store: Any, transport: Transport, code: str, config: Any,
                          share_beyond_province: bool = False) -> UploadResult:
    """Upload this device's keys with an authority code, then rotate the
    current key early, mark the keys uploaded and fire ``bluezone_keys_uploaded``.

    The keys sent include today's key ended *now* (computed in memory), so the
    published copy covers only what was already broadcast. The store changes
    only after the server accepted the upload: a refused code, a network
    failure or a server error leaves the store exactly as it was (an early
    rotation without an upload would itself be a tell-tale that this person
    tried to report). Once accepted, the rotation is written, so nothing
    broadcast afterwards links to the published key, and the upload is
    remembered (:mod:`bluezone.own_report`): the phone stops warning itself,
    and the next upload carries the revision token. ``share_beyond_province``:
    the person agreed that the keys may go to other provinces through the
    national gateway (docs/federation.md); without it they stay in the province."""
    from .plugins import call_hook_async

    schedule = config.schedule()
    now = store.now()
    own = _ended_now([k.key for k in store.own_keys(schedule.name)], now)
    keys = keys_to_upload(own, now=now, retention_days=config.retention_days)
    if not keys:
        raise ValueError("no keys to upload")
    token = own_report.latest_revision_token(store)
    verified = await transport.redeem_code(code.strip())
    if ReportType(verified.report_type) is ReportType.REVOKED:
        return await _revoke_own_report(store, transport, verified, token, config)
    result = await _publish(transport, verified, keys, token, share_beyond_province)
    with store.transaction():
        store.rotate_key_early(schedule, now)
        store.mark_keys_uploaded(keys)
        # From now on the phone knows it is a case (or an F1) and does not warn itself.
        own_report.record(store, report_type=result.report_type, keys=len(keys),
                          isolation_days=int(config.typed(RiskSettings).isolation_days),
                          revision_token=result.receipt.revision)
    await call_hook_async(config.pm.hook.bluezone_keys_uploaded, keys=keys, report_type=result.report_type,
                          config=config)
    return result


async def _revoke_own_report(store: Any, transport: Transport, verified: Any, token: str, config: Any) -> UploadResult:
    """A code of test type "negative": this phone's earlier report was false.

    The keys it published are sent again with that code and the revision
    token, and the server marks them revoked (nothing new is published, no
    key rotates). Only this phone can do it: the server keeps nothing that
    leads from a code or a person to keys, the token is the only link. Then
    the phone's own reported state ends (:func:`bluezone.own_report.standing`)."""
    if not token:
        raise own_report.NothingToRevoke()
    schedule = config.schedule()
    sent = [k.key for k in store.own_keys(schedule.name) if k.uploaded]
    keys = keys_to_upload(sent, now=store.now(), retention_days=config.retention_days)
    if not keys:
        raise own_report.NothingToRevoke()
    result = await _publish(transport, verified, keys, token)
    own_report.record(store, report_type=int(ReportType.REVOKED), keys=result.receipt.revised, isolation_days=0,
                      revision_token=result.receipt.revision)
    return result


async def send_decoys(transport: Transport, kind: str = "report") -> None:
    """One decoy ``report`` (verify, certificate, publish, as a real report
    makes them) or ``declaration``.

    A transport written before decoys had kinds (``send_decoy(self)``) is
    still called for reports and skipped for declarations, which it cannot
    imitate."""
    import inspect

    try:
        takes_kind = "kind" in inspect.signature(transport.send_decoy).parameters
    except (TypeError, ValueError):
        takes_kind = True
    if takes_kind:
        await transport.send_decoy(kind)
    elif kind == "report":
        await transport.send_decoy()  # the older protocol


def next_decoy_delay(rng: random.Random | None = None, mean_seconds: float = DAY_SECONDS) -> float:
    """Seconds until the next decoy: exponential, so decoys form a Poisson
    process whose timing says nothing about real uploads."""
    return (rng or random.SystemRandom()).expovariate(1.0 / mean_seconds)


async def decoy_loop(transport: Transport, stop: Any, mean_seconds: float = DAY_SECONDS,
                     rng: random.Random | None = None, kind: str = "report") -> int:
    """Send decoy uploads at random times until ``stop`` (an ``asyncio.Event``)
    is set; returns how many were sent. Failures are ignored: a decoy that
    cannot be sent needs no retry."""
    import asyncio

    from .transport import TransportError

    sent = 0
    while not stop.is_set():
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation (Ctrl-C) that lands as the event is set
            async with asyncio.timeout(next_decoy_delay(rng, mean_seconds)):
                await stop.wait()
            break
        except TimeoutError:
            pass
        try:
            await send_decoys(transport, kind)
            sent += 1
        except TransportError:
            continue
    return sent
