"""The open venue-trace upload route cannot be used to exhaust the server
(issue 17 item 4), and its windows are bounded (item 9, server side).

Everything runs against a real aiohttp server on 127.0.0.1 with the plugin's
routes, a real SQLite database and, for authorised uploads, the real worker
process pool. No assertion is about time: order and counts only.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3

import aiohttp
import pytest

from bluezone_qr_checkin import tracing

import venue_server

HOUR = 3600


@pytest.fixture
async def vs(tmp_path, server_database):
    s = await venue_server.start(tmp_path, qr="trace_uploads_per_client_per_minute = 1000")
    yield s
    await s.http.close()


async def post(url: str, body, **kw) -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession(**kw) as s:
        async with s.post(f"{url}/v1/venue-traces/upload", json=body) as resp:
            return resp.status, await resp.json(), dict(resp.headers)


async def test_junk_tokens_are_refused_before_any_pairing(vs):
    """Junk tokens get 403 JSON and the pairing pool is never even created."""
    now = vs.now()
    real = vs.pretraces(now - 24 * HOUR, now)  # a genuine, heavy upload body: only the token is junk
    before = vs.server.db.fingerprint()
    for token in ("bzo_" + "A" * 43, "bzo_forged", "not-a-token", None, 12345):
        status, body, _ = await post(vs.url, {"token": token, "preTraces": real})
        assert status == 403, body
        assert body["error"]["code"] == "invalid_authority_token" and body["error"]["message_vi"]
    # the token is checked before the body is decoded: broken pre-traces with a junk token are a 403 too
    status, body, _ = await post(vs.url, {"token": "bzo_forged", "preTraces": "!!!"})
    assert (status, body["error"]["code"]) == (403, "invalid_authority_token")
    assert vs.workers.started == 0 and vs.workers._executor is None  # no job, no worker process
    assert vs.server.db.fingerprint() == before


async def test_health_answers_while_authorised_uploads_are_traced(vs):
    """The pairing work runs off the event loop: /v1/health answers while
    authorised uploads are still being verified, and every upload then completes."""
    now = vs.now()
    tokens = [await vs.token(venue=venue_server.VENUE) for _ in range(4)]
    bodies = [{"token": t, "preTraces": vs.pretraces(now - 40 * HOUR, now)} for t in tokens]
    uploads = [asyncio.create_task(post(vs.url, b)) for b in bodies]
    while vs.workers.started == 0:  # the first job is in the pool
        await asyncio.sleep(0.01)
        assert not any(u.done() for u in uploads), [u.result() for u in uploads if u.done()]
    answered = 0
    async with aiohttp.ClientSession() as s:
        for _ in range(5):
            async with s.get(f"{vs.url}/v1/health") as resp:
                assert resp.status == 200 and (await resp.json()) == {"ok": True}
                answered += 1
    assert answered == 5 and not all(u.done() for u in uploads)  # health went first, traces still running
    results = await asyncio.gather(*uploads)
    assert [r[0] for r in results] == [200] * 4, results
    assert all(r[1]["traces"] == 41 and r[1]["notice"] == "f0-visit" for r in results)
    assert all(vs.token_spent(t) for t in tokens) and len(vs.batches()) == 4
    assert vs.workers.started == 4


async def test_heavy_jobs_are_bounded_and_a_refused_upload_keeps_its_token(tmp_path, server_database):
    vs = await venue_server.start(tmp_path, qr="trace_workers = 1\ntrace_queue = 0")
    try:
        now = vs.now()
        t1, t2 = await vs.token(), await vs.token()
        first = asyncio.create_task(post(vs.url, {"token": t1, "preTraces": vs.pretraces(now - 40 * HOUR, now)}))
        while vs.workers.started == 0:
            await asyncio.sleep(0.01)
        status, body, headers = await post(vs.url, {"token": t2, "preTraces": vs.pretraces(now - 2 * HOUR, now)})
        assert (status, body["error"]["code"]) == (503, "venue_tracing_busy") and int(headers["Retry-After"]) > 0
        assert not first.done() and not vs.token_spent(t2)
        assert (await first)[0] == 200
        status, body, _ = await post(vs.url, {"token": t2, "preTraces": vs.pretraces(now - 2 * HOUR, now)})
        assert status == 200, body  # the same token works once the pool is free
        assert len(vs.batches()) == 2
    finally:
        await vs.http.close()


async def test_per_client_rate_limit_does_not_touch_other_clients(tmp_path, server_database):
    vs = await venue_server.start(tmp_path, qr="trace_uploads_per_client_per_minute = 3")
    try:
        junk = {"token": "bzo_forged", "preTraces": ""}
        for _ in range(3):
            assert (await post(vs.url, junk))[0] == 403
        status, body, headers = await post(vs.url, junk)
        assert (status, body["error"]["code"]) == (429, "rate_limited") and 0 < int(headers["Retry-After"]) <= 60
        # another client address (127.0.0.2 is loopback too) still gets through to a real upload
        token = await vs.token()
        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        now = vs.now()
        status, receipt, _ = await post(vs.url, {"token": token, "preTraces": vs.pretraces(now - HOUR, now)},
                                        connector=other)
        assert status == 200, receipt
        vs.clock.t += 60  # next minute: the first client may try again
        assert (await post(vs.url, junk))[0] == 403
    finally:
        await vs.http.close()


async def test_one_token_publishes_once_even_when_two_uploads_race(tmp_path, server_database):
    vs = await venue_server.start(tmp_path, qr="trace_workers = 2")
    try:
        now = vs.now()
        token = await vs.token()
        body = {"token": token, "preTraces": vs.pretraces(now - 6 * HOUR, now)}
        results = await asyncio.gather(post(vs.url, body), post(vs.url, body))
        assert sorted(r[0] for r in results) == [200, 409]
        assert [r[1]["error"]["code"] for r in results if r[0] == 409] == ["authority_token_used"]
        assert len(vs.batches()) == 1
    finally:
        await vs.http.close()


async def test_a_failed_publish_leaves_the_token_unspent(vs):
    """Token, paper log and batch are one transaction: when storing the batch
    fails (here a real trigger of the database aborts the insert), nothing is spent or kept."""
    now = vs.now()
    token = await vs.token()
    sealed = base64.b64encode(b"\x01" * 80).decode()
    body = {"token": token, "preTraces": vs.pretraces(now - 2 * HOUR, now), "paperLog": [sealed]}
    if vs.server.db.kind == "postgresql":
        with vs.server.db.transaction() as c:
            c.execute("CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS"
                      " $$ BEGIN RAISE EXCEPTION 'disk full'; END $$")
            c.execute("CREATE TRIGGER no_batches BEFORE INSERT ON batches FOR EACH ROW EXECUTE FUNCTION disk_full()")
    else:
        with sqlite3.connect(vs.dir / "server" / "server.db") as c:
            c.execute("CREATE TRIGGER no_batches BEFORE INSERT ON batches BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    status, answer, _ = await post(vs.url, body)
    assert (status, answer["error"]["code"]) == (500, "internal")
    assert not vs.token_spent(token) and vs.batches() == []
    assert vs.server.db.one("SELECT count(*) FROM venue_paper_log")[0] == 0
    if vs.server.db.kind == "postgresql":
        with vs.server.db.transaction() as c:
            c.execute("DROP TRIGGER no_batches ON batches")
    else:
        with sqlite3.connect(vs.dir / "server" / "server.db") as c:
            c.execute("DROP TRIGGER no_batches")
    status, receipt, _ = await post(vs.url, body)
    assert status == 200 and receipt["paperLogEntries"] == 1 and vs.token_spent(token)


# --- windows (item 9) ---------------------------------------------------------------------------

def _window_cases(now: int) -> dict[str, tuple[int, int]]:
    return {
        "before 1970": (-2 * HOUR, -HOUR),
        "starts before retention": (now - 15 * 86_400, now - 14 * 86_400 - HOUR),
        "ends in the future": (now - HOUR, now + 3 * HOUR),
        "longer than retention": (now - 13 * 86_400, now + 2 * 86_400),
        "huge": (-(2**62), 2**62),
        "ends before it starts": (now, now - HOUR),
    }


def _raw_pretraces(vs, start: int, end: int) -> str:
    """Pre-traces for any window, even one ``owner_pretraces`` refuses (as an attacker would make them)."""
    good = tracing.owner_pretraces(vs.code, vs.now() - HOUR, vs.now())
    for item in good.preTraces:
        item.startTime, item.endTime = start, end
    return base64.b64encode(good.SerializeToString()).decode()


@pytest.mark.parametrize("case", list(_window_cases(0)))
async def test_windows_outside_retention_are_refused(vs, case):
    start, end = _window_cases(vs.now())[case]
    token = await vs.token()
    before = vs.server.db.fingerprint()
    status, body, _ = await post(vs.url, {"token": token, "preTraces": _raw_pretraces(vs, start, end)})
    assert (status, body["error"]["code"]) == (400, "invalid_window"), body
    assert body["error"]["message_vi"] and not vs.token_spent(token)
    assert vs.server.db.fingerprint() == before and vs.workers.started == 0
    # staff cannot issue a token for such a window either
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{vs.url}/v1/authority/venue-traces/tokens", json={"from": start, "to": end},
                          headers={"Authorization": f"Bearer {vs.staff}"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_window"


async def test_an_accepted_window_is_served_by_the_servers_own_route(vs):
    now = vs.now()
    token = await vs.token()
    status, receipt, _ = await post(vs.url, {"token": token,
                                             "preTraces": vs.pretraces(now - 14 * 86_400 + HOUR, now + HOUR,
                                                                       keep=3)})
    assert status == 200, receipt
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{vs.url}/v1/feeds/venue-traces/index.txt") as resp:
            names = (await resp.text()).split()
        assert names == [receipt["batch"]]
        async with s.get(f"{vs.url}/v1/feeds/venue-traces/{names[0]}") as resp:
            assert resp.status == 200 and (await resp.read())[:2] == b"PK"


NOW = 2_000_000


@pytest.mark.parametrize("start,end,ok", [
    (NOW - 14 * 86_400, NOW, True), (NOW - 14 * 86_400 - 1, NOW, False),
    (NOW - HOUR, NOW + HOUR, True), (NOW - HOUR, NOW + HOUR + 1, False), (NOW, NOW, False),
    (-100, 0, False),  # before 1970, even when the retention period would reach back that far
])
def test_check_window_bounds(start, end, ok):
    if ok:
        tracing.check_window(start, end, now=NOW, retention_days=14)
    else:
        with pytest.raises(tracing.WindowError):
            tracing.check_window(start, end, now=NOW, retention_days=14)
    with pytest.raises(tracing.WindowError):
        tracing.check_window(-100, 0, now=1_000, retention_days=14)
