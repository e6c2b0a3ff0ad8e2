"""docs/api.md stays true for this plugin: every route it adds and every error
code its routes can answer are listed."""

from __future__ import annotations

import re
from pathlib import Path

import venue_server

ROOT = Path(__file__).resolve().parents[3]
API = (ROOT / "docs" / "api.md").read_text()
ROUTES = Path(__file__).resolve().parents[1] / "bluezone_qr_checkin" / "server_routes.py"


def test_every_error_code_of_the_routes_is_documented():
    text = ROUTES.read_text()
    codes = set(re.findall(r'(?:ApiError|_refuse)\(\s*\d{3},\s*"([a-z_]+)"', text))
    assert {"invalid_window", "free_text_notice", "unknown_notice", "venue_tracing_busy"} <= codes
    # the upload's per-client limit is the server's limit() helper, which answers rate_limited
    assert 'limit(request, "venue-trace"' in text
    codes.add("rate_limited")
    assert sorted(c for c in codes if f"`{c}`" not in API) == []


async def test_every_route_is_documented(tmp_path):
    vs = await venue_server.start(tmp_path)
    try:
        mine = [r for r in vs.http.app.router.routes() if "venue-traces" in r.resource.canonical
                and r.method != "HEAD"]
        assert len(mine) == 3
        for route in mine:
            shown = re.sub(r"\{trace_id[^}]*\}", "{trace_id}", route.resource.canonical)
            assert f"{route.method} {shown}" in API, shown
    finally:
        await vs.http.close()
