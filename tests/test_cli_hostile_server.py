"""The citizen's client against a hostile server (or a tampered mirror or
proxy on plain HTTP): the error code and message it answers with are the
server's words, and ``bluezone sync`` and ``bluezone report`` print them.

Through the real console script against a real HTTP server process that
answers every request with terminal escape and bidi characters: the error
line stays one line and carries no raw control character."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bluezone.schedules.gaen import SCHEDULE
from bluezone.store import DeviceStore
from bluezone.testing import free_port
from bluezone.textsafe import is_unsafe_char

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
EVIL = "\x1b]0;PWNED\x07\x1b[2J\x1b[31mYOU ARE F0\u202egpj.exe\r\n"

HOSTILE = textwrap.dedent(f"""
    import sys
    from aiohttp import web

    EVIL = {EVIL!r}

    async def answer(request):
        await request.read()
        return web.json_response({{"error": {{"code": EVIL + "code", "message": EVIL * 2000}}}}, status=403)

    app = web.Application()
    app.router.add_route("*", "/{{tail:.*}}", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.py").write_text(HOSTILE)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(folder / "hostile.py"), str(port)], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2)
            except urllib.error.HTTPError:
                break  # it answers (with its 403)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        (folder / "phone.toml").write_text(
            f'[deployment]\nname = "H"\nregion = "452"\n[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'
            f'[authority]\nurl = "{url}"\n[transport]\nretries = 0\n')
        yield folder
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "default"})


def phone(folder: Path, tmp_path: Path) -> tuple[str, str]:
    cfg, store = str(folder / "phone.toml"), str(tmp_path / "phone.db")
    assert cli("init", "--config", cfg, "--store", store, "--language", "en", "--consent", "all").returncode == 0
    return cfg, store


def assert_one_clean_line(out: subprocess.CompletedProcess) -> None:
    assert out.returncode == 1, out
    assert out.stderr.count("\n") == 1 and out.stderr.endswith("\n"), out.stderr[:2000]
    line = out.stderr[:-1]
    assert not [c for c in line if is_unsafe_char(c)], line[:300]
    assert len(line) < 2000, f"{len(line)} characters of the server's text on one line"


def test_sync_prints_a_hostile_error_as_one_inert_line(hostile, tmp_path):
    cfg, store = phone(hostile, tmp_path)
    assert_one_clean_line(cli("sync", "--config", cfg, "--store", store, "--no-decoy"))


def test_report_prints_a_hostile_error_as_one_inert_line(hostile, tmp_path):
    cfg, store = phone(hostile, tmp_path)
    with DeviceStore(store) as s:  # a key of two days ago: ended, so report reaches the server
        s.current_key(SCHEDULE, int(time.time()) - 2 * 86400)
    out = cli("report", "--config", cfg, "--store", store, "--code", "1234567812345678")
    assert "Sending" in out.stderr  # the progress line, then the error line
    assert_one_clean_line(subprocess.CompletedProcess(out.args, out.returncode, out.stdout,
                                                      out.stderr.split("\n", 1)[1]))
