"""Portal login, lockout, sessions, CSRF and roles, against the real server
(aiohttp on 127.0.0.1, real SQLite, real Argon2id hashes)."""

from __future__ import annotations

import pytest

from bluezone_authority.portal import sessions, users
from bluezone_authority.portal.testing import PASSWORD, start


@pytest.fixture
async def running(tmp_path):
    # the core's roles only: the venue-tracer role and page are the QR check-in plugin's (tested there)
    r = await start(tmp_path, users=(("admin", "admin"), ("officer", "case-officer"), ("clerk", "declarations")))
    yield r
    await r.http.close()


def rows(r, sql, params=()):
    return r.server.db.all(sql, params)


async def test_login_sets_a_strict_httponly_cookie_and_stores_only_its_hash(running):
    r = running
    async with r.client() as c:
        page = await c.get("/portal/")
        assert page.url.endswith("/portal/login?next=/portal/")  # not logged in → login page
        async with c.session.post(r.url + "/portal/login", data={"username": "admin", "password": PASSWORD,
                                                                 "csrf": page.csrf()}, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/portal/"
            header = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("bz_session="))
        attrs = [a.strip().lower() for a in header.split(";")]
        assert "httponly" in attrs and "samesite=strict" in attrs and "path=/portal/" in attrs
        assert "secure" not in attrs  # plain http on loopback; https gets Secure (next test)
        cookie = c.cookie("bz_session")
        assert cookie and len(cookie) >= 40
        stored = rows(r, "SELECT id_hash FROM portal_sessions")
        assert len(stored) == 1 and cookie.encode() not in stored[0][0]
        dash = await c.get("/portal/")
        assert dash.status == 200 and dash.by_id("total-uploads") == "0"
    # the password is stored as an Argon2id hash only
    (digest,) = rows(r, "SELECT password_hash FROM portal_users WHERE username = 'admin'")[0]
    assert digest.startswith("$argon2id$") and PASSWORD not in digest


async def test_secure_cookie_when_configured_for_a_tls_proxy(tmp_path):
    r = await start(tmp_path, extra="\n[portal]\nsecure_cookies = \"always\"\n")
    try:
        async with r.client() as c:
            page = await c.get("/portal/login")
            login_cookie = next(v for v in page.headers.getall("Set-Cookie") if v.startswith("bz_login="))
            assert "secure" in [a.strip().lower() for a in login_cookie.split(";")]
            # a client keeps Secure cookies for https only; hand it back as a TLS proxy would pass it
            value = login_cookie.split(";")[0].split("=", 1)[1]
            async with c.session.post(r.url + "/portal/login", data={"username": "admin", "password": PASSWORD,
                                                                     "csrf": page.csrf()}, allow_redirects=False,
                                      headers={"Cookie": f"bz_login={value}"}) as resp:
                assert resp.status == 303
                header = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("bz_session="))
        assert "secure" in [a.strip().lower() for a in header.split(";")]
    finally:
        await r.http.close()


async def test_wrong_password_and_unknown_user_get_the_same_answer(running):
    async with running.client() as c:
        bad = await c.login("admin", "wrong password!!")
        unknown = await c.login("nobody", "wrong password!!")
        assert bad.status == unknown.status == 401
        assert bad.by_id("login-error") == unknown.by_id("login-error") == "Sai tên đăng nhập hoặc mật khẩu."
        assert c.cookie("bz_session") is None
    assert rows(running, "SELECT count(*) FROM portal_sessions")[0][0] == 0


async def test_lockout_after_repeated_failures_then_expiry_and_unlock(running):
    r = running
    async with r.client() as c:
        for _ in range(4):
            assert (await c.login("officer", "not the password")).status == 401
        locked = await c.login("officer", "not the password")  # 5th failure locks
        assert locked.status == 423 and "15" in locked.by_id("login-error")
        # locked: even the right password is refused, and no session is made
        again = await c.login("officer", PASSWORD)
        assert again.status == 423
        assert rows(r, "SELECT count(*) FROM portal_sessions")[0][0] == 0
        # another account is not affected
        assert (await c.login("clerk", PASSWORD)).status == 200
    r.clock.t += 15 * 60
    async with r.client() as c:
        assert (await c.login("officer", PASSWORD)).status == 200
        assert rows(r, "SELECT failed_logins, locked_until FROM portal_users WHERE username='officer'") == [(0, None)]
    # an administrator can unlock before the time is up
    for _ in range(5):
        await r.client().login("clerk", "nope nope nope")  # noqa: the client closes with its session below
    assert users.get_user(r.server.db, "clerk").locked(r.server.now())
    assert users.unlock(r.server.db, "clerk")
    async with r.client() as c:
        assert (await c.login("clerk", PASSWORD)).status == 200


async def test_a_success_resets_the_failure_count(running):
    async with running.client() as c:
        for _ in range(4):
            await c.login("officer", "not the password")
        assert (await c.login("officer", PASSWORD)).status == 200
    async with running.client() as c:
        for _ in range(4):
            assert (await c.login("officer", "not the password")).status == 401  # counting starts again


