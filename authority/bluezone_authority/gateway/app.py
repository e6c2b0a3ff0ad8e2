"""The gateway's HTTP routes (aiohttp, behind mutual TLS).

``POST /v1/batches/upload``: the body is a batch's canonical bytes
(:mod:`.encoding`); headers ``batchTag`` and ``batchSignature`` (base64 DER).
The uploader is the common name of its TLS client certificate; it must be a
registered province and the batch's origin. The signature is checked against
that province's registered signing key; the bytes are stored as received.

``GET /v1/batches/download/{date}``: the first batch uploaded that UTC day,
or with ``?after=TAG`` the one after ``TAG``; headers ``batchTag``,
``nextBatchTag`` (absent when none yet), ``origin``, ``batchSignature``.

``GET /v1/batches/audit/{date}/{tag}``: the audit entry of one batch.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bluezone.i18n import _, _n

from ..server.database import off_loop
from ..server.errors import ApiError
from ..server.middleware import make_middlewares, read_body
from . import certs, encoding
from .settings import GatewaySettings
from .store import GatewayStore, KeysAlreadyStored, StoredBatch

# fullmatch only: "$" would let a trailing newline through, "\d" any script's digits
TAG = re.compile(r"[A-Za-z0-9._-]{1,64}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DAY = 86400
log = logging.getLogger("bluezone.gateway")
GATEWAY: web.AppKey["Gateway"] = web.AppKey("gateway")


def utc_date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).date().isoformat()


class Gateway:
    """The gateway's logic, independent of HTTP (tests and the bench call it)."""

    def __init__(self, settings: GatewaySettings, clock: Callable[[], float] = time.time):
        self.settings, self.clock = settings, clock
        self.store = GatewayStore(settings.database)

    def province_key(self, code: str) -> ec.EllipticCurvePublicKey:
        pem = self.store.signing_key(code)
        if pem is None:
            raise ApiError(403, "unknown_province", _("province {code} is not registered at this gateway", code=code))
        key = load_pem_public_key(pem.encode())
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    def upload(self, uploader: str | None, tag: Any, signature_b64: Any, data: bytes) -> dict[str, Any]:
        if not uploader:
            raise ApiError(403, "no_client_certificate", _("a province client certificate is required"))
        if not isinstance(tag, str) or not TAG.fullmatch(tag):
            raise ApiError(400, "invalid_batch_tag", _("batchTag must be 1-64 of A-Z, a-z, 0-9, '.', '_', '-'"))
        try:
            signature = base64.b64decode(signature_b64 or "", validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if not signature:
            raise ApiError(400, "invalid_signature", _("batchSignature must be a base64 signature"))
        public = self.province_key(uploader)
        try:
            batch = encoding.decode(data)
        except encoding.BatchFormatError as e:
            raise ApiError(400, "malformed_batch", _("the batch is malformed: {reason}", reason=str(e))) from None
        if batch.origin != uploader:
            raise ApiError(403, "origin_mismatch", _("province {uploader} may upload only its own batches, not {origin}'s",
                                                     uploader=uploader, origin=batch.origin))
        if not encoding.verify(data, signature, public):
            raise ApiError(400, "bad_signature", _("the batch signature does not verify with {origin}'s signing key",
                                                   origin=batch.origin))
        now = int(self.clock())
        digest = hashlib.sha256(data).hexdigest()
        stored = StoredBatch(tag, utc_date(now), batch.origin, uploader, now // 3600 * 3600, len(batch.keys),
                             data, signature, digest)
        try:
            inserted = self.store.insert(stored, (k.key.key_data for k in batch.keys))
        except KeysAlreadyStored as e:
            # EFGS refuses a key it has already: an importer would get it twice, under two tags
            raise ApiError(409, "duplicate_keys", _n(
                "{n} key of this batch is already stored at the gateway, in batch {tag}; nothing was stored",
                "{n} keys of this batch are already stored at the gateway (one of them in batch {tag});"
                " nothing was stored", e.count, tag=e.tag)) from None
        if not inserted:
            before = self.store.get(tag)
            if before is not None and before.sha256 == digest and before.origin == uploader:
                # the same upload again (an answer lost on the way back): it is stored once
                raise ApiError(409, "batch_already_stored", _("batch {tag} is already stored", tag=tag))
            raise ApiError(409, "duplicate_batch_tag", _("another batch already has the tag {tag}", tag=tag))
        log.info("batch %s from %s: %d keys", tag, uploader, len(batch.keys))
        return {"batchTag": tag, "date": stored.date, "keys": stored.key_count}

    def download(self, date: str, after: str | None) -> tuple[StoredBatch | None, str | None]:
        if not DATE.fullmatch(date):
            raise ApiError(400, "invalid_date", _("the date must be YYYY-MM-DD"))
        if after is not None and not TAG.fullmatch(after):
            raise ApiError(400, "invalid_batch_tag", _("batchTag must be 1-64 of A-Z, a-z, 0-9, '.', '_', '-'"))
        try:
            return self.store.after(date, after)
        except KeyError:
            raise ApiError(404, "unknown_batch_tag", _("no batch {tag} on {date}", tag=after, date=date)) from None

    def audit(self, date: str, tag: str) -> dict[str, Any]:
        b = self.store.get(tag)
        if b is None or b.date != date:
            raise ApiError(404, "unknown_batch_tag", _("no batch {tag} on {date}", tag=tag, date=date))
        return {"batchTag": b.tag, "origin": b.origin, "uploader": b.uploader, "uploadedAt": b.uploaded_at,
                "keyCount": b.key_count, "sha256": b.sha256, "batchSignature": base64.b64encode(b.signature).decode()}

    def purge(self) -> int:
        return self.store.purge(int(self.clock()) - self.settings.retention_days * DAY)

    def close(self) -> None:
        self.store.close()


def uploader_of(request: web.Request) -> str | None:
    """The province code in the verified client certificate (the TLS layer refused any other)."""
    if request.transport is None:
        return None
    return certs.common_name(request.transport.get_extra_info("peercert"))


# Each handler runs the gateway's database work through off_loop: on PostgreSQL in a
# worker thread, so no request waits on another's network round trip to the database.

async def upload(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    data = await read_body(request, gw.settings.max_body_bytes)
    out = await off_loop(gw.store.db, gw.upload, uploader_of(request), request.headers.get("batchTag"),
                         request.headers.get("batchSignature"), data)
    return web.json_response(out, status=201)


async def download(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    if not uploader_of(request):
        raise ApiError(403, "no_client_certificate", _("a province client certificate is required"))
    batch, next_tag = await off_loop(gw.store.db, gw.download, request.match_info["date"], request.query.get("after"))
    if batch is None:
        raise ApiError(404, "no_batch", _("no newer batch for this date"))
    headers = {"batchTag": batch.tag, "origin": batch.origin,
               "batchSignature": base64.b64encode(batch.signature).decode()}
    if next_tag:
        headers["nextBatchTag"] = next_tag
    return web.Response(body=batch.data, content_type="application/octet-stream", headers=headers)


async def audit(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    if not uploader_of(request):
        raise ApiError(403, "no_client_certificate", _("a province client certificate is required"))
    return web.json_response([await off_loop(gw.store.db, gw.audit, request.match_info["date"],
                                             request.match_info["tag"])])


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _retention(app: web.Application):
    async def loop() -> None:
        while True:
            try:
                gw = app[GATEWAY]
                removed = await off_loop(gw.store.db, gw.purge)
                if removed:
                    log.info("retention: %d batches deleted", removed)
            except Exception:  # keep serving; the next round tries again
                log.exception("retention failed")
            await asyncio.sleep(3600)
    task = asyncio.create_task(loop())
    yield
    task.cancel()


def create_app(gateway: Gateway, *, background: bool = True) -> web.Application:
    app = web.Application(middlewares=make_middlewares(gateway.settings.max_body_bytes),
                          client_max_size=gateway.settings.max_body_bytes)
    app[GATEWAY] = gateway
    app.router.add_get("/v1/health", health)
    app.router.add_post("/v1/batches/upload", upload)
    app.router.add_get("/v1/batches/download/{date}", download)
    app.router.add_get("/v1/batches/audit/{date}/{tag}", audit)
    if background:
        app.cleanup_ctx.append(_retention)
    return app
