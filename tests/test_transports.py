"""The core's transports against real servers on 127.0.0.1: a deliberately
flaky server for retries, backoff and timeouts, and export folders on disk.
Against the authority server itself (and its loopback transport):
authority/tests/test_transports_server.py."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.config import config_from_dict
from bluezone.transport import FeedState, TransportError, check_transport, make_transport
from bluezone.transports import FileTransport, HttpTransport


def deployment(url: str, **transport):
    return config_from_dict({"deployment": {"name": "t", "region": "452"}, "authority": {"url": url},
                             **({"transport": transport} if transport else {})})


def test_every_scheme_is_offered_and_complete(tmp_path):
    for url in ("http://a.example", "https://a.example", f"file://{tmp_path}"):
        t = make_transport(url, deployment(url))
        assert check_transport(t) == []
    with pytest.raises(TransportError) as e:  # a URL other than the authority's (a deployment with a gopher://
        make_transport("gopher://x", deployment("https://a.example"))  # authority URL is refused on load)
    assert e.value.code == "unknown_scheme"


class Flaky:
    """A real server that fails the first ``failures`` requests with 503 (or hangs)."""

    def __init__(self, failures: int, hang: bool = False):
        self.failures, self.hang, self.calls = failures, hang, 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls <= self.failures:
            if self.hang:
                await asyncio.sleep(30)
            return web.json_response({"error": {"code": "unavailable", "message": "busy"}}, status=503,
                                     headers={"Retry-After": "0"})
        return web.Response(text="", headers={"ETag": '"e"'})


async def flaky_server(flaky: Flaky) -> TestServer:
    app = web.Application()
    app.router.add_get("/v1/feeds/keys/index.txt", flaky.handle)

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "invalid_code", "message": "no"}}, status=400)

    app.router.add_post("/v1/verify", refuse)
    s = TestServer(app, host="127.0.0.1")
    await s.start_server()
    return s


async def test_retries_with_backoff_then_success():
    flaky = Flaky(failures=2)
    s = await flaky_server(flaky)
    try:
        async with HttpTransport(str(s.make_url("")), retries=3, backoff=0.01) as t:
            batches, state = await t.download("keys")
        assert batches == [] and state.etag == '"e"' and flaky.calls == 3 and t.stats["retries"] == 2
    finally:
        await s.close()


async def test_gives_up_after_the_retry_budget_with_a_clear_error():
    flaky = Flaky(failures=10)
    s = await flaky_server(flaky)
    try:
        async with HttpTransport(str(s.make_url("")), retries=2, backoff=0.01) as t:
            with pytest.raises(TransportError) as e:
                await t.download("keys")
        assert e.value.code == "unavailable" and e.value.status == 503 and flaky.calls == 3
    finally:
        await s.close()


async def test_client_errors_are_not_retried():
    s = await flaky_server(Flaky(0))
    try:
        async with HttpTransport(str(s.make_url("")), retries=5, backoff=0.01) as t:
            with pytest.raises(TransportError) as e:
                await t.redeem_code("12345678")
            assert e.value.code == "invalid_code" and t.stats["requests"] == 1
    finally:
        await s.close()


async def test_timeouts_are_retried_then_reported():
    flaky = Flaky(failures=10, hang=True)
    s = await flaky_server(flaky)
    try:
        async with HttpTransport(str(s.make_url("")), retries=1, backoff=0.01, timeout=0.2) as t:
            with pytest.raises(TransportError) as e:
                await t.download("keys")
        assert e.value.code == "network" and e.value.retryable and flaky.calls == 2
    finally:
        await s.close()


async def test_unreachable_server_is_a_network_error():
    async with HttpTransport("http://127.0.0.1:9", retries=0) as t:
        with pytest.raises(TransportError) as e:
            await t.download("keys")
    assert e.value.code == "network"


async def test_file_transport_is_read_only_and_rejects_bad_indexes(tmp_path):
    t = FileTransport(tmp_path)
    assert await t.download("keys") == ([], FeedState())
    with pytest.raises(TransportError) as e:
        await t.redeem_code("12345678")
    assert e.value.code == "read_only"
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "index.txt").write_text("../../etc/passwd\n")
    with pytest.raises(TransportError) as e:
        await t.download("keys")
    assert e.value.code == "bad_index"
    (tmp_path / "keys" / "index.txt").write_text("1-2-00001.zip\n")
    with pytest.raises(TransportError) as e:
        await t.download("keys")
    assert e.value.code == "not_found"  # the file is listed but gone (as HTTP 404)
