"""``bluezone sync --watch`` against a hostile event stream: a real aiohttp
server on 127.0.0.1 that sends whatever bytes a test gives it, read by the
real :class:`HttpTransport` and :class:`Watcher` (docs/client.md)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.transport import TransportError
from bluezone.transports import HttpTransport


async def hostile(body: bytes) -> TestServer:
    """A server whose events route answers ``body`` as an event stream, then closes."""
    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(body), 1 << 16):
            await resp.write(body[i:i + (1 << 16)])
        return resp

    app = web.Application()
    app.router.add_get("/v1/feeds/keys/events", events)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def read_all(server: TestServer) -> tuple[list[tuple[str, str] | None], TransportError]:
    """Everything the transport yields, and the error that ends it."""
    items: list[tuple[str, str] | None] = []
    async with HttpTransport(str(server.make_url("/")), timeout=10) as t:
        with pytest.raises(TransportError) as e:
            async for item in t.events("keys", None, 10):
                items.append(item)
    return items, e.value


async def test_data_lines_without_an_end_of_event_are_refused_not_gathered_without_bound():
    """Each line is short, but an event that never ends (no blank line) used
    to be gathered whole: 8 MB here, as much as the server liked."""
    server = await hostile(b"data: " + b"x" * 4000 + b"\n" * 1 + (b"data: " + b"x" * 4000 + b"\n") * 2000 + b"\n")
    try:
        items, error = await read_all(server)
        assert items == [None] and error.code == "network", (len(items), error)
    finally:
        await server.close()
