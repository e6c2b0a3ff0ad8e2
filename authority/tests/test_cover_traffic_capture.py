"""Real uploads and decoys, captured on the wire, are the same length and order.

A recording TCP proxy sits between the device's http transport and a real
authority server on loopback and keeps every byte in each direction. The
captured streams are cut into HTTP messages (request/answer heads and
bodies) and compared message by message.

On loopback there is no TLS, so what is compared is exactly what a network
observer of the encrypted traffic sees of it: the number and order of
requests and answers and the length of each head and body (TLS adds the
same overhead to equal lengths). The contents differ, but only in places
that TLS encrypts (the ``X-Chaff`` value, padded bodies, the header padding).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import pytest

from bluezone.transports import HttpTransport
from bluezone.upload import upload_with_code
from bluezone_authority.server.testing import past_keys, start


@dataclass
class Connection:
    """The bytes of one proxied TCP connection, each direction in order."""

    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)


class RecordingProxy:
    """A TCP proxy on 127.0.0.1 that forwards to ``target`` and records every byte."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.connections: list[Connection] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        conn = Connection()
        self.connections.append(conn)
        server_r, server_w = await asyncio.open_connection(self.host, self.port)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, into: bytearray) -> None:
            try:
                while data := await reader.read(65536):
                    into += data
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_r, server_w, conn.sent), pipe(server_r, client_w, conn.received))

    def take(self) -> list[Connection]:
        out, self.connections = self.connections, []
        return out

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def messages(stream: bytes) -> list[tuple[str, int, int]]:
    """(first line without its variable part, head length, body length) of each HTTP message.

    The first line keeps the method and path of a request, the status of an
    answer: both are inside TLS, but they name the step, which the test wants
    to compare in order."""
    out = []
    rest = bytes(stream)
    while rest:
        end = rest.index(b"\r\n\r\n") + 4
        head = rest[:end]
        match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        length = int(match.group(1)) if match else 0
        first = head.split(b"\r\n", 1)[0].decode()
        step = " ".join(first.split(" ")[:2])
        out.append((step, len(head), length))
        rest = rest[end + length:]
    return out


def conversation(connections: list[Connection]) -> list[list[tuple[str, int, int]]]:
    """Per connection: requests and answers interleaved, in order."""
    out = []
    for c in connections:
        sent, received = messages(c.sent), messages(c.received)
        assert len(sent) == len(received)
        out.append([m for pair in zip(sent, received) for m in pair])
    return out


def lengths_only(conv: list[list[tuple[str, int, int]]]) -> list[list[tuple[int, int]]]:
    return [[(head, body) for _, head, body in c] for c in conv]


@pytest.fixture
async def wire(tmp_path):
    r = await start(tmp_path)
    proxy = RecordingProxy("127.0.0.1", r.http.port)
    url = await proxy.start()
    yield r, proxy, url
    await proxy.close()
    await r.http.close()


async def test_a_decoy_report_is_a_real_report_byte_for_byte_in_length_and_order(wire):
    r, proxy, url = wire
    code = r.server.issue_code({"tier": "F0"})["code"]
    before = r.server.db.counts()["exposure_keys"]
    async with HttpTransport(url, retries=0) as t:
        await upload_with_code(t, code, past_keys(14))
    real = conversation(proxy.take())
    assert r.server.db.counts()["exposure_keys"] == before + 14  # the real one was stored

    fingerprint = r.server.db.fingerprint()
    async with HttpTransport(url, retries=0) as t:
        await t.send_decoy("report")
    decoy = conversation(proxy.take())
    assert r.server.db.fingerprint() == fingerprint  # the decoy was dropped

    # the same steps (verify, certificate, publish) on one connection, in the same order...
    assert [[step for step, _, _ in c] for c in decoy] == [[step for step, _, _ in c] for c in real] == [[
        "POST /v1/verify", "HTTP/1.1 200", "POST /v1/certificate", "HTTP/1.1 200",
        "POST /v1/publish", "HTTP/1.1 200"]]
    # ...and every head and body of the same length, requests and answers
    assert lengths_only(decoy) == lengths_only(real)


