"""The portal's pages. Each handler is thin: check the session, the role and
the CSRF token, call the one server method that does the work, render."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bluezone.i18n import N_, Message, _

from ..server import embargo_view
from ..server.app import off_loop
from ..server.errors import ApiError
from ..server.middleware import SECURITY_HEADERS
from ..server.ratelimit import limits_of
from . import dashboard, declarations, federation_view, passwords, security, sessions, users
from .app import NOT_FOUND, PortalError, ctx, portal_of, render
from .extensions import MenuLink
from .security import PREFIX, redirect

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The core's navigation; plugins add theirs with ``bluezone_portal_menu_links``.
CORE_MENU = [
    MenuLink("dashboard", "/", N_("Dashboard"), None),
    MenuLink("codes", "/codes", N_("Verification codes"), "case-officer"),
    MenuLink("declarations", "/declarations", N_("Health declarations"), "declarations"),
    MenuLink("federation", "/federation", N_("Federation"), "admin"),
]
#: How an issued code's report type is named (``reportType`` of the issued code).
REPORT_TYPE_NAMES = {1: N_("Confirmed test (F0)"), 2: N_("Clinical diagnosis (F0)"), 3: N_("Self report"),
                     4: N_("F1 — F2 warnings (recursive)"), 5: N_("Negative test: revokes an earlier report")}

CSRF_FAILED = _("The form has expired or is not valid. Reload the page and try again.")


def staff_page(*roles: str) -> Callable[[Handler], Handler]:
    """Require a live session (else the login page) with one of ``roles``
    (admin passes all); on POST also a valid CSRF token from this origin."""
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def inner(request: web.Request) -> web.StreamResponse:
            session = ctx(request).session
            if session is None:
                expired = "&expired=1" if ctx(request).session_cookie else ""
                target = request.path_qs if request.method == "GET" else PREFIX + "/"
                return redirect(f"{PREFIX}/login?next={_quote(target)}{expired}")
            if request.method == "POST":
                form = await read_form(request)
                ctx(request).form = form
                if not security.same_origin(request) or not security.tokens_match(session.csrf, form.get("csrf")):
                    raise PortalError(403, CSRF_FAILED)
            if roles and not session.user.has_role(*roles):
                raise PortalError(403, _("Your account may not do this (needs the role {roles}).",
                                         roles=" / ".join(roles)))
            return await handler(request)
        return inner
    return wrap


async def read_form(request: web.Request) -> Any:
    """The posted form, or a 400 page when its bytes are not text.

    ``request.post()`` decodes multipart fields as UTF-8 and raises on bytes
    that are not (a 500 before this); any portal form goes through here."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError):
        raise PortalError(400, _("The form sent is not valid text. Reload the page and try again.")) from None


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


# --- login / logout / language --------------------------------------------------------------


def _login_page(request: web.Request, status: int = 200, error: Message | None = None) -> web.Response:
    portal = portal_of(request)
    token = security.new_login_token()
    notice = None
    if request.query.get("expired"):
        notice = _("Your session has ended. Please log in again.")
    elif request.query.get("bye"):
        notice = _("You are logged out.")
    response = render(request, "login.html", status=status, login_csrf=token, error=error,
                      notice=notice, next=security.safe_next(request.query.get("next")), active="login")
    security.set_cookie(response, request, portal.settings.secure_cookies, security.LOGIN_COOKIE, token, max_age=3600)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    if ctx(request).session is not None:
        return redirect(security.safe_next(request.query.get("next")))
    return _login_page(request)


