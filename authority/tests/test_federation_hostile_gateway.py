"""A hostile gateway against the province's importer: a real aiohttp server on
loopback behind the same mutual TLS as the real gateway, answering what an
attacker who took the gateway over would answer. The importer must end its
round with an error code, never loop forever nor read an endless body."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

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


async def hostile(tmp: Path, handler) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_get("/v1/batches/download/{date}", handler)
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
