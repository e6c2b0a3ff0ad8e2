"""A hostile gateway against the province's importer: a real aiohttp server on
loopback behind the same mutual TLS as the real gateway, answering what an
attacker who took the gateway over would answer. The importer must end its
round with an error code, never loop forever nor read an endless body."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bluezone.models import ExposureKey, ReportType
from bluezone_authority.gateway import certs, encoding
from bluezone_authority.gateway.client import GatewayClient
from bluezone_authority.gateway.federation import run_round
from bluezone_authority.gateway.province import FederationSettings
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.keys import public_pem
from bluezone_authority.server.process import free_port
from bluezone_authority.server.testing import NOW, Clock, settings_for

DN, GL = "48", "64"
#: a hang guard only (the buggy importer never returns); no speed is asserted
HANG_GUARD = 60


async def hostile(tmp: Path, handler, upload=None) -> tuple[web.AppRunner, int]:
    """Behind the gateway's mutual TLS: ``handler`` answers downloads, ``upload`` (if any) uploads."""
    app = web.Application()
    app.router.add_get("/v1/batches/download/{date}", handler)
    if upload is not None:
        app.router.add_post("/v1/batches/upload", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    ctx = certs.server_context(tmp / "ca" / "ca.pem", tmp / "gateway.pem", tmp / "gateway.key")
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    return runner, port


@pytest.fixture
def world(tmp_path):
    certs.init_ca(tmp_path / "ca")
    certs.issue(tmp_path / "ca", "gateway", tmp_path / "gateway", server_hosts=["127.0.0.1"])
    certs.issue(tmp_path / "ca", GL, tmp_path / GL)
    dn = AuthorityServer(settings_for(tmp_path / "p48"), clock=Clock(NOW))
    gl = AuthorityServer(settings_for(tmp_path / "p64"), clock=Clock(NOW))
    (tmp_path / "48.sign.pem").write_text(public_pem(dn.keys.export_key))
    yield tmp_path, dn, gl
    dn.close()
    gl.close()


def settings(tmp: Path, port: int) -> FederationSettings:
    cert = tmp / f"{GL}.pem"
    return FederationSettings(gateway_url=f"https://127.0.0.1:{port}", origin=GL, client_cert=cert,
                              client_key=cert.with_suffix(".key"), ca=tmp / "ca" / "ca.pem", import_from=(DN,),
                              signing_keys=({"origin": DN, "public_key": str(tmp / "48.sign.pem")},))


def signed_batch(dn: AuthorityServer) -> tuple[bytes, str]:
    day = NOW // 86400 * 144 - 3 * 144
    data = encoding.encode(DN, [encoding.FederatedKey(ExposureKey(secrets.token_bytes(16), day, 144, 4,
                                                                   ReportType.CONFIRMED_TEST, 1))])
    return data, base64.b64encode(encoding.sign(data, dn.keys.export_key)).decode()


async def test_a_gateway_that_answers_the_same_batch_forever_ends_the_round_with_an_error(world):
    tmp, dn, gl = world
    data, sig = signed_batch(dn)
    asked = []

    async def same_batch(request: web.Request) -> web.Response:
        asked.append(request.query.get("after"))
        return web.Response(body=data, headers={"batchTag": "t1", "origin": DN, "batchSignature": sig,
                                                "nextBatchTag": "t1"})
    runner, port = await hostile(tmp, same_batch)
    try:
        result = await asyncio.wait_for(run_round(gl, settings(tmp, port)), HANG_GUARD)
    finally:
        await runner.cleanup()
    assert result.error == "repeated_batch"
    assert [r.result for r in result.imported] == ["imported"]  # the first answer was fine
    assert len(gl.db.all("SELECT 1 FROM exposure_keys")) == 1


async def test_a_gateway_that_answers_an_oversized_body_is_cut_off(world):
    tmp, dn, gl = world
    sent = []

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"batchTag": "big", "origin": DN, "batchSignature": "AAAA"})
        await resp.prepare(request)
        chunk = b"\0" * 65536
        try:
            for _ in range(4096):  # 256 MiB if nobody stops reading
                await resp.write(chunk)
                sent.append(len(chunk))
        except (ConnectionError, RuntimeError):
            pass
        return resp
    runner, port = await hostile(tmp, huge)
    client = GatewayClient(settings(tmp, port), max_batch_bytes=1024 * 1024)
    try:
        result = await asyncio.wait_for(run_round(gl, settings(tmp, port), client=client), HANG_GUARD)
    finally:
        await client.close()
        await runner.cleanup()
    assert result.error == "answer_too_large"
    assert result.imported == [] and gl.db.all("SELECT 1 FROM fed_imports") == []


async def test_a_gateway_that_answers_a_malformed_tag_is_refused(world):
    tmp, dn, gl = world
    data, sig = signed_batch(dn)

    async def odd_tag(request: web.Request) -> web.Response:
        return web.Response(body=data, headers={"batchTag": "../../etc", "origin": DN, "batchSignature": sig})
    runner, port = await hostile(tmp, odd_tag)
    try:
        result = await asyncio.wait_for(run_round(gl, settings(tmp, port)), HANG_GUARD)
    finally:
        await runner.cleanup()
    assert result.error == "malformed_answer"
    assert gl.db.all("SELECT 1 FROM fed_imports") == [] and gl.db.all("SELECT 1 FROM exposure_keys") == []


