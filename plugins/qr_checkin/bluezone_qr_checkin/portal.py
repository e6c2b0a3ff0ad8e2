"""Venue tracing in the staff portal: the page, its words, role, menu entry
and dashboard counter, all contributed through the portal's hooks.

A ``venue-tracer`` (or an admin) issues the one-time authorisation token a
venue owner needs to upload a trace; the token carries the venue and the
window (local time of the deployment) the authority allows. The server never
learns who visited: it only counts the venue-trace batches it published.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aiohttp import web

from bluezone.i18n import N_, Message, _
from bluezone_authority.portal.extensions import (
    DashboardCounter,
    MenuLink,
    PortalPages,
    form_of,
    member_of,
    portal_of,
    render,
    staff_page,
)

from .plugin import FEED, PURPOSE, ROLE

TEMPLATES = Path(__file__).parent / "templates"

BAD_TIME = _("The times are not valid (use YYYY-MM-DDTHH:MM, 'from' before 'to').")


def _venue_form(request: web.Request, status: int = 200, error: Message | None = None,
                values: dict[str, str] | None = None) -> web.Response:
    return render(request, "qr_checkin/venue.html", status=status, active="venue", error=error,
                  values=values or {})


def _local_ts(portal: Any, value: str) -> int:
    when = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M").replace(tzinfo=portal.tz())
    return int(when.timestamp())


@staff_page(ROLE)
async def venue_page(request: web.Request) -> web.StreamResponse:
    return _venue_form(request)


@staff_page(ROLE)
async def venue_submit(request: web.Request) -> web.StreamResponse:
    portal = portal_of(request)
    form = form_of(request)
    values = {k: str(form.get(k, "")).strip()[:200] for k in ("venue", "from", "to")}
    meta: dict[str, Any] = {}
    if values["venue"]:
        meta["venue"] = values["venue"]
    if values["from"] or values["to"]:
        try:
            start, end = _local_ts(portal, values["from"]), _local_ts(portal, values["to"])
        except ValueError:
            return _venue_form(request, 400, BAD_TIME, values)
        if start >= end:
            return _venue_form(request, 400, BAD_TIME, values)
        meta["from"], meta["to"] = start, end
    issued = portal.server.issue_one_time_token(PURPOSE, meta, member_of(request).id)
    return render(request, "qr_checkin/venue_issued.html", active="venue", issued=issued, values=values,
                  expires=portal.local_time(issued["expiresAt"]))


def venue_trace_batches(db: Any, since: int) -> list[tuple[int, int]]:
    """Venue-trace batches published per UTC day (what the server knows; not who visited)."""
    return [(int(d), int(n)) for d, n in db.all(
        "SELECT created_at / 86400, count(*) FROM batches WHERE feed = ? AND created_at >= ? GROUP BY 1",
        (FEED, since))]


PAGES = PortalPages("qr_checkin", routes=(("GET", "/venue-trace", venue_page), ("POST", "/venue-trace", venue_submit)),
                    templates=TEMPLATES)
MENU = MenuLink("venue", "/venue-trace", N_("Venue trace"), ROLE)
COUNTER = DashboardCounter("venue-traces", N_("Venue-trace batches"), venue_trace_batches)
