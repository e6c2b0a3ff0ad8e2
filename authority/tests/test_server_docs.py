"""The server's docs stay true: every error code the server can answer is in
docs/api.md, every route is listed, the guessing arithmetic is present, and
the authority CLI works end to end in a real subprocess."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

from bluezone_authority.server import AuthorityServer, create_app
from bluezone_authority.server.testing import settings_for

ROOT = Path(__file__).resolve().parents[2]
API = (ROOT / "docs" / "api.md").read_text()
BLUEZONE = str(Path(sys.executable).parent / "bluezone")


def test_every_error_code_is_documented():
    codes = set()
    for path in (ROOT / "authority" / "bluezone_authority" / "server").glob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'bad_request\(\s*"([a-z_]+)"', text))
    assert len(codes) > 25
    missing = sorted(c for c in codes if f"`{c}`" not in API)
    assert missing == []


def test_every_route_is_documented(tmp_path):
    server = AuthorityServer(settings_for(tmp_path))
    app = create_app(server, background=False)
    for route in app.router.routes():
        if route.method == "HEAD":  # aiohttp adds one per GET
            continue
        path = route.resource.canonical
        shown = re.sub(r"\{name[^}]*\}", "{start}-{end}-{seq}.zip", path)
        assert f"{route.method} {shown}" in API, f"{route.method} {path} missing from docs/api.md"
    server.close()


def _sci(x: float) -> str:
    """``x`` as the docs write it: 4.5 × 10⁻⁶."""
    mantissa, exponent = f"{x:.1e}".split("e")
    sup = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa} × 10{sup}"


def test_guessing_arithmetic_in_the_docs_follows_the_code():
    """The figures in docs/server.md are recomputed from the code's defaults
    and the codes it issues: changing the failure bound, a code's lifetime or
    its length without the docs makes this fail."""
    from bluezone_authority.server import codes
    from bluezone_authority.server.settings import SERVER_SCHEMA

    text = (ROOT / "docs" / "server.md").read_text()
    props = SERVER_SCHEMA["properties"]
    failures, minutes = props["verify_failures_per_minute"]["default"], props["short_code_minutes"]["default"]
    short, long = codes.new_code("short"), codes.new_code("long")
    assert short.isdigit()
    short_space = 10 ** len(short)
    assert f"`verify_failures_per_minute` = {failures}" in text
    assert f"{failures} × {minutes} = {failures * minutes}" in text
    assert _sci(failures * minutes / short_space) in text
    assert f"{len(codes.LONG_ALPHABET)}{str(len(long)).translate(str.maketrans('0123456789', '⁰¹²³⁴⁵⁶⁷⁸⁹'))}" in text
    assert f"{len(codes.LONG_ALPHABET) ** len(long):.2e}".startswith("7.96e+24") and "7.96 × 10²⁴" in text


def test_authority_cli_end_to_end(tmp_path):
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   '[server]\ndatabase = "s.db"\nsecrets_file = "s.secrets"\nexport_dir = "out"\nmin_batch_keys = 0\n')

    def run(*args):
        return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=60)

    out = run("authority", "keygen", "--out", str(tmp_path / "k.pem"))
    assert out.returncode == 0 and (tmp_path / "k.pub.pem").exists()
    again = run("authority", "keygen", "--out", str(tmp_path / "k.pem"))
    assert again.returncode == 2 and again.stderr.startswith("Lỗi / Error:")
    tok = run("authority", "token", "create", "--config", str(cfg), "--name", "Lan", "--role", "case-officer")
    assert tok.returncode == 0 and tok.stdout.startswith("bzs_")
    code = run("authority", "issue-code", "--config", str(cfg), "--long", "--json")
    assert code.returncode == 0 and len(json.loads(code.stdout)["code"]) == 16
    bad = run("authority", "issue-code", "--config", str(cfg), "--onset", "1999-01-01")
    assert bad.returncode == 2 and "Error:" in bad.stderr and "14" in bad.stderr
    exp = run("authority", "export", "--config", str(cfg))
    assert exp.returncode == 0 and json.loads(exp.stdout) == {"batch": None}
    assert run("config", "check", str(cfg)).returncode == 0


async def test_decoy_loop_sends_until_stopped(tmp_path):
    from bluezone.upload import decoy_loop

    class Counting:
        sent = 0

        async def send_decoy(self, kind="report"):
            self.sent += 1  # one decoy report: the transport makes its three requests

    t, stop = Counting(), asyncio.Event()
    task = asyncio.create_task(decoy_loop(t, stop, mean_seconds=0.001))
    while t.sent < 3 and not task.done():
        await asyncio.sleep(0.001)
    stop.set()
    rounds = await task
    assert rounds >= 3 and t.sent == rounds