async def login_submit(request: web.Request) -> web.StreamResponse:
    portal = portal_of(request)
    server, db, s = portal.server, portal.server.db, portal.settings
    form = await read_form(request)
    if not security.same_origin(request) or not security.tokens_match(request.cookies.get(security.LOGIN_COOKIE),
                                                                       form.get("csrf")):
        return _login_page(request, 403, CSRF_FAILED)
    wait = await limits_of(request).hit(request, "portal-login", s.login_per_client_per_minute)
    if wait:
        response = _login_page(request, 429, _("Too many attempts. Wait a minute."))
        response.headers["Retry-After"] = str(wait)
        return response
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    now = server.now()
    known = bool(users.USERNAME.match(username)) and users.get_user(db, username) is not None
    # decided before the Argon2 wait, counting attempts in flight (authority/bluezone_authority/portal/attempts.py)
    decision = portal.gate.admit(db, username, known, now, s.lockout_failures, s.lockout_minutes * 60)
    if decision.locked:
        return _login_page(request, 423, _locked(decision.lock_minutes))
    if not decision.admitted:
        response = _login_page(request, 429, _("Too many logins at once. Try again in a moment."))
        response.headers["Retry-After"] = "1"
        return response
    try:
        checked = await passwords.verify_async(users.password_hash(db, username) if known else None, password)
    finally:
        portal.gate.release(decision)
    now = server.now()
    if not checked.ok:
        if known and users.record_failure(db, username, now, s.lockout_failures, s.lockout_minutes * 60):
            return _login_page(request, 423, _locked(s.lockout_minutes))
        return _login_page(request, 401, _("Wrong user name or password."))
    if not users.record_success(db, username, now, checked.new_hash, decision.failures_before):
        user = users.get_user(db, username)
        minutes = max(1, -(-((user.locked_until or now) - now) // 60)) if user else s.lockout_minutes
        return _login_page(request, 423, _locked(minutes))
    sessions.purge_sessions(db, now, portal.idle_seconds, portal.max_seconds)
    sessions.end_session(db, ctx(request).session_cookie)  # never keep a session id across a login
    cookie = sessions.new_session(db, username, now)
    response = redirect(security.safe_next(str(form.get("next", ""))))
    security.set_cookie(response, request, s.secure_cookies, security.SESSION_COOKIE, cookie)
    security.clear_cookie(response, request, s.secure_cookies, security.LOGIN_COOKIE)
    return response


def _locked(minutes: int) -> Message:
    return _("This account is locked after repeated failures. Try again in {minutes} minutes or ask an "
             "administrator to unlock it.", minutes=minutes)


@staff_page()
async def logout(request: web.Request) -> web.StreamResponse:
    portal = portal_of(request)
    sessions.end_session(portal.server.db, ctx(request).session_cookie)
    response = redirect(f"{PREFIX}/login?bye=1")
    security.clear_cookie(response, request, portal.settings.secure_cookies, security.SESSION_COOKIE)
    return response


async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in portal_of(request).settings.languages:
        raise web.HTTPNotFound()
    response = redirect(security.safe_next(request.query.get("next")))
    security.set_cookie(response, request, portal_of(request).settings.secure_cookies, security.LANG_COOKIE, lang,
                        max_age=365 * 86400)
    return response


# --- dashboard ----------------------------------------------------------------------------------


@staff_page()
async def dashboard_page(request: web.Request) -> web.StreamResponse:
    server = portal_of(request).server
    board = dashboard.collect(server.db, server.now(), counters=portal_of(request).counters)
    labels = [d.day.strftime("%d/%m") for d in board.days]
    exported = request.query.get("exported")
    embargo = server.embargo()
    return render(request, "dashboard.html", board=board, active="dashboard", counters=portal_of(request).counters,
                  embargo=embargo, embargo_rows=embargo_view.rows(embargo),
                  upload_bars=dashboard.bars([d.uploads for d in board.days], labels),
                  export_bars=dashboard.bars([d.exports for d in board.days], labels),
                  exported=exported, exported_keys=request.query.get("keys", "0"))


@staff_page("admin")
async def export_now(request: web.Request) -> web.StreamResponse:
    out = portal_of(request).server.export_now()
    if out.get("batch") is None:
        return redirect(f"{PREFIX}/?exported=")
    return redirect(f"{PREFIX}/?exported={_quote(out['batch'])}&keys={int(out['realKeys'])}")


# --- verification codes ---------------------------------------------------------------------------


def _codes_form(request: web.Request, status: int = 200, error: ApiError | None = None,
                values: dict[str, str] | None = None) -> web.Response:
    server = portal_of(request).server
    today = dt.datetime.fromtimestamp(server.now(), dt.timezone.utc).date()
    return render(request, "codes.html", status=status, active="codes", error=error,
                  recursive=server.settings.recursive_reports, values=values or {},
                  today=today.isoformat(), earliest=(today - dt.timedelta(days=14)).isoformat(),
                  short_minutes=server.settings.short_code_minutes, long_hours=server.settings.long_code_hours)


@staff_page("case-officer")
async def codes_page(request: web.Request) -> web.StreamResponse:
    return _codes_form(request)


@staff_page("case-officer")
async def codes_submit(request: web.Request) -> web.StreamResponse:
    portal = portal_of(request)
    form = ctx(request).form
    values = {k: str(form.get(k, ""))[:32] for k in ("tier", "reportType", "symptomOnsetDate", "testDate", "kind")}
    body = {k: (v or None) for k, v in values.items()}
    body["tier"] = values["tier"] or "F0"
    body["kind"] = values["kind"] or "short"
    body["reportType"] = values["reportType"] or "confirmed"
    try:
        issued = portal.server.issue_code(body, issued_by=ctx(request).session.user.member().id)  # type: ignore[union-attr]  # a staff page: signed in
    except ApiError as err:
        return _codes_form(request, err.status, err, values)
    return render(request, "code_issued.html", active="codes", issued=issued,
                  report_type=REPORT_TYPE_NAMES.get(issued["reportType"], ""),
                  expires=portal.local_time(issued["expiresAt"]))


# --- declarations --------------------------------------------------------------------------------------


@staff_page("declarations")
async def declarations_page(request: web.Request) -> web.StreamResponse:
    return render(request, "declarations.html", active="declarations",
                  summary=declarations.summary(portal_of(request).server), **NO_DELETION)


@staff_page("declarations")
async def declarations_all(request: web.Request) -> web.StreamResponse:
    """Streamed page by page (never the whole set in memory); each write waits
    for the client, and the event loop serves other requests between pages."""
    server = portal_of(request).server
    stamp = dt.datetime.fromtimestamp(server.now(), dt.timezone.utc).strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(headers={
        "Content-Type": "application/x-ndjson",
        "Content-Disposition": f'attachment; filename="declarations-{stamp}.jsonl"',
        **SECURITY_HEADERS, **security.PORTAL_HEADERS})  # set now: middlewares run after the body is sent
    await response.prepare(request)
    try:
        for chunk in declarations.jsonl_chunks(server):
            await response.write(chunk)  # drains: a slow client holds one page, not the whole download
            await asyncio.sleep(0)  # let health checks and other requests in between pages
        await response.write_eof()
    except ConnectionResetError:  # the browser went away: stop reading pages, nothing to report
        pass
    return response


@staff_page("declarations")
async def declaration_one(request: web.Request) -> web.StreamResponse:
    ref = request.match_info["id"]
    data = portal_of(request).server.declaration(ref)
    if data is None:
        raise PortalError(404, NOT_FOUND)
    return web.Response(body=data, content_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{ref}.sealed"'})


#: What the declarations page says about a deletion when none was asked for.
NO_DELETION: dict[str, Any] = {"deleted": None, "missing": None, "delete_error": None}


@staff_page("declarations")
async def declaration_delete(request: web.Request) -> web.StreamResponse:
    """Delete one declaration by its receipt (the sender asked); the page says what happened."""
    server = portal_of(request).server
    receipt = str(ctx(request).form.get("receipt", "")).strip().lower()[:64]
    try:
        deleted = server.delete_declaration(receipt)
    except ApiError as err:
        return render(request, "declarations.html", status=err.status, active="declarations",
                      summary=declarations.summary(server), **{**NO_DELETION, "delete_error": err})
    return render(request, "declarations.html", status=200 if deleted else 404, active="declarations",
                  summary=declarations.summary(server),
                  **{**NO_DELETION, "deleted" if deleted else "missing": receipt})


# --- federation ------------------------------------------------------------------------------------------


@staff_page("admin")
async def federation_page(request: web.Request) -> web.StreamResponse:
    """The federation status (the staff API's ``GET /v1/authority/federation``) for administrators,
    who alone may read it there too."""
    portal = portal_of(request)
    page = await off_loop(portal.server, federation_view.collect, portal.server)
    return render(request, "federation.html", active="federation", page=page, reason=federation_view.reason,
                  local_time=portal.local_time)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", dashboard_page)
    r.add_post("/exports", export_now)
    r.add_get("/login", login_form)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
    r.add_get("/lang/{lang}", switch_language)
    r.add_get("/codes", codes_page)
    r.add_post("/codes", codes_submit)
    r.add_get("/declarations", declarations_page)
    r.add_get("/declarations/all.jsonl", declarations_all)
    r.add_post("/declarations/delete", declaration_delete)
    r.add_get("/declarations/{id:" + declarations.ID_PATTERN + "}.sealed", declaration_one)
    r.add_get("/federation", federation_page)
