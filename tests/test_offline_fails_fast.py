"""An offline phone is told at once; a busy server is still given its retries.

Connection refused and a name that does not resolve mean no server is
there to answer: the http transport stops at the first attempt (and says
trying later may help), while 5xx answers and timeouts keep their backoff.
The command then says in one line what to do, with no library warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.testing import free_port
from bluezone.transport import TransportError
from bluezone.transports import HttpTransport

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def closed_port() -> int:
    """A loopback port nobody listens on: reserved, so no other test process starts a server there."""
    return free_port()


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "http://no-such-host.invalid"])
async def test_no_server_at_all_is_reported_after_one_attempt(url):
    transport = HttpTransport(url.format(port=closed_port()), retries=4, backoff=30)
    async with transport:
        with pytest.raises(TransportError) as e:
            await transport.fetch_index("keys")
    assert e.value.code == "network" and e.value.retryable
    assert transport.stats["requests"] == 1 and transport.stats["retries"] == 0


async def test_a_server_that_answers_503_is_still_retried():
    calls = []

    async def busy(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/{tail:.*}", busy)
    server = TestServer(app)
    await server.start_server()
    try:
        async with HttpTransport(str(server.make_url("")), retries=2, backoff=0.01) as transport:
            with pytest.raises(TransportError):
                await transport.fetch_index("keys")
        assert len(calls) == 3 and transport.stats["retries"] == 2
    finally:
        await server.close()


def test_offline_sync_says_what_to_do_in_one_line_without_warnings(tmp_path):
    config = tmp_path / "d.toml"
    config.write_text(f'[deployment]\nname = "Gia Lai"\nregion = "452"\n\n[authority]\n'
                      f'url = "http://127.0.0.1:{closed_port()}"\n')
    env = {**os.environ, "BLUEZONE_KEY_DIR": str(tmp_path / "keys"), "PYTHONWARNINGS": "default"}
    store = tmp_path / "p.db"
    init = subprocess.run([BLUEZONE, "init", "--config", str(config), "--store", str(store), "--consent", "all",
                           "--language", "en"], capture_output=True, text=True, env=env, timeout=120)
    assert init.returncode == 0, init.stderr
    out = subprocess.run([BLUEZONE, "sync", "--config", str(config), "--store", str(store)], capture_output=True,
                         text=True, env=env, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert "Check your connection and try again" in lines[0]
    assert "Unclosed" not in out.stderr and "Warning" not in out.stderr
