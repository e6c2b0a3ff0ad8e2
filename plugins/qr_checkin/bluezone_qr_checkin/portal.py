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

MESSAGES: dict[str, tuple[str, str]] = {
    "nav_venue": ("Truy vết địa điểm", "Venue trace"),
    "venue_title": ("Mở truy vết địa điểm", "Open a venue trace"),
    "venue_intro": ("Truy vết cần cả hai bên: cơ quan y tế cấp mã uỷ quyền dùng một lần, chủ địa điểm dùng mã "
                    "truy vết riêng của mình để gửi dữ liệu. Máy chủ không biết ai đã đến.",
                    "Tracing needs both parties: the health authority issues a one-time authorisation token, the "
                    "venue owner uploads with their own private tracing code. The server never learns who visited."),
    "venue_name": ("Tên địa điểm (như trên áp phích QR, không bắt buộc)", "Venue name (as on its QR poster, optional)"),
    "venue_from": ("Từ", "From"),
    "venue_to": ("Đến", "To"),
    "venue_tz": ("Giờ địa phương ({tz}). Để trống để không giới hạn.", "Local time ({tz}). Leave empty for no limit."),
    "venue_button": ("Cấp mã uỷ quyền", "Issue the authorisation token"),
    "venue_issued_title": ("Mã uỷ quyền truy vết", "Venue-trace authorisation token"),
    "venue_once": ("Mã chỉ hiển thị một lần, dùng một lần, hết hạn lúc {when}. Gửi mã cho chủ địa điểm qua kênh "
                   "an toàn.",
                   "Shown once, works once, expires at {when}. Give it to the venue owner over a safe channel."),
    "venue_owner_runs": ("Chủ địa điểm chạy:", "The venue owner runs:"),
    "venue_bad_time": ("Thời gian không hợp lệ (cần dạng YYYY-MM-DDTHH:MM, 'từ' trước 'đến').",
                       "The times are not valid (use YYYY-MM-DDTHH:MM, 'from' before 'to')."),
    "venue_scope": ("Phạm vi: {venue}, {start} → {end}", "Scope: {venue}, {start} → {end}"),
    "any_venue": ("mọi địa điểm", "any venue"),
}


def _venue_form(request: web.Request, status: int = 200, error: str | None = None,
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
            return _venue_form(request, 400, "venue_bad_time", values)
        if start >= end:
            return _venue_form(request, 400, "venue_bad_time", values)
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
                    templates=TEMPLATES, messages=MESSAGES)
MENU = MenuLink("venue", "/venue-trace", "nav_venue", ROLE)
COUNTER = DashboardCounter("venue-traces", ("Lô truy vết địa điểm", "Venue-trace batches"), venue_trace_batches)