async def test_a_decoy_declaration_is_a_real_declaration_in_length_and_order(wire):
    from bluezone.declarations.declaration import PAD_BLOCK

    r, proxy, url = wire
    async with HttpTransport(url, retries=0) as t:
        await t.upload_declaration(b"\x07" * (48 + PAD_BLOCK))  # a one-block sealed declaration
    real = conversation(proxy.take())
    fingerprint = r.server.db.fingerprint()
    async with HttpTransport(url, retries=0) as t:
        await t.send_decoy("declaration")
    decoy = conversation(proxy.take())
    assert r.server.db.fingerprint() == fingerprint
    assert [[s for s, _, _ in c] for c in decoy] == [["POST /v1/declarations", "HTTP/1.1 200"]]
    assert lengths_only(decoy) == lengths_only(real)


async def test_refusals_are_as_long_as_answers(wire):
    """A wrong code, a refused certificate and an accepted decoy: the answers'
    heads and bodies have one length each, so an error tells nothing either."""
    r, proxy, url = wire
    async with HttpTransport(url, retries=0) as t:
        with pytest.raises(Exception):
            await t.redeem_code("00000000")
        with pytest.raises(Exception):
            await t.request_certificate("bzt_nothing", b"\0" * 32)
        await t.send_decoy("report")
    answers = [m for c in conversation(proxy.take()) for m in c if m[0].startswith("HTTP/")]
    assert [a[0] for a in answers] == ["HTTP/1.1 400"] * 2 + ["HTTP/1.1 200"] * 3
    assert {(head, body) for _, head, body in answers} == {(answers[0][1], answers[0][2])}


async def test_every_device_request_carries_the_same_headers(wire):
    """Real and decoy requests name the same headers (X-Chaff on both)."""
    r, proxy, url = wire
    code = r.server.issue_code({"tier": "F0"})["code"]
    async with HttpTransport(url, retries=0) as t:
        await t.redeem_code(code)
        await t.send_decoy("report")
    (conn,) = proxy.take()
    heads = re.findall(rb"POST [^\r]*\r\n.*?\r\n\r\n", bytes(conn.sent), re.DOTALL)
    assert len(heads) == 4
    names = [sorted(line.split(b":")[0].lower() for line in h.split(b"\r\n")[1:] if line) for h in heads]
    assert all(n == names[0] for n in names) and b"x-chaff" in names[0]


async def test_decoys_keep_their_own_schedule_apart_from_sync(wire, tmp_path):
    """A sync sends no decoy; ``bluezone.cover.send_due`` sends each kind when
    it is due (never on a fresh phone's first run), as real requests would go."""
    from bluezone.config import config_from_dict
    from bluezone.cover import send_due
    from bluezone.store import DeviceStore
    from bluezone.sync import sync

    r, proxy, url = wire
    config = config_from_dict({"deployment": {"name": "t", "region": "452"}, "authority": {"url": url}})
    clock = [r.clock.t]
    store = DeviceStore(tmp_path / "phone.db", clock=lambda: clock[0])
    fingerprint = r.server.db.fingerprint()
    try:
        async with HttpTransport(url, retries=0) as t:
            await sync(store, config, t)
            first = await send_due(store, t)
        posts = [m for c in conversation(proxy.take()) for m in c if m[0].startswith("POST")]
        assert posts == [] and first.sent == [] and first.next_due > clock[0]

        clock[0] += 400 * 86400  # long after both kinds fell due
        async with HttpTransport(url, retries=0) as t:
            due = await send_due(store, t)
        steps = [m[0] for c in conversation(proxy.take()) for m in c if m[0].startswith("POST")]
        assert due.sent == ["report", "declaration"] and due.next_due > clock[0]
        assert steps == ["POST /v1/verify", "POST /v1/certificate", "POST /v1/publish", "POST /v1/declarations"]
        assert r.server.db.fingerprint() == fingerprint
    finally:
        store.close()


async def test_a_transport_from_before_decoy_kinds_still_sends_decoy_reports():
    """``send_decoy(self)`` without a kind: reports still go, declarations are skipped."""
    from bluezone.upload import send_decoys

    class Older:
        def __init__(self):
            self.calls = 0

        async def send_decoy(self):
            self.calls += 1

    t = Older()
    await send_decoys(t, "report")
    await send_decoys(t, "declaration")
    assert t.calls == 1
