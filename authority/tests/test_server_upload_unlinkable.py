"""The server keeps nothing that ties an upload to its code, its staff member or its second.

Read back from the real server database file with plain ``sqlite3`` after a
real upload over HTTP: every stored time is a whole hour, the staff member
who issued the code is forgotten once the keys are published, and the code
itself (which a linked declaration may carry) finds no row any more.
"""

from __future__ import annotations

import sqlite3

import aiohttp
import pytest

from bluezone.transport import TransportError
from bluezone.transports import HttpTransport
from bluezone.upload import upload_with_code
from bluezone_authority.server import codes
from bluezone_authority.server.db import ServerDB
from bluezone_authority.server.testing import NOW, past_keys, start

#: Odd seconds past the hour, so no exact time is a whole hour by chance.
ISSUED, REDEEMED, CERTIFIED, PUBLISHED = NOW + 1237, NOW + 1301, NOW + 1303, NOW + 1309


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path)
    yield r
    await r.http.close()


def rows(path, sql: str) -> list[tuple]:
    """A query on the database file through a separate plain sqlite3 connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def staff_code(r, tier: str = "F0") -> str:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}/v1/authority/codes", json={"tier": tier}, headers=r.auth) as resp:
            assert resp.status == 201
            return (await resp.json())["code"]


class SteppedClock:
    """Moves the server clock to the next of ``times`` before each request leaves."""

    def __init__(self, r, times: list[int]):
        self.r, self.times = r, list(times)

    def trace(self) -> aiohttp.TraceConfig:
        tc = aiohttp.TraceConfig()

        async def on_start(session, ctx, params):
            self.r.clock.t = self.times.pop(0)

        tc.on_request_start.append(on_start)
        return tc


async def test_an_upload_keeps_no_second_no_staff_link_and_no_way_back_from_its_code(running):
    r = running
    r.clock.t = ISSUED
    code = await staff_code(r)
    db = str(r.server.settings.database)
    assert rows(db, "SELECT issued_by FROM codes") == [(r.server.authenticate(r.auth["Authorization"]).id,)]

    clock = SteppedClock(r, [REDEEMED, CERTIFIED, PUBLISHED])
    async with aiohttp.ClientSession(trace_configs=[clock.trace()]) as s:
        await upload_with_code(HttpTransport(r.url, retries=0, session=s), code, past_keys(14, NOW))

    (row,) = rows(db, "SELECT state, issued_by, code_hash, token_hash, created_at, certified_at, used_at,"
                      " expires_at, token_expires_at FROM codes")
    state, issued_by, code_hash, token_hash, *times = row
    assert state == "used"
    assert issued_by is None, "the staff member is still linked to the published upload"
    assert token_hash is None and code_hash != codes.code_hash(r.server.keys, code)
    assert all(t % 3600 == 0 for t in times), times
    key_times = rows(db, "SELECT created_at, available_at FROM exposure_keys")
    assert len(key_times) == 14 and all(t % 3600 == 0 for pair in key_times for t in pair), key_times
    # no exact second of the flow is stored anywhere in either table
    exact = {ISSUED, REDEEMED, CERTIFIED, PUBLISHED}
    every_value = {v for t in ("codes", "exposure_keys") for row in rows(db, f"SELECT * FROM {t}") for v in row}
    assert not exact & every_value

    # the code a linked declaration carries leads to no row: it is unknown, not "used"
    assert rows(db, "SELECT count(*) FROM codes WHERE code_hash = x'%s'"
                % codes.code_hash(r.server.keys, code).hex()) == [(0,)]
    async with HttpTransport(r.url, retries=0) as t:
        with pytest.raises(TransportError) as refused:
            await t.redeem_code(code)
    assert refused.value.code == "invalid_code"


async def test_an_unused_code_keeps_its_staff_member_until_it_is_published(running):
    """Accountability for a code that is still live: the link goes only with the upload."""
    r = running
    r.clock.t = ISSUED
    await staff_code(r)
    code = await staff_code(r)
    async with HttpTransport(r.url, retries=0) as t:
        await t.redeem_code(code)  # claimed, not yet published
    staff = rows(str(r.server.settings.database), "SELECT state, issued_by, created_at FROM codes ORDER BY state")
    assert [s[0] for s in staff] == ["claimed", "issued"] and all(s[1] for s in staff)
    assert all(s[2] % 3600 == 0 for s in staff)  # issue times are to the hour from the start


def test_a_database_written_before_keeps_no_exact_time_after_opening(tmp_path):
    """The migration step scrubs rows stored by older servers: exact times, staff links."""
    path = tmp_path / "server.db"
    ServerDB(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '001_schema'")  # as before 002 existed
    conn.execute("INSERT INTO codes (id, code_hash, kind, report_type, created_at, expires_at, state, token_hash,"
                 " token_expires_at, certified_at, used_at, issued_by) VALUES"
                 " ('c1', x'01', 'short', 1, ?, ?, 'used', x'02', ?, ?, ?, 'officer-7')",
                 (ISSUED, ISSUED + 900, REDEEMED + 86400, CERTIFIED, PUBLISHED))
    conn.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                 " report_type, created_at, available_at) VALUES (x'00112233445566778899aabbccddeeff', 1, 144,"
                 " 2, 1, ?, ?)", (PUBLISHED, PUBLISHED))
    conn.commit()
    conn.close()
    ServerDB(path).close()
    (code,) = rows(path, "SELECT code_hash, token_hash, issued_by, created_at, certified_at, used_at FROM codes")
    assert code[0] != b"\x01" and code[1] is None and code[2] is None
    assert all(t % 3600 == 0 for t in code[3:])
    assert rows(path, "SELECT created_at FROM exposure_keys") == [(PUBLISHED // 3600 * 3600,)]
