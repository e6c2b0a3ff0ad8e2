"""The events route against a hostile or confused client (docs/api.md).

A real server on 127.0.0.1 (``server.testing.start``) and raw sockets where a
header must carry bytes an HTTP library would not send."""

from __future__ import annotations

import asyncio
import json

from bluezone_authority.server.testing import start


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
