"""Slow clients against a real `bluezone serve` process: a connection that
stalls in the request line, the headers or the body is closed by the server
(the issue held 1,500 half-open connections for 80 s and more).

The timeouts are set to 1 s and each test waits up to 30 s for the close:
that is a liveness check (the server does close), not a speed assertion."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from bluezone_authority.server.process import ServerProcess, free_port

HEADER_TIMEOUT = 1
BODY_TIMEOUT = 1
PATIENCE = 30  # generous multiple of the timeouts: only a server that never closes fails

CONFIG = """
[deployment]
name = "Slow clients"
region = "452"

[authority]
url = "http://127.0.0.1:1"

[server]
port = {port}
database = "server.db"
export_dir = "exports"
secrets_file = "server.secrets"
header_timeout_seconds = {header}
body_timeout_seconds = {body}
"""


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("slow")
    port = free_port()
    cfg = folder / "deploy.toml"
    cfg.write_text(CONFIG.format(port=port, header=HEADER_TIMEOUT, body=BODY_TIMEOUT))
    with ServerProcess(cfg, f"http://127.0.0.1:{port}", folder / "serve.log") as p:
        yield port, p
    log = (folder / "serve.log").read_text()
    assert "Traceback" not in log, log


def stall(port: int, first: bytes) -> tuple[bytes, float]:
    """Send ``first``, then nothing; read until the server closes. Returns
    what the server sent and how long the connection stayed open."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as s:
        if first:
            s.sendall(first)
        opened = time.monotonic()
        received = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            pytest.fail(f"the server kept a stalled connection open for {PATIENCE} s after {first[:40]!r}")
        return received, time.monotonic() - opened


def test_a_connection_that_sends_nothing_is_closed(serve):
    port, _ = serve
    received, _ = stall(port, b"")
    assert received == b""


def test_half_a_request_line_is_closed(serve):
    port, _ = serve
    received, _ = stall(port, b"POST /v1/ver")
    assert received == b""


def test_half_the_headers_is_closed(serve):
    port, _ = serve
    received, _ = stall(port, b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Le")


def test_trickled_headers_do_not_extend_the_deadline(serve):
    """A byte every half second keeps the connection busy but never finishes
    the headers: the deadline counts from the start, not from the last byte."""
    port, _ = serve
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\n")
        deadline = time.monotonic() + PATIENCE
        closed = False
        while time.monotonic() < deadline:
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.5)
            try:
                if s.recv(4096) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
        assert closed, "a trickle of header bytes kept the connection open"


def test_half_a_body_gets_408_and_the_connection_is_closed(serve):
    port, _ = serve
    # a chaff request is read to its end before it is dropped: the reader gets the 408
    head = (b"POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Chaff: 1\r\n"
            b"Content-Length: 1000\r\n\r\n")
    received, _ = stall(port, head + b'{"padding": "abc')
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b'"body_timeout"' in received and b"message_vi" in received


@pytest.mark.parametrize("path", ["/v1/verify", "/v1/certificate", "/v1/declarations", "/v1/decoy", "/nowhere"])
def test_half_a_body_on_any_route_is_closed(serve, path):
    """Whether the route reads its body (the decoy too: it reads to the end
    and drops, so its reader gets the 408) or answers early (404), the
    stalled body does not keep the connection."""
    port, _ = serve
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n").encode()
    received, _ = stall(port, head + b'{"code": "1234')
    if received:  # an answer before the close is a refusal, never a 500 and never a decoy's "ok"
        status = int(received.split(b" ", 2)[1])
        assert 400 <= status < 500, received[:200]


def test_the_server_still_answers_and_keeps_alive_within_the_timeout(serve):
    port, _ = serve
    # two requests on one connection, the second sent promptly: keep-alive still works
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as s:
        for _ in range(2):
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b'{"ok": true}' not in data:
                chunk = s.recv(4096)
                assert chunk, "closed while answering"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
