"""Cookies, CSRF checks and response headers for the portal's pages.

* Session cookie ``bz_session``: HttpOnly (no script can read it),
  SameSite=Strict (never sent on a request started by another site),
  Path=/portal/, Secure whenever the page was served over https (or always,
  with ``secure_cookies = "always"`` behind a TLS proxy).
* CSRF: every form carries a token. Logged in, it is the session's own
  token; on the login form (no session yet) it is a random value also set
  in the short-lived ``bz_login`` cookie (double submit). Both are compared
  in constant time. A POST whose ``Origin`` header names another origin is
  refused as well (defence in depth; pages send ``Referrer-Policy:
  same-origin`` so browsers send a real Origin on same-origin posts).
* Headers: a CSP allowing only the portal's own stylesheet, no scripts at
  all, forms posting only to this origin, no framing.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web

PREFIX = "/portal"
SESSION_COOKIE = "bz_session"
LOGIN_COOKIE = "bz_login"
LANG_COOKIE = "bz_lang"

PORTAL_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_secure(request: web.Request, mode: str) -> bool:
    return mode == "always" or (mode == "auto" and request.secure)


def set_cookie(response: web.StreamResponse, request: web.Request, mode: str, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=PREFIX + "/", httponly=True, samesite="Strict",
                        secure=is_secure(request, mode), max_age=max_age)


def clear_cookie(response: web.StreamResponse, request: web.Request, mode: str, name: str) -> None:
    response.del_cookie(name, path=PREFIX + "/", secure=is_secure(request, mode), httponly=True, samesite="Strict")


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: object) -> bool:
    return (isinstance(expected, str) and isinstance(given, str) and bool(expected)
            and hmac.compare_digest(expected.encode(), given.encode()))


def same_origin(request: web.Request) -> bool:
    """False only when the browser told us the form came from another origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.host


# Only printable ASCII a URL path and query may hold; no space, no control
# character (CR/LF would split the Location header), no backslash (browsers
# read "\\" as "/", so "/\\evil" is "//evil"), no '#'.
_NEXT_CHARS = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")
_DOT_SEGMENT = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)", re.IGNORECASE)


def safe_next(value: object) -> str:
    """A redirect target inside the portal only: a same-site relative path
    under ``/portal/``, else ``/portal/``. Refuses absolute and
    scheme-relative URLs (``https://evil``, ``//evil``, ``/\\evil``), control
    characters (header injection) and dot segments (``/portal/../x``, also
    percent-encoded, which browsers resolve out of the portal)."""
    if not isinstance(value, str) or len(value) > 2000 or not value.startswith(PREFIX + "/"):
        return PREFIX + "/"
    path = value.split("?", 1)[0]
    if not _NEXT_CHARS.fullmatch(value) or _DOT_SEGMENT.search(path) or "//" in path:
        return PREFIX + "/"
    return value


def redirect(location: str) -> web.Response:
    """A 303 (returned, not raised, so the server's middleware still adds its headers)."""
    return web.Response(status=303, headers={"Location": location})
