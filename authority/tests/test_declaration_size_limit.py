"""The 48 KiB declaration limit, over a real socket with the phone's own
transport: a sealed declaration of exactly ``declaration_max_bytes`` is
stored; one byte more is refused with ``too_large`` and leaves nothing. Before,
the general 64 KiB request limit refused the allowed size (base64 and the
phone's 8 KiB body padding make its request 72 KiB), so the promise was
unreachable; other routes keep the general limit."""

from __future__ import annotations

import os

import aiohttp
import pytest

from bluezone.transport import TransportError
from bluezone.transports.http import HttpTransport
from bluezone_authority.server.testing import start


async def test_a_declaration_of_the_limit_is_stored_and_one_byte_more_is_refused(tmp_path):
    r = await start(tmp_path)
    url = str(r.http.make_url(""))
    limit = r.server.settings.declaration_max_bytes
    assert limit == 48 * 1024  # the documented default
    try:
        exact = os.urandom(limit)
        async with HttpTransport(url, retries=0) as t:
            receipt = await t.upload_declaration(exact)
        assert r.server.declaration(receipt) == exact
        before = r.server.db.fingerprint()
        async with HttpTransport(url, retries=0) as t:
            with pytest.raises(TransportError) as refused:
                await t.upload_declaration(os.urandom(limit + 1))
        assert refused.value.code == "too_large" and "declaration" in str(refused.value)
        assert r.server.db.fingerprint() == before
        # the wider allowance is the declarations route's only
        async with aiohttp.ClientSession() as s:
            async with s.post(url + "/v1/verify", data=b"{" + b" " * 70_000 + b"}",
                              headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"
    finally:
        await r.http.close()
        r.server.close()
