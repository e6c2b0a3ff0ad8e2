"""Request bodies that arrive in several TCP writes, as on any real network.

A raw socket talks to a real server on 127.0.0.1 and sends the body in
pieces with pauses between them, so the server sees partial data first. The
old reader (``content.read(n)``) answered such requests ``invalid_json``.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from bluezone_authority.server.testing import start
from bluezone.transport import pad_body


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path)
    yield r
    await r.http.close()


async def raw_post(r, path: str, pieces: list[bytes], *, chunked: bool = False,
                   headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """POST ``pieces`` as separate writes (pausing between them); the answer's
    status and JSON body."""
    host, port = r.http.host, r.http.port
    reader, writer = await asyncio.open_connection(host, port)
    head = {"Host": f"{host}:{port}", "Content-Type": "application/json", "Connection": "close", **(headers or {})}
    if chunked:
        head["Transfer-Encoding"] = "chunked"
    else:
        head["Content-Length"] = str(sum(map(len, pieces)))
    writer.write((f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode())
    await writer.drain()
    for piece in pieces:
        await asyncio.sleep(0.05)
        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    raw = await reader.read()
    writer.close()
    head_raw, _, body = raw.partition(b"\r\n\r\n")
    status = int(head_raw.split(b" ", 2)[1])
    if b"chunked" in head_raw.lower():
        body = _unchunk(body)
    return status, json.loads(body)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return bytes(out)


def split(data: bytes, parts: int) -> list[bytes]:
    step = -(-len(data) // parts)
    return [data[i:i + step] for i in range(0, len(data), step)]


async def issue_code(r) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}/v1/authority/codes", json={"tier": "F0", "reportType": "confirmed"},
                          headers=r.auth) as resp:
            assert resp.status == 201
            return (await resp.json())["code"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_verify_body_in_three_writes_is_read_whole(running, chunked):
    code = await issue_code(running)
    body = pad_body({"code": code})  # 8 KiB, as a device sends it
    status, answer = await raw_post(running, "/v1/verify", split(body, 3), chunked=chunked)
    assert status == 200, answer
    assert answer["token"] and answer["reportType"] == 1


async def test_declaration_body_in_many_writes_is_stored_whole(running):
    import base64
    import os

    sealed = os.urandom(4144)
    body = pad_body({"sealed": base64.b64encode(sealed).decode(), "form": "ncovi"})
    status, answer = await raw_post(running, "/v1/declarations", split(body, 7))
    assert status == 200, answer
    assert running.server.declaration(answer["receipt"]) == sealed


async def test_chunked_body_over_the_limit_is_refused_while_reading(running):
    """No Content-Length: the running total still stops it at the limit."""
    limit = running.server.settings.max_body_bytes
    pieces = [b"[" + b" " * 30_000] + [b" " * 30_000] * (limit // 30_000 + 2)
    status, answer = await raw_post(running, "/v1/publish", pieces, chunked=True)
    assert status == 413 and answer["error"]["code"] == "too_large"


@pytest.mark.parametrize("path", ["/v1/decoy", "/v1/publish"])
async def test_decoys_and_chaff_read_split_bodies_to_the_end(running, path):
    body = pad_body({"temporaryExposureKeys": []})
    status, answer = await raw_post(running, path, split(body, 4), headers={"X-Chaff": "1"})
    assert status == 200 and answer["chaff"] is True


async def test_very_deep_json_is_a_clean_400(running):
    body = b"[" * 30_000 + b"]" * 30_000  # 60,000 bytes: under the 64 KiB limit
    status, answer = await raw_post(running, "/v1/publish", split(body, 2))
    assert status == 400 and answer["error"]["code"] == "invalid_json"
    async with aiohttp.ClientSession() as s, s.get(f"{running.url}/v1/health") as resp:
        assert resp.status == 200
