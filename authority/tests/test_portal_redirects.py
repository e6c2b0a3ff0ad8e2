"""The portal's ``next=`` parameter redirects only to a same-site path under
/portal/: no header injection (CR/LF), no open redirect (``//evil``,
``https://evil``, ``/\\evil``, dot segments), never a 500."""

from __future__ import annotations

import pytest
from yarl import URL

from bluezone_authority.portal.security import safe_next
from bluezone_authority.portal.testing import PASSWORD, start

HOSTILE = [
    "/portal/\r\nSet-Cookie: pwned=1",
    "/portal/codes\nLocation: https://evil.example/",
    "/portal/%0d%0aSet-Cookie: pwned=1",  # arrives with a space: refused too
    "//evil.example/portal/",
    "https://evil.example/portal/",
    "/\\evil.example/",
    "/portal/\\\\evil.example/",
    "/portal//evil.example/",
    "/portal/../evil",
    "/portal/%2e%2e/evil",
    "/portal/.%2E/evil",
    "/portal/\t/evil",
    "/portal/\x00",
    "javascript:alert(1)",
    "/portal/\u2028x",
    "",
]


@pytest.fixture
async def running(tmp_path):
    r = await start(tmp_path)
    yield r
    await r.http.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_next_refuses_everything_outside_the_portal(value):
    assert safe_next(value) == "/portal/"


@pytest.mark.parametrize("value", ["/portal/", "/portal/codes", "/portal/codes?kind=long&x=%20y",
                                   "/portal/declarations/ab12.sealed"])
def test_safe_next_keeps_portal_paths(value):
    assert safe_next(value) == value


async def test_hostile_next_values_redirect_home_over_http(running):
    r = running
    for value in HOSTILE:  # after login (form field), each in a fresh browser
        async with r.client() as c:
            login = await c.get("/portal/login")
            async with c.session.post(r.url + "/portal/login", allow_redirects=False,
                                      data={"username": "admin", "password": PASSWORD, "csrf": login.csrf(),
                                            "next": value}) as resp:
                assert resp.status == 303, (value, resp.status)
                assert resp.headers["Location"] == "/portal/" and "pwned" not in str(resp.headers)
    async with r.client() as c:
        assert (await c.login()).status == 200
        # logged in: the login page and the language switch redirect at once (query string)
        for value in HOSTILE:
            for path in ("/portal/login", "/portal/lang/en"):
                async with c.session.get(URL(r.url).with_path(path).with_query(next=value),
                                         allow_redirects=False) as resp:
                    assert resp.status == 303, (path, value, resp.status)
                    assert resp.headers["Location"] == "/portal/"
                    assert "pwned" not in str(resp.headers)
        async with c.session.get(URL(r.url).with_path("/portal/lang/en").with_query(next="/portal/codes"),
                                 allow_redirects=False) as resp:
            assert resp.headers["Location"] == "/portal/codes"


async def test_the_login_page_never_echoes_a_hostile_next(running):
    async with running.client() as c:
        for value in HOSTILE:
            page = await c.session.get(URL(running.url).with_path("/portal/login").with_query(next=value))
            text = await page.text()
            assert page.status == 200
            assert 'name="next" value="/portal/"' in text, value
