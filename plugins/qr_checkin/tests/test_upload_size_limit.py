"""A venue upload at the server's default request limit (64 KiB), not the
1 MiB the other venue tests allow themselves: a real upload (pre-traces and
a paper log of real sealed kiosk entries) of exactly the limit is traced and
its paper log kept; one byte more is refused with ``too_large``, leaves the
database as it was, and does not spend the owner's token."""

from __future__ import annotations

import base64
import json

import aiohttp
import nacl.public

from bluezone_qr_checkin.kiosk import VisitorLog

import venue_server

HOUR = 3600
LIMIT = 65536  # [server] max_body_bytes default


def raw_of(token: str, pretraces: str, sealed: list[bytes]) -> bytes:
    return json.dumps({"token": token, "preTraces": pretraces,
                       "paperLog": [base64.b64encode(s).decode() for s in sealed]}).encode()


def body_of(token: str, pretraces: str, sealed: list[bytes], size: int) -> bytes:
    """The upload as JSON, padded with insignificant whitespace to exactly ``size`` bytes."""
    raw = raw_of(token, pretraces, sealed)
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


async def post(vs, data: bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{vs.url}/v1/venue-traces/upload", data=data,
                          headers={"Content-Type": "application/json"}) as resp:
            return resp.status, await resp.json()


async def test_an_upload_of_exactly_the_limit_is_traced_and_one_byte_more_is_refused(tmp_path, server_database):
    vs = await venue_server.start(tmp_path, qr="trace_uploads_per_client_per_minute = 1000", max_body=LIMIT)
    try:
        assert vs.server.settings.max_body_bytes == LIMIT
        now = vs.now()
        pretraces = vs.pretraces(now - 2 * HOUR, now)
        kiosk = nacl.public.PrivateKey.generate()
        with VisitorLog(tmp_path / "kiosk.db", bytes(kiosk.public_key), clock=vs.clock) as log:
            sealed: list[bytes] = []
            while len(raw_of("t" * 60, pretraces, sealed)) < LIMIT - 6000:  # 20 entries are ~5 KB
                for i in range(len(sealed), len(sealed) + 20):
                    log.record(f"Khách {i}", f"09{i:08d}")
                sealed = log.sealed_between(now - HOUR, now + 1)
        token = await vs.token()
        before = vs.server.db.fingerprint()
        status, answer = await post(vs, body_of(token, pretraces, sealed, LIMIT + 1))
        assert (status, answer["error"]["code"]) == (413, "too_large")
        assert vs.server.db.fingerprint() == before and not vs.token_spent(token)

        status, answer = await post(vs, body_of(token, pretraces, sealed, LIMIT))
        assert status == 200, answer
        assert vs.token_spent(token) and len(vs.batches()) == 1
        assert vs.server.db.one("SELECT count(*) FROM venue_paper_log")[0] == len(sealed) > 100
    finally:
        await vs.http.close()
        vs.server.close()