async def test_csrf_token_required_on_every_form_and_nothing_changes_without_it(running):
    r = running
    async with r.client() as c:
        # login without the token / with a wrong one: no failure counted, no session, nothing at all
        await c.get("/portal/login")
        before = r.server.db.fingerprint()
        assert (await c.post("/portal/login", {"username": "admin", "password": PASSWORD})).status == 403
        assert (await c.post("/portal/login", {"username": "admin", "password": "wrong"})).status == 403
        assert (await c.post("/portal/login", {"username": "admin", "password": PASSWORD, "csrf": "x" * 43})).status == 403
        assert c.cookie("bz_session") is None
        assert r.server.db.fingerprint() == before
        await c.login()
        before = r.server.db.fingerprint()
        for path, data in [("/portal/codes", {"tier": "F0"}), ("/portal/exports", {}), ("/portal/logout", {})]:
            page = await c.post(path, data)
            assert page.status == 403, path
            assert page.by_id("page-error").startswith("Biểu mẫu đã hết hạn")
            page = await c.post(path, {**data, "csrf": "forged-token"})
            assert page.status == 403, path
        assert r.server.db.fingerprint() == before  # no code, token or batch was made
        assert (await c.get("/portal/")).status == 200  # still logged in: logout refused too
        # a form posted from another origin is refused even with a valid token
        token = (await c.get("/portal/codes")).csrf()
        cross = await c.post("/portal/codes", {"tier": "F0", "csrf": token}, headers={"Origin": "https://evil.example"})
        assert cross.status == 403
        assert r.server.db.fingerprint() == before
        # the same token from this origin works
        ok = await c.post("/portal/codes", {"tier": "F0", "csrf": token}, headers={"Origin": r.url})
        assert ok.status == 200 and ok.by_id("issued-code").isdigit()


async def test_a_session_token_is_bound_to_its_session(running):
    async with running.client() as a, running.client() as b:
        await a.login("admin")
        await b.login("officer")
        token_a = (await a.get("/portal/codes")).csrf()
        assert (await b.post("/portal/codes", {"tier": "F0", "csrf": token_a})).status == 403


async def test_session_expires_when_idle_and_at_the_absolute_limit(running):
    r = running
    async with r.client() as c:
        await c.login()
        r.clock.t += 29 * 60
        assert (await c.get("/portal/")).url.endswith("/portal/")  # activity keeps it alive
        r.clock.t += 30 * 60
        page = await c.get("/portal/codes")
        assert "/portal/login" in page.url and "expired=1" in page.url
        assert "Phiên làm việc đã hết hạn" in page.text
        assert rows(r, "SELECT count(*) FROM portal_sessions")[0][0] == 0  # the row is gone
        # absolute limit: 8 h even with activity every 20 minutes
        await c.login()
        for _ in range(8 * 3):
            r.clock.t += 20 * 60
            page = await c.get("/portal/")
        assert "/portal/login" in page.url


async def test_logout_ends_the_session_on_the_server(running):
    r = running
    async with r.client() as c:
        await c.login()
        cookie = c.cookie("bz_session")
        page = await c.submit("/portal/", "/portal/logout", {})
        assert "/portal/login?bye=1" in page.url and "Đã đăng xuất" in page.text
        assert rows(r, "SELECT count(*) FROM portal_sessions")[0][0] == 0
    # replaying the old cookie does not work
    async with r.client() as c2:
        c2.session.cookie_jar.update_cookies({"bz_session": cookie})
        assert "/portal/login" in (await c2.get("/portal/")).url


async def test_removing_a_user_or_changing_the_password_ends_their_sessions(running):
    r = running
    async with r.client() as c:
        await c.login("officer")
        users.set_password(r.server.db, "officer", "a brand new passphrase")
        assert "/portal/login" in (await c.get("/portal/")).url
        assert (await c.login("officer")).status == 401
        assert (await c.login("officer", "a brand new passphrase")).status == 200
        assert users.remove_user(r.server.db, "officer")
        assert "/portal/login" in (await c.get("/portal/")).url


async def test_roles_decide_which_pages_open(running):
    expect = {  # page -> roles that may open it (admin passes all)
        "/portal/codes": {"admin", "officer"},
        "/portal/declarations": {"admin", "clerk"},
        "/portal/": {"admin", "officer", "clerk"},
    }
    for who in ("admin", "officer", "clerk"):
        async with running.client() as c:
            await c.login(who)
            for path, allowed in expect.items():
                page = await c.get(path)
                assert (page.status == 200) == (who in allowed), (who, path, page.status)
                if who not in allowed:
                    assert page.status == 403 and "vai trò" in page.by_id("page-error")
            nav = (await c.get("/portal/")).text
            assert ('href="/portal/codes"' in nav) == (who in expect["/portal/codes"])
    # only an admin may trigger an export from the portal
    async with running.client() as c:
        await c.login("officer")
        assert (await c.submit("/portal/", "/portal/exports", {})).status == 403


async def test_login_redirects_only_inside_the_portal(running):
    async with running.client() as c:
        page = await c.get("/portal/login?next=https://evil.example/")
        async with c.session.post(running.url + "/portal/login", allow_redirects=False,
                                  data={"username": "admin", "password": PASSWORD, "csrf": page.csrf(),
                                        "next": "//evil.example/"}) as resp:
            assert resp.headers["Location"] == "/portal/"


def test_session_rows_hold_no_client_address(running):
    cols = [r[1] for r in running.server.db.all("PRAGMA table_info(portal_sessions)")]
    cols += [r[1] for r in running.server.db.all("PRAGMA table_info(portal_users)")]
    assert not any(x in c for c in cols for x in ("ip", "addr", "agent"))
    assert sessions.Session.__dataclass_fields__.keys() == {"id_hash", "user", "csrf", "created_at", "last_seen"}
