"""Staff delete one declaration by the receipt its sender was given (the
person's right to erasure), through the staff API, the authority CLI and the
portal, against the real server on 127.0.0.1 and its SQLite database.

Before: a sealed declaration stayed until retention; nobody could remove it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from bluezone.declarations import KeyPair, build_form, make_declaration, seal
from bluezone.declarations.fixtures import TODAY, good_answers
from bluezone.transports import HttpTransport
from bluezone_authority.portal.testing import start as start_portal
from bluezone_authority.server.testing import start as start_server

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


async def declare(url: str, n: int = 1) -> list[str]:
    pair = KeyPair.generate()
    form = build_form(None)
    receipts = []
    async with HttpTransport(url, retries=0) as t:
        for _ in range(n):
            d = make_declaration(form, good_answers(), language="vi", today=TODAY)
            receipts.append(await t.upload_declaration(seal(d, pair.private_key.public_key)))
    return receipts


@pytest.fixture
async def running(tmp_path, server_database):
    r = await start_server(tmp_path / "srv")
    yield r
    await r.http.close()


async def delete(r, receipt: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token or r.admin_token}"}
    async with aiohttp.ClientSession() as s:
        async with s.delete(f"{r.url}/v1/authority/declarations/{receipt}", headers=headers) as resp:
            return resp.status, await resp.json()


async def test_the_staff_api_deletes_one_declaration_by_its_receipt(running):
    r = running
    keep, gone = await declare(r.url, 2)
    before = r.server.declaration_usage()
    assert await delete(r, gone) == (200, {"deleted": gone})
    assert r.server.declaration(gone) is None and r.server.declaration(keep) is not None
    after = r.server.declaration_usage()
    assert after.count == before.count - 1 and after.bytes < before.bytes  # its quota is given back
    status, body = await delete(r, gone)
    assert status == 404 and body["error"]["code"] == "not_found" and body["error"]["message_vi"]


async def test_junk_receipts_and_wrong_roles_are_refused_and_delete_nothing(running):
    r = running
    [receipt] = await declare(r.url)
    status, body = await delete(r, "not-a-receipt")
    assert status == 400 and body["error"]["code"] == "invalid_receipt" and body["error"]["message_vi"]
    _, officer = r.server.create_staff_token("case officer", "case-officer")
    status, _ = await delete(r, receipt, officer)
    assert status == 403
    assert r.server.declaration(receipt) is not None


async def test_the_authority_cli_deletes_on_the_server_and_the_downloaded_copy(running, tmp_path):
    r = running
    [receipt] = await declare(r.url)
    _, token = r.server.create_staff_token("declarations desk", "declarations")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / f"{receipt}.sealed").write_bytes(r.server.declaration(receipt))

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            BLUEZONE, "authority", "declarations", "delete", "--server", r.url, *args,
            env={**os.environ, "BLUEZONE_STAFF_TOKEN": token},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await run("--inbox", str(inbox), receipt)
    assert code == 0, err
    # no deployment file: the operator's output is in the default first language, Vietnamese
    assert f"đã xoá tờ khai {receipt}" in out and not (inbox / f"{receipt}.sealed").exists()
    assert r.server.declaration(receipt) is None
    code, _, err = await run(receipt)
    assert code == 1 and "no declaration" in err and err.count("\n") == 1


async def test_the_portal_deletes_a_declaration_by_its_receipt(tmp_path):
    r = await start_portal(tmp_path, users=(("admin", "admin"),))
    try:
        keep, gone = await declare(r.url, 2)
        async with r.client() as c:
            await c.login("admin")
            page = await c.submit("/portal/declarations", "/portal/declarations/delete", {"receipt": gone})
            assert page.status == 200 and gone in page.by_id("decl-deleted")
            assert r.server.declaration(gone) is None and r.server.declaration(keep) is not None
            page = await c.submit("/portal/declarations", "/portal/declarations/delete", {"receipt": gone})
            assert page.status == 404 and gone in page.by_id("decl-delete-missing")
            page = await c.submit("/portal/declarations", "/portal/declarations/delete", {"receipt": "<b>x"})
            assert page.status == 400 and page.by_id("decl-delete-error") and "<b>x" not in page.text
            page = await c.post("/portal/declarations/delete", {"receipt": keep, "csrf": "forged"})
            assert page.status == 403 and r.server.declaration(keep) is not None
    finally:
        await r.http.close()
