"""The consent gate in front of every external declaration submitter.

An external submitter (NCOVI and any other that is not the authority) reads
the person's answers in plaintext, so ``bluezone declare`` sends to it only
when the person said yes: ``--external`` or "y" when asked. Answers given
without a terminal and without ``--external``, ``--no-external``, and a
withdrawn "submitters" consent each send nothing. A real endpoint on loopback
counts what arrives; the command runs as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bluezone.declarations.fixtures import good_answers, write_deployment
from bluezone.declarations.submit import installed_submitters
from bluezone.plugins import make_plugin_manager

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
PRIVACY = ('[privacy]\nnotice_version = "2026-12"\ncontroller = "Sở Y tế"\ncontact_email = "a@b.vn"\n'
           'protection_contact = "Phòng CNTT"\n')


@pytest.fixture
async def endpoint():
    received: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"maToKhai": "NC-00001"}, status=201)

    app = web.Application()
    app.router.add_post("/api/tokhai", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/api/tokhai")), received
    await server.close()


async def bluezone(folder: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(BLUEZONE, *args, cwd=folder, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode()


def test_ncovi_is_the_only_external_submitter_installed():
    """Every installed submitter but the authority is external; if another
    appears, the gate test below must send through it too."""
    assert set(installed_submitters(make_plugin_manager())) == {"authority", "ncovi"}


async def test_external_submitters_get_nothing_without_a_yes(endpoint, tmp_path):
    url, received = endpoint
    config, _ = write_deployment(tmp_path, declarations=(
        '[declarations]\nsubmitters = ["ncovi"]\n\n'
        f'[declarations.ncovi]\nurl = "{url}"\nattempts = 1\nbackoff_seconds = 0.01\ntimeout_seconds = 5\n\n' + PRIVACY))
    (tmp_path / "answers.json").write_text(json.dumps(good_answers()), encoding="utf-8")
    declare = ["declare", "--config", str(config), "--from-json", "answers.json", "--lang", "en"]

    for extra in ([], ["--no-external"]):  # no terminal to ask, or said no
        code, out = await bluezone(tmp_path, *declare, *extra)
        assert code == 0 and "ncovi: skipped (not agreed)" in out, out
    assert received == []

    # a withdrawn "submitters" consent outweighs --external
    code, out = await bluezone(tmp_path, "init", "--config", str(config), "--store", "phone.db", "--language", "en",
                               "--consent", "all")
    assert code == 0, out
    code, out = await bluezone(tmp_path, "consent", "--config", str(config), "--store", "phone.db",
                               "withdraw", "submitters")
    assert code == 0, out
    code, out = await bluezone(tmp_path, *declare, "--store", "phone.db", "--external")
    assert "ncovi: skipped (not agreed)" in out and received == [], out

    # the control: with a yes, the same command does send (so the refusals above are the gate's)
    code, out = await bluezone(tmp_path, *declare, "--external")
    assert code == 0 and len(received) == 1 and json.loads(received[0])["camKet"] is True, out
