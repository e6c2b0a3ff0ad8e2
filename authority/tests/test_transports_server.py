"""The core's transports against the authority server on 127.0.0.1: a plain
static file server standing in for a CDN, incremental download, and the
authority's in-process loopback transport running the same flow."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.config import config_from_dict
from bluezone.export import read_export
from bluezone.transport import FeedState, TransportError, make_transport
from bluezone.transports import FileTransport, HttpTransport
from bluezone.upload import upload_with_code
from bluezone_authority.loopback import LoopbackTransport, register_loopback, unregister_loopback
from bluezone_authority.server.testing import past_keys, start


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path, min_batch_keys=0)
    yield r
    await r.http.close()


def deployment(url: str, **transport):
    return config_from_dict({"deployment": {"name": "t", "region": "452"}, "authority": {"url": url},
                             **({"transport": transport} if transport else {})})


async def test_cdn_static_directory_serves_the_same_feed(running):
    """The export directory, served by a plain static file server, is a feed source
    for the http transport (download_url) — the files are usable unchanged."""
    r = running
    code = r.server.issue_code({"tier": "F0"})["code"]
    async with HttpTransport(r.url, retries=0) as t:
        await upload_with_code(t, code, past_keys(4))
    r.server.export_now()
    static = web.Application()
    static.router.add_static("/cdn/", r.server.settings.export_dir)
    cdn = TestServer(static, host="127.0.0.1")
    await cdn.start_server()
    try:
        url = r.url
        config = deployment(url, download_url=str(cdn.make_url("/cdn")))
        t = make_transport(url, config)
        batches, state = await t.download("keys")
        direct, _ = await FileTransport(r.server.settings.export_dir).download("keys")
        assert [b.payload for b in batches] == [b.payload for b in direct]
        pub = [{"key_id": "452", "pem": r.server.keys.export_public_pem()}]
        assert len(read_export(batches[0].payload, pub).keys) == 4
        # aiohttp's static handler sends its own ETag: the second sync is a 304
        again, _ = await t.download("keys", state)
        assert again == []
        await t.close()
    finally:
        await cdn.close()


async def test_incremental_download_fetches_only_new_batches(running):
    r = running
    for _ in range(3):
        r.server.publish_payload("venue-traces", b"t", start_ts=1, end_ts=2)
    async with HttpTransport(r.url, retries=0) as t:
        first, state = await t.download("venue-traces")
        r.server.publish_payload("venue-traces", b"new", start_ts=3, end_ts=4)
        before = t.stats["requests"]
        second, state = await t.download("venue-traces", state)
        assert len(first) == 3 and len(second) == 1
        assert t.stats["requests"] - before == 2  # the index and the one new file
        none, _ = await t.download("venue-traces", state)
        assert none == [] and t.stats["not_modified"] == 1


async def test_loopback_runs_the_same_flow_and_errors(running):
    r = running
    url = register_loopback("auth", r.server)
    try:
        t = make_transport(url, deployment(url))
        assert isinstance(t, LoopbackTransport)
        with pytest.raises(TransportError) as e:
            await t.redeem_code("00000000")
        assert e.value.code == "invalid_code" and e.value.status == 400
        code = r.server.issue_code({"tier": "F0"})["code"]
        result = await upload_with_code(t, code, past_keys(2))
        assert result.receipt.inserted == 2
        r.server.export_now()
        batches, state = await t.download("keys", FeedState())
        assert len(batches) == 1
        assert (await t.download("keys", state))[0] == []
        receipt = await t.upload_declaration(b"\2" * 64)
        assert r.server.declaration(receipt) == b"\2" * 64
    finally:
        unregister_loopback("auth")
