"""Declarations through the real authority server (aiohttp on 127.0.0.1):
the device seals and uploads through the http transport, the server stores
ciphertext it cannot open, staff fetch it and open it offline."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import sys
from pathlib import Path

import nacl.public
import pytest

from bluezone.declarations.fixtures import TODAY, good_answers, write_deployment
from bluezone.i18n import _n, text

from bluezone.config import load_config
from bluezone.declarations import (SealError, Submission, build_form, make_declaration, open_sealed, seal,
                                   submit_all)
from bluezone_authority.server.testing import start

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path / "srv")
    yield r
    await r.http.close()


async def run_cli(*args: str, env: dict | None = None, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        BLUEZONE, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
    out, err = await proc.communicate(stdin)
    return proc.returncode, out.decode(), err.decode()


def _candidate_keys(blob: bytes) -> list[bytes]:
    """Every 32-byte value the server keeps in its secrets file, raw or base64/hex."""
    found = []
    try:
        data = json.loads(blob)
    except ValueError:
        return found

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and "PRIVATE KEY" in v:  # P-256 keys: their 32-byte scalars
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            found.append(load_pem_private_key(v.encode(), None).private_numbers().private_value.to_bytes(32, "big"))
        elif isinstance(v, str):
            for decode in (base64.b64decode, base64.urlsafe_b64decode, bytes.fromhex):
                try:
                    raw = decode(v + "=" * (-len(v) % 4)) if decode is not bytes.fromhex else decode(v)
                except ValueError:
                    continue
                if len(raw) == 32:
                    found.append(raw)
    walk(data)
    return found


async def test_the_server_stores_only_ciphertext_it_cannot_open(running, tmp_path):
    r = running
    deploy, pair = write_deployment(tmp_path, url=r.url)
    config = load_config(deploy)
    form = build_form(config)
    d = make_declaration(form, good_answers(), language="vi", today=TODAY)
    sealed = seal(d, pair.private_key.public_key)

    [result] = await submit_all(Submission(sealed, d, form), ["authority"], config)
    assert result.ok, result.error
    stored = r.server.declaration(result.receipt)
    assert stored == sealed

    # nothing readable on the server's disk
    for path in (tmp_path / "srv").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for secret in ("Nguyễn Thị Lan".encode(), b"0912345678", b"079188001234", b"Pleiku"):
                assert secret not in blob, f"{secret!r} readable in {path}"
    db_rows = sqlite3.connect(r.server.settings.database).execute("SELECT * FROM declarations").fetchall()
    assert len(db_rows) == 1
    # no key the server holds opens it; the authority's offline key does
    secrets_file = r.server.settings.secrets_file
    candidates = _candidate_keys(Path(secrets_file).read_bytes()) if Path(secrets_file).exists() else []
    assert len(candidates) >= 3  # code key, certificate key, export key
    for raw in candidates:
        with pytest.raises(SealError):
            open_sealed(stored, nacl.public.PrivateKey(raw))
    assert open_sealed(stored, pair.private_key) == d


async def test_declare_then_fetch_and_open_offline_through_the_cli(running, tmp_path):
    r = running
    deploy, pair = write_deployment(tmp_path, url=r.url)
    key = tmp_path / "authority.key"
    pair.write_private(key)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(good_answers(symptom_difficulty_breathing=True), ensure_ascii=False))

    code, out, err = await run_cli("declare", "--config", str(deploy), "--from-json", str(answers), "--lang", "en")
    assert code == 0, err
    assert "The health authority: delivered (receipt" in out
    [listed] = r.server.list_declarations()
    assert listed["id"] in out

    _, token = r.server.create_staff_token("desk", "declarations")
    inbox = tmp_path / "inbox"
    code, out, err = await run_cli("authority", "declarations", "fetch", "--server", r.url, str(inbox),
                                   env={"BLUEZONE_STAFF_TOKEN": token})
    assert code == 0, err
    # the operator's output, in the deployment's first language (vi)
    assert text(_n("{new} new of {n} declaration in {folder}", "{new} new of {n} declarations in {folder}", 1,
                   new=1, folder=str(inbox)), "vi") in out
    assert (inbox / f"{listed['id']}.sealed").read_bytes() == r.server.declaration(listed["id"])

    code, out, err = await run_cli("authority", "declarations", "--key", str(key), "--inbox", str(inbox), "triage",
                                   "--lang", "en")
    assert code == 0, err
    assert f"[URGENT] {listed['id']}" in out and "Difficulty breathing" in out and "Cough" in out

    # again: nothing new; a wrong token is refused with a clear message
    code, out, _ = await run_cli("authority", "declarations", "fetch", "--server", r.url, str(inbox),
                                 env={"BLUEZONE_STAFF_TOKEN": token})
    assert code == 0 and text(_n("{new} new of {n} declaration in {folder}", "{new} new of {n} declarations in {folder}",
                                 1, new=0, folder=str(inbox)), "vi") in out
    code, _, err = await run_cli("authority", "declarations", "fetch", "--server", r.url, str(inbox),
                                 env={"BLUEZONE_STAFF_TOKEN": "wrong"})
    assert code == 2 and "HTTP 401" in err


async def test_an_unreachable_authority_is_reported_not_dropped(tmp_path):
    deploy, _ = write_deployment(tmp_path, url="http://127.0.0.1:9",
                                 declarations='[transport]\nretries = 0\ntimeout_seconds = 2\n')
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(good_answers(), ensure_ascii=False))
    out_file = tmp_path / "kept.sealed"
    code, out, err = await run_cli("declare", "--config", str(deploy), "--from-json", str(answers), "--lang", "en",
                                   "--out", str(out_file))
    assert code == 1
    assert "The health authority: NOT delivered after 2 attempts" in err
    assert out_file.stat().st_size > 4096  # the sealed copy the person can send later
