"""The authority server's venue-trace routes (added through ``bluezone_server_routes``).

``POST /v1/venue-traces/upload`` — the venue owner's pre-traces, authorised
by a one-time token that a ``venue-tracer`` staff member issued with
``purpose = "venue-trace"`` (and optionally ``meta = {"venue": name, "from":
t, "to": t}``, which the upload must then match). The server opens the
authority's sealed half with its X25519 secret, completes and checks every
key, and publishes one signed batch to the ``venue-traces`` feed. Paper-log
entries released with the trace are stored sealed for staff; they are never
published.

``GET /v1/authority/venue-traces/paper-log/{trace_id}`` — staff fetch those
sealed entries and open them offline with the authority's secret key.

Everything is verified before anything is written; the token is spent in the
same transaction that stores the paper-log entries, so a refused upload
leaves the database exactly as it was.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import unicodedata
from typing import Any

from . import tracing
from .matching import FEED
from .proto import crowdnotifier_pb2 as pb
from .settings import CheckinSettings, SettingsError

PURPOSE = "venue-trace"
MAX_PAPER_ENTRIES = 2000
MAX_MESSAGE = 500
DEFAULT_MESSAGE = ("Một người nhiễm COVID-19 (F0) đã ở địa điểm bạn đến cùng thời gian. "
                   "A confirmed case (F0) was at a place you visited at the same time.")
PAPER_TABLE = """CREATE TABLE IF NOT EXISTS venue_paper_log (
    trace_id TEXT NOT NULL, received_hour INTEGER NOT NULL, sealed BLOB NOT NULL)"""


def _b64(value: Any, what: str) -> bytes:
    from bluezone.server import ApiError

    if not isinstance(value, str):
        raise ApiError(400, "invalid_upload", f"{what} must be base64 text", f"{what} phải là base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_upload", f"{what} is not valid base64", f"{what} không phải base64") from None


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def accept_upload(server: Any, config: Any, body: Any) -> dict[str, Any]:
    """Verify, spend the token, store paper-log entries, publish. Returns the receipt."""
    from bluezone.server import ApiError

    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object", "nội dung phải là đối tượng JSON")
    raw = _b64(body.get("preTraces"), "preTraces")
    paper = body.get("paperLog", [])
    if not isinstance(paper, list) or len(paper) > MAX_PAPER_ENTRIES:
        raise ApiError(400, "invalid_upload", "paperLog must be a list of base64 sealed entries",
                       "paperLog phải là danh sách base64")
    sealed_entries = [_b64(p, "paperLog entry") for p in paper]
    if any(not 48 <= len(s) <= 4096 for s in sealed_entries):
        raise ApiError(400, "invalid_upload", "a paperLog entry is not a sealed box", "mục sổ ghi không hợp lệ")
    try:
        settings = CheckinSettings.from_config(config)
        secret = settings.authority_secret_key()
    except (SettingsError, OSError) as e:
        raise ApiError(503, "venue_tracing_unconfigured", f"venue tracing is not configured: {e}",
                       "máy chủ chưa cấu hình truy vết địa điểm") from None
    try:
        upload = tracing.parse_upload(raw)
        message = body.get("message") or DEFAULT_MESSAGE
        if not isinstance(message, str) or len(message) > MAX_MESSAGE:
            raise tracing.TraceError("message must be text of at most 500 characters")
        result = tracing.authority_traces(upload, secret, message)
    except tracing.TraceError as e:
        raise ApiError(400, "invalid_pretrace", str(e), "dữ liệu truy vết không hợp lệ") from None
    first = upload.preTraces[0]
    start, end = int(first.startTime), int(first.endTime)
    trace_id = secrets.token_hex(8)
    db = server.db
    with db.transaction() as c:
        c.execute(PAPER_TABLE)
        meta = server.consume_one_time_token(body.get("token"), PURPOSE, conn=c)
        venue = meta.get("venue")
        if isinstance(venue, str) and venue and _norm(venue) != _norm(result.venue.description):
            raise ApiError(409, "venue_mismatch",
                           f"this token was issued for {venue!r}, the upload is for {result.venue.description!r}",
                           "mã uỷ quyền được cấp cho địa điểm khác")
        lo, hi = meta.get("from"), meta.get("to")
        if isinstance(lo, int) and isinstance(hi, int) and not (lo <= start and end <= hi):
            raise ApiError(409, "window_mismatch", "the tracing window is outside what the authority authorised",
                           "khoảng thời gian truy vết vượt quá phạm vi được uỷ quyền")
        hour = server.now() // 3600 * 3600
        c.executemany("INSERT INTO venue_paper_log (trace_id, received_hour, sealed) VALUES (?,?,?)",
                      [(trace_id, hour, s) for s in sealed_entries])
    batch = pb.TraceBatch(version=3, startTimestamp=start, endTimestamp=end, traces=result.traces)
    published = server.publish_payload(FEED, batch.SerializeToString(), start_ts=start, end_ts=end,
                                       real_items=len(result.traces))
    return {"traceId": trace_id, "venue": result.venue.description, "traces": len(result.traces),
            "paperLogEntries": len(sealed_entries), "batch": published.name}


def paper_log(server: Any, trace_id: str) -> list[str]:
    db = server.db
    with db.transaction() as c:
        c.execute(PAPER_TABLE)
    rows = db.all("SELECT sealed FROM venue_paper_log WHERE trace_id = ? ORDER BY rowid", (trace_id,))
    return [base64.b64encode(r[0]).decode() for r in rows]


def purge_paper_log(server: Any, retention_days: int) -> int:
    cutoff = server.now() - retention_days * 86_400
    with server.db.transaction() as c:
        c.execute(PAPER_TABLE)
        return c.execute("DELETE FROM venue_paper_log WHERE received_hour < ?", (cutoff,)).rowcount


def add_routes(app: Any, config: Any) -> None:
    from aiohttp import web

    from bluezone.server import json_body, require_staff, server_of
    from bluezone.server.middleware import padded_json

    async def upload(request: web.Request) -> web.Response:
        server = server_of(request)
        purge_paper_log(server, config.retention_days)
        return padded_json(accept_upload(server, config, await json_body(request)))

    async def get_paper_log(request: web.Request) -> web.Response:
        require_staff(request, "venue-tracer")
        trace_id = request.match_info["trace_id"]
        return web.json_response({"traceId": trace_id, "sealed": paper_log(server_of(request), trace_id)})

    app.router.add_post("/v1/venue-traces/upload", upload)
    app.router.add_get("/v1/authority/venue-traces/paper-log/{trace_id:[0-9a-f]{16}}", get_paper_log)
