"""``bluezone sync --watch`` against a hostile event stream: a real aiohttp
server on 127.0.0.1 that sends whatever bytes a test gives it, read by the
real :class:`HttpTransport` and :class:`Watcher` (docs/client.md)."""

from __future__ import annotations

import asyncio
import random

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.transport import TransportError
from bluezone.transports import HttpTransport
from bluezone.watch import Watcher, WatchSettings


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


async def test_announcements_that_are_not_batch_names_and_numbers_are_ignored():
    """The name is printed and the id is sent back as ``Last-Event-ID``: a
    terminal escape in the name, a path, or an id the server would refuse (a
    400 on every reconnection, for ever) must not be taken."""
    good = "1780000000-1780003600-00007.zip"
    server = await hostile(
        b"id: 1\ndata: \x1b]0;owned\x07\x1b[2J.zip\n\n"
        b"id: 2\ndata: ../../../etc/passwd\n\n"
        b"id: 3\ndata: https://evil.example/x.zip\n\n"
        b"id: abc\ndata: 1780000000-1780003600-00003.zip\n\n"
        b"id: 99999999999999999999\ndata: 1780000000-1780003600-00004.zip\n\n"
        b"id: -5\ndata: 1780000000-1780003600-00005.zip\n\n"
        b"id: 7\ndata: " + good.encode() + b"\n\n")
    said: list[str] = []
    syncs: list[int] = []

    async def sync() -> None:
        syncs.append(1)

    async with HttpTransport(str(server.make_url("/")), timeout=10) as t:
        watcher = Watcher(sync=sync, say=lambda m: said.append(str(m)), events=t.events,
                          settings=WatchSettings(max_delay=0.0), rng=random.Random(1))
        try:
            with pytest.raises(TransportError):
                await watcher.listen_once()
            await asyncio.sleep(0.1)
        finally:
            await server.close()
    assert watcher.last_event_id == "7"
    assert len(syncs) == 1
    assert said and all("\x1b" not in m and "passwd" not in m and "evil" not in m for m in said), said
    assert [m for m in said if "announced" in m] == [f"New batch announced ({good}); syncing in 0 s."]


async def test_an_endless_line_is_a_broken_stream_not_a_crash():
    """1 MB with no newline: aiohttp's ``readline`` raises its own
    ``LineTooLong``, which escaped as a traceback and ended ``sync --watch``."""
    server = await hostile(b"x" * (1 << 20))
    try:
        items, error = await read_all(server)
        assert items == [None] and error.code == "network", (items, error)
    finally:
        await server.close()
