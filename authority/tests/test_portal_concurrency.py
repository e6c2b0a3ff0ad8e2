"""Portal logins under real concurrency (aiohttp server on 127.0.0.1, real
SQLite file, real Argon2id): parallel wrong passwords lock the account, a
right password does not clear failures recorded beside it, and junk logins
cannot crowd out a real user of another account."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bluezone_authority.portal import users
from bluezone_authority.portal.attempts import LoginGate
from bluezone_authority.portal.testing import PASSWORD, start

LIMITS = "\n[portal]\nlogin_per_client_per_minute = 10000\n"  # this file tests the per-account rules


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path, extra=LIMITS, users=(("admin", "admin"), ("officer", "case-officer"),
                                                   ("clerk", "declarations")))
    yield r
    await r.http.close()


async def burst(r, username: str, passwords: list[str]) -> list[int]:
    """POST all logins at once from one browser tab (one CSRF token)."""
    async with r.client() as c:
        page = await c.get("/portal/login")
        token = page.csrf()

        async def one(pw: str) -> int:
            async with c.session.post(r.url + "/portal/login", allow_redirects=False,
                                      data={"username": username, "password": pw, "csrf": token}) as resp:
                await resp.read()
                return resp.status

        return list(await asyncio.gather(*(one(pw) for pw in passwords)))


async def test_parallel_wrong_passwords_lock_the_account_and_the_right_one_is_refused(running, tmp_path):
    r = running
    statuses = await burst(r, "officer", [f"wrong password {i:02d}" for i in range(19)])
    # the issue: all 19 were checked (401) and the lock came too late. Now at most the
    # budget is checked; the rest are refused before any hash and counted
    assert statuses.count(401) < 5, statuses
    assert set(statuses) <= {401, 423, 429} and 423 in statuses, statuses
    async with r.client() as c:
        assert (await c.login("officer", PASSWORD)).status == 423
        assert c.cookie("bz_session") is None
    # the real SQLite file shows the lock, and no session was made
    conn = sqlite3.connect(tmp_path / "server.db")
    try:
        (locked_until,) = conn.execute("SELECT locked_until FROM portal_users WHERE username='officer'").fetchone()
        (sessions,) = conn.execute("SELECT count(*) FROM portal_sessions").fetchone()
    finally:
        conn.close()
    assert locked_until is not None and locked_until > r.server.now() and sessions == 0


async def test_junk_logins_do_not_crowd_out_a_real_user_of_another_account(running):
    r = running
    junk = [burst(r, f"nobody{i % 7}", ["not the password"] * 6) for i in range(5)]  # 30 for unknown names
    junk.append(burst(r, "officer", ["not the password"] * 20))  # 20 for another account
    flood = asyncio.gather(*junk)
    await asyncio.sleep(0)  # let the flood start
    async with r.client() as c:
        page = await c.login("clerk", PASSWORD)
        assert page.status == 200 and c.cookie("bz_session"), page.status
    results = await flood
    # unknown names share one in-flight allowance: most were refused at once, not hashed
    unknown = [s for res in results[:-1] for s in res]
    assert set(unknown) <= {401, 429} and unknown.count(429) > 0
    async with r.client() as c:  # a refusal for load says when to come back
        page = await c.get("/portal/login")
        async with c.session.post(r.url + "/portal/login", allow_redirects=False,
                                  data={"username": "officer", "password": PASSWORD, "csrf": page.csrf()}) as resp:
            assert resp.status == 423  # locked by the flood; the real officer learns why
    assert users.get_user(r.server.db, "officer").locked(r.server.now())
    assert users.get_user(r.server.db, "clerk").failed_logins == 0


def test_a_right_password_clears_only_failures_settled_before_it_started(running):
    db, now = running.server.db, running.server.now()
    gate = LoginGate(per_account=2, max_pending=8)
    users.record_failure(db, "officer", now, 5, 900)  # an earlier typo
    right = gate.admit(db, "officer", True, now, 5, 900)
    assert right.admitted and right.failures_before == 1
    # two wrong attempts run beside it and finish first
    for _ in range(2):
        users.record_failure(db, "officer", now, 5, 900)
    gate.release(right)
    assert users.record_success(db, "officer", now, None, right.failures_before)
    assert users.get_user(db, "officer").failed_logins == 2  # the earlier typo is cleared, theirs stay
    # a lock set by attempts beside it wins over the right password
    right = gate.admit(db, "officer", True, now, 5, 900)
    for _ in range(3):
        users.record_failure(db, "officer", now, 5, 900)
    gate.release(right)
    assert users.get_user(db, "officer").locked(now)
    assert not users.record_success(db, "officer", now, None, right.failures_before)
    assert users.get_user(db, "officer").locked(now)


def test_the_gate_bounds_in_flight_checks_per_account_for_unknown_names_and_in_total(running):
    db, now = running.server.db, running.server.now()
    gate = LoginGate(per_account=2, max_pending=5)
    a, b = gate.admit(db, "officer", True, now, 5, 900), gate.admit(db, "officer", True, now, 5, 900)
    assert a.admitted and b.admitted
    third = gate.admit(db, "officer", True, now, 5, 900)
    assert third.busy and not third.admitted
    assert users.get_user(db, "officer").failed_logins == 1  # refused unchecked: counted as a failure
    # failures plus attempts in flight may not pass the lockout budget either
    for _ in range(2):
        users.record_failure(db, "officer", now, 5, 900)
    gate.release(a)
    fifth = gate.admit(db, "officer", True, now, 5, 900)  # 3 failed + 1 in flight + this one = 5
    assert fifth.admitted
    over = gate.admit(db, "officer", True, now, 5, 900)  # would be a 6th try within the budget
    assert over.busy and users.get_user(db, "officer").failed_logins == 4
    assert gate.admit(db, "officer", True, now, 5, 900).locked  # counted again: 5 failures lock
    assert users.get_user(db, "officer").locked(now)
    gate.release(b)
    gate.release(fifth)
    # every unknown name shares one allowance; a refusal there touches no account
    u1, u2 = gate.admit(db, "ghost1", False, now, 5, 900), gate.admit(db, "ghost2", False, now, 5, 900)
    assert u1.admitted and u2.admitted and gate.admit(db, "ghost3", False, now, 5, 900).busy
    # the total bound: once full, everyone waits (429) without a hash and without a counted failure
    c1, c2 = gate.admit(db, "clerk", True, now, 5, 900), gate.admit(db, "admin", True, now, 5, 900)
    c3 = gate.admit(db, "admin", True, now, 5, 900)
    assert c1.admitted and c2.admitted and c3.admitted and gate.pending == 5
    full = gate.admit(db, "clerk", True, now, 5, 900)
    assert full.busy and users.get_user(db, "clerk").failed_logins == 0
    for d in (u1, u2, c1, c2, c3):
        gate.release(d)
    assert gate.pending == 0 and gate.in_flight == {}


async def test_the_per_client_login_limit_answers_429_with_retry_after(tmp_path):
    r = await start(tmp_path, extra="\n[portal]\nlogin_per_client_per_minute = 2\n")
    try:
        async with r.client() as c:
            pages = [await c.login("admin", "not the password") for _ in range(3)]
            assert [p.status for p in pages] == [401, 401, 429]
            assert 1 <= int(pages[2].headers["Retry-After"]) <= 60
        assert users.get_user(r.server.db, "admin").failed_logins == 2  # the refused one was never checked
    finally:
        await r.http.close()
