"""The portal as an aiohttp sub-application mounted at ``/portal/``.

:func:`mount` is called by the built-in plugin's ``bluezone_server_routes``
hook, so ``bluezone serve`` serves the portal next to the device and staff
APIs, with the server's middleware (JSON errors for the API, size limits,
security headers) around the portal's own (HTML pages, sessions, CSP).
Everything the portal does goes through the :class:`AuthorityServer`
methods the staff API uses — codes, one-time tokens, exports — so there is
one implementation of each operation.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bluezone.i18n import Message, _, use_languages

from ..server.app import SERVER, off_loop
from ..server.service import AuthorityServer
from . import i18n, security, sessions
from .attempts import LoginGate
from .db import ensure_schema
from .settings import PortalSettings

HERE = Path(__file__).parent
PORTAL: web.AppKey["Portal"] = web.AppKey("bluezone_portal")
NOT_FOUND = _("There is no such page.")


@dataclass
class Ctx:
    """What the portal's middleware learned about a request."""

    lang: str
    session_cookie: str | None
    session: sessions.Session | None
    form: Any = None


# aiohttp >= 3.13 has typed request keys; older versions take a plain string
CTX: Any = web.RequestKey("bluezone_portal_ctx", Ctx) if hasattr(web, "RequestKey") else "bluezone_portal_ctx"


def ctx(request: web.Request) -> Ctx:
    return request[CTX]


class PortalError(Exception):
    """A refusal shown as an HTML page: an HTTP status and a text (``_()``),
    shown in the request's language."""

    def __init__(self, status: int, message: Message):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Portal:
    server: AuthorityServer
    settings: PortalSettings
    env: jinja2.Environment
    gate: LoginGate
    #: navigation: the core's links, then the plugins'
    menu: list[Any] = field(default_factory=list)
    #: the plugins' dashboard counters
    counters: list[Any] = field(default_factory=list)

    @property
    def idle_seconds(self) -> int:
        return self.settings.session_idle_minutes * 60

    @property
    def max_seconds(self) -> int:
        return self.settings.session_max_hours * 3600

    def tz(self) -> dt.tzinfo:
        try:
            return zoneinfo.ZoneInfo(self.settings.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return dt.timezone.utc

    def local_time(self, ts: int) -> str:
        return dt.datetime.fromtimestamp(ts, self.tz()).strftime("%Y-%m-%d %H:%M")


def portal_of(request: web.Request) -> Portal:
    return request.app[PORTAL]


def make_env(plugin_templates: dict[str, Path] | None = None) -> jinja2.Environment:
    """The core's templates by their names, a plugin's as ``"<its name>/<file>"``
    (so a plugin can neither replace nor collide with another's)."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(HERE / "templates")]
    if plugin_templates:
        loaders.append(jinja2.PrefixLoader({name: jinja2.FileSystemLoader(folder)
                                            for name, folder in plugin_templates.items()}))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    i18n.install(env)
    return env


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A page in the request's language, with the common context: the
    language switch, user, CSRF token, navigation."""
    portal = portal_of(request)
    lang = ctx(request).lang
    session = ctx(request).session
    base = {
        "lang": lang, "prefix": security.PREFIX,
        "languages": [(code, i18n.language_name(code)) for code in portal.settings.languages],
        "session": session, "user": session.user if session else None,
        "csrf": session.csrf if session else "", "menu": portal.menu,
        "role_name": lambda r: i18n.role_name(r, portal.server.roles),
        "here": request.path_qs if request.method == "GET" else request.path,
        "tz": portal.settings.timezone, "active": "",
    }
    base.update(context)
    with use_languages(lang):  # the template's gettext reads it (see .i18n)
        page = portal.env.get_template(template).render(**base)
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


@web.middleware
async def portal_middleware(request: web.Request, handler) -> web.StreamResponse:
    portal = portal_of(request)
    lang = i18n.pick_language(request.cookies.get(security.LANG_COOKIE), request.headers.get("Accept-Language"),
                              portal.settings.languages, portal.settings.language)
    cookie = request.cookies.get(security.SESSION_COOKIE)
    # off the event loop on PostgreSQL: every portal request looks its session up
    session = await off_loop(portal.server, sessions.load_session, portal.server.db, cookie, portal.server.now(),
                             portal.idle_seconds, portal.max_seconds) if cookie else None
    request[CTX] = Ctx(lang, cookie, session)
    try:
        response = await handler(request)
    except PortalError as err:
        response = render(request, "error.html", status=err.status, message=err.message)
    except web.HTTPNotFound:
        response = render(request, "error.html", status=404, message=NOT_FOUND)
    except web.HTTPMethodNotAllowed:
        response = render(request, "error.html", status=405, message=NOT_FOUND)
    for name, value in security.PORTAL_HEADERS.items():
        response.headers[name] = value
    return response


def create_portal_app(server: AuthorityServer, settings: PortalSettings) -> web.Application:
    """The portal with the core's pages and those the server's plugins add
    (``bluezone_portal_pages``, ``bluezone_portal_menu_links``,
    ``bluezone_dashboard_counters``; see :mod:`.extensions`)."""
    from . import extensions, views

    ensure_schema(server.db)
    ext = extensions.collect(getattr(server.config, "pm", None), (m.key for m in views.CORE_MENU))
    env = make_env({p.name: p.templates for p in ext.pages if p.templates is not None})
    app = web.Application(middlewares=[portal_middleware])
    app[PORTAL] = Portal(server, settings, env,
                         LoginGate(settings.login_in_flight_per_account, settings.login_max_pending),
                         menu=[*views.CORE_MENU, *ext.menu], counters=ext.counters)
    views.add_routes(app)
    taken = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    for page in ext.pages:
        for method, path, handler in page.routes:
            if (method.upper(), path) in taken or not path.startswith("/") or path.startswith("/static"):
                raise extensions.ExtensionError(_("portal: '{name}' cannot add {method} {path} (taken by the core "
                                                  "or another plugin, or not a page path)",
                                                  name=page.name, method=method, path=path))
            taken.add((method.upper(), path))
            app.router.add_route(method.upper(), path, handler)
    app.router.add_static("/static/", HERE / "static", append_version=False)
    return app


def mount(app: web.Application, config: Any = None) -> web.Application | None:
    """Mount the portal under ``/portal/`` of the server's app (unless ``[portal] enabled = false``)."""
    settings = PortalSettings.from_config(config)
    if not settings.enabled:
        return None
    sub = create_portal_app(app[SERVER], settings)

    async def to_portal(request: web.Request) -> web.Response:
        return security.redirect(security.PREFIX + "/")

    app.router.add_get(security.PREFIX, to_portal)  # before the sub-app, which would claim "/portal" too
    app.add_subapp(security.PREFIX, sub)
    return sub
