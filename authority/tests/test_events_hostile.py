"""The events route against a hostile or confused client (docs/api.md).

A real server on 127.0.0.1 (``server.testing.start``) and raw sockets where a
header must carry bytes an HTTP library would not send."""

from __future__ import annotations

import asyncio
import json
import os
import time

import aiohttp

from bluezone_authority.server.testing import start

#: a day inside the retention window (older keys are purged)
YESTERDAY = (int(time.time()) // 86400 - 1) * 144


async def raw_get(port: int, path: str, header: bytes) -> tuple[int, dict]:
    """One GET with ``header`` sent byte for byte; the status and JSON body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b"\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _sep, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_last_event_id_of_non_ascii_digits_is_a_400_not_a_crash(tmp_path):
    """"²" and "١٢" pass ``str.isdigit``; the first made ``int()`` raise (a 500)."""
    r = await start(tmp_path)
    try:
        for value in ("²".encode(), "١٢".encode(), "٣".encode() * 5):
            status, body = await raw_get(r.http.port, "/v1/feeds/keys/events", b"Last-Event-ID: " + value)
            assert status == 400 and body["error"]["code"] == "invalid_event_id", (value, status, body)
    finally:
        await r.http.close()
        r.server.close()


async def test_a_last_event_id_beyond_the_newest_batch_still_hears_the_next_one(tmp_path):
    """A phone whose last id is ahead of the server (the server's database was
    restored or rebuilt, or the id is simply wrong) used to hear nothing on
    that stream ever again: announcements at or below its id were dropped, and
    heartbeats kept the stream — and the phone's silence — alive."""
    r = await start(tmp_path, events_poll_seconds=0.05, min_batch_keys=0)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{r.url}/v1/feeds/keys/events", headers={"Last-Event-ID": "999999"}) as resp:
                assert resp.status == 200
                await asyncio.sleep(0.3)  # the stream is listening
                with r.server.db.transaction() as c:
                    c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period,"
                              " transmission_risk, report_type, dsos, created_at, available_at)"
                              " VALUES (?, ?, 144, 4, 1, 0, 0, 0)", (os.urandom(16), YESTERDAY))
                name = r.server.export_now()["batch"]
                lines: list[str] = []
                while "data: " + name not in lines:
                    lines.append((await asyncio.wait_for(resp.content.readline(), 10)).decode().rstrip("\n"))
                assert "id: 1" in lines
    finally:
        await r.http.close()
        r.server.close()
