"""What plugins add to the staff portal, and how it is collected.

A feature that lives in a plugin (venue tracing in ``bluezone_qr_checkin``)
brings its own pages, templates, navigation entry, dashboard counter and
role through four hooks, so the core portal never names it:

* ``bluezone_portal_pages`` → :class:`PortalPages`
* ``bluezone_portal_menu_links`` → :class:`MenuLink`
* ``bluezone_dashboard_counters`` → :class:`DashboardCounter`
* ``bluezone_staff_roles`` → :class:`bluezone_authority.server.staff.StaffRole`

Texts are English msgids translated through the one message catalogue: a
plugin's templates use ``{{ _("...") }}`` like the core's, and a label
(menu link, counter, role) is a msgid marked with :func:`bluezone.i18n.N_`
in the plugin's code; the plugin ships the translations in its own domain
(``bluezone_message_catalogues``).

Everything is collected once, when the portal app is built, and clashes
(two plugins claiming one template namespace, menu key or counter key, or a
route the core has) stop the server at start with a message naming them,
rather than being resolved by load order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bluezone.i18n import N_, _

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ExtensionError(ValueError):
    """A plugin's portal contribution is malformed or clashes with another
    (a ValueError: ``bluezone serve`` refuses to start with it in one line)."""


@dataclass(frozen=True)
class PortalPages:
    """A plugin's pages. ``name`` is the template namespace: templates in
    ``templates`` are rendered as ``"<name>/<file>"`` and may extend the core's
    ``base.html`` and write their texts as ``{{ _("English text") }}``.
    ``routes`` are ``(method, path, handler)`` under ``/portal``."""

    name: str
    routes: tuple[tuple[str, str, Handler], ...] = ()
    templates: Path | None = None


@dataclass(frozen=True)
class MenuLink:
    """A navigation entry: ``key`` marks it current (``active`` of a page),
    ``label`` is an English msgid (mark it with ``N_``; shown translated),
    ``role`` the role that sees it (None: everyone logged in; admin sees all)."""

    key: str
    path: str
    label: str
    role: str | None = None


@dataclass(frozen=True)
class DashboardCounter:
    """A per-day count on the dashboard: ``key`` is its id and CSS class,
    ``label`` an English msgid (mark it with ``N_``; shown translated),
    ``daily(db, since)`` the rows ``(utc_day_number, count)`` from second
    ``since`` on."""

    key: str
    label: str
    daily: Callable[[Any, int], Iterable[tuple[int, int]]]


@dataclass
class Extensions:
    """Everything the installed plugins add, checked for clashes."""

    pages: list[PortalPages] = field(default_factory=list)
    menu: list[MenuLink] = field(default_factory=list)
    counters: list[DashboardCounter] = field(default_factory=list)


def _results(pm: Any, hook: str) -> list[Any]:
    caller = getattr(getattr(pm, "hook", None), hook, None)
    if caller is None:
        return []
    return [item for result in caller() if result is not None for item in result]


def _unique(items: Iterable[Any], key: Callable[[Any], str], what: str, taken: Iterable[str] = ()) -> None:
    """``what``: an N_() msgid naming the kind of item (shown translated)."""
    seen = set(taken)
    for item in items:
        k = key(item)
        if k in seen:
            raise ExtensionError(_("portal: two {what} are named '{name}' (or one clashes with the core's)",
                                   what=_(what), name=k))
        seen.add(k)


def collect(pm: Any, core_menu: Iterable[str]) -> Extensions:
    """The plugins' portal contributions, or :class:`ExtensionError`."""
    ext = Extensions(_results(pm, "bluezone_portal_pages"), _results(pm, "bluezone_portal_menu_links"),
                     _results(pm, "bluezone_dashboard_counters"))
    for kind, items in ((PortalPages, ext.pages), (MenuLink, ext.menu), (DashboardCounter, ext.counters)):
        for item in items:
            if not isinstance(item, kind):
                raise ExtensionError(_("portal: expected a {kind}, a plugin returned {item}",
                                       kind=kind.__name__, item=repr(item)))
    _unique(ext.pages, lambda p: p.name, N_("page sets"))
    _unique(ext.menu, lambda m: m.key, N_("menu links"), core_menu)
    _unique(ext.counters, lambda c: c.key, N_("dashboard counters"))
    labelled_items: list[MenuLink | DashboardCounter] = [*ext.menu, *ext.counters]
    for labelled in labelled_items:
        if not (isinstance(labelled.label, str) and labelled.label.strip()):
            raise ExtensionError(_("portal: {item} needs a label: an English msgid, marked with N_()",
                                   item=repr(labelled)))
    ext.menu.sort(key=lambda m: m.key)
    ext.counters.sort(key=lambda c: c.key)
    return ext


def form_of(request: web.Request) -> Any:
    """The POST form :func:`staff_page` already read and checked."""
    return ctx(request).form


def member_of(request: web.Request) -> Any:
    """The logged-in staff member as the server's staff API sees it (for ``issued_by``)."""
    session = ctx(request).session
    if session is None:  # staff_page lets no request through without one
        raise RuntimeError("member_of() called outside a staff_page handler")
    return session.user.member()


# What a plugin page needs from the core, in one place: the guard
# (session, role, CSRF), the common layout, the portal and its refusals.
from .app import PortalError, ctx, portal_of, render  # noqa: E402


def staff_page(*roles: str) -> Callable[[Handler], Handler]:
    """The core's guard for a plugin page: a live session (else the login
    page) with one of ``roles`` (admin passes all), and on POST a valid CSRF
    token from this origin (the form is then :func:`form_of`)."""
    from .views import staff_page as guard

    return guard(*roles)

__all__ = ["DashboardCounter", "ExtensionError", "Extensions", "MenuLink", "PortalError", "PortalPages",
           "collect", "form_of", "member_of", "portal_of", "render", "staff_page"]