# --- a hostile gateway's error answers to an upload --------------------------------------------


def pending_batch(gl: AuthorityServer, n: int = 2) -> None:
    """Keys of Gia Lai's, published and to be shared: the round batches them and uploads."""
    day = NOW // 86400 * 144 - 3 * 144
    with gl.db.transaction() as c:
        c.executemany("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at, share_beyond) VALUES (?,?,?,?,?,?,?,?,?)",
                      [(secrets.token_bytes(16), day, 144, 4, int(ReportType.CONFIRMED_TEST), 1, NOW - 7200,
                        NOW - 3600, 1) for _ in range(n)])


async def refusing(tmp: Path, upload) -> tuple[web.AppRunner, int]:
    """Behind the gateway's mutual TLS: ``upload`` answers every upload; no batch to download."""
    async def nothing(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "no_batch", "message": "none"}}, status=404)
    return await hostile(tmp, nothing, upload)


def outbox_counts(gl: AuthorityServer) -> tuple[int, int]:
    """(pending, refused) outbox batches."""
    return (gl.db.one("SELECT count(*) FROM fed_outbox WHERE sent_at IS NULL AND refused IS NULL")[0],
            gl.db.one("SELECT count(*) FROM fed_outbox WHERE refused IS NOT NULL")[0])


async def test_an_error_answer_nested_too_deep_for_the_parser_ends_the_round_with_http_error(world):
    """JSON nested 100,000 deep makes Python's parser raise RecursionError, which is
    not a ValueError: it escaped the round (and `authority federate`) as a traceback."""
    tmp, dn, gl = world
    pending_batch(gl)

    async def nested(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=400, body=b'{"error": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                            content_type="application/json")
    runner, port = await refusing(tmp, nested)
    try:
        result = await asyncio.wait_for(run_round(gl, settings(tmp, port)), HANG_GUARD)
    finally:
        await runner.cleanup()
    assert (result.error, result.sent, result.refused) == ("http_error", [], [])
    assert outbox_counts(gl) == (1, 0)  # the batch waits for the next round


async def test_an_endless_error_answer_is_not_read_to_its_end(world, monkeypatch):
    """A gateway streaming an error body without end: the province stops reading
    (the whole body was read into memory before being parsed)."""
    from bluezone_authority.gateway.client import MAX_ERROR_BYTES

    tmp, dn, gl = world
    pending_batch(gl)
    sent: list[int] = []
    chunk, chunks = b" " * 65536, 4 * MAX_ERROR_BYTES // 65536

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(status=400, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        try:
            for _ in range(chunks):
                await resp.write(chunk)
                sent.append(len(chunk))
        except (ConnectionError, RuntimeError):
            pass
        return resp
    read: list[int] = []
    real_iter = aiohttp.StreamReader.iter_chunked

    def counting(self, n):
        async def chunks_read():
            async for piece in real_iter(self, n):
                read.append(len(piece))
                yield piece
        return chunks_read()
    monkeypatch.setattr(aiohttp.StreamReader, "iter_chunked", counting)
    runner, port = await refusing(tmp, endless)
    try:
        result = await asyncio.wait_for(run_round(gl, settings(tmp, port)), HANG_GUARD)
    finally:
        await runner.cleanup()
    assert result.error == "http_error" and outbox_counts(gl) == (1, 0)
    # what the client took in, counted where it reads (what the server managed to write
    # depends on socket buffers, so it cannot tell)
    assert MAX_ERROR_BYTES < sum(read) < chunks * len(chunk)


@pytest.mark.parametrize("code", ["\x1b]0;owned\x07\x1b[2J", "<img src=x onerror=alert(1)>", "x" * 100_000,
                                  "Duplicate_Keys", 42, None, ["duplicate_keys"]])
async def test_an_error_code_that_is_not_a_plain_code_is_not_trusted(world, code):
    """The code becomes the round's error: kept in the database, shown to staff,
    printed by `authority federate` and logged. Markup, terminal escapes, a huge
    string or a non-string stay out."""
    from bluezone_authority.gateway.federation import status

    tmp, dn, gl = world
    pending_batch(gl)

    async def odd(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"error": {"code": code, "message": "a\nFAKE LOG LINE\x1b[31m" + "m" * 10_000}},
                                 status=503)
    runner, port = await refusing(tmp, odd)
    try:
        result = await asyncio.wait_for(run_round(gl, settings(tmp, port)), HANG_GUARD)
    finally:
        await runner.cleanup()
    assert result.error == "http_error" and outbox_counts(gl) == (1, 0)
    assert status(gl)["lastRound"]["error"] == "http_error"


async def test_an_error_message_reaches_the_log_as_one_short_line(world, caplog):
    import logging

    tmp, dn, gl = world
    pending_batch(gl)

    async def noisy(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"error": {"code": "unavailable",
                                            "message": "busy\nFAKE: all keys deleted\x1b[2J" + "m" * 100_000}},
                                 status=503)
    runner, port = await refusing(tmp, noisy)
    try:
        with caplog.at_level(logging.WARNING, logger="bluezone.federation"):
            result = await asyncio.wait_for(run_round(gl, settings(tmp, port)), HANG_GUARD)
    finally:
        await runner.cleanup()
    assert result.error == "unavailable" and outbox_counts(gl) == (1, 0)
    lines = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert lines and all("\n" not in m and "\x1b" not in m and len(m) < 1000 for m in lines)
