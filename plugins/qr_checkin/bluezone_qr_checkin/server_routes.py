"""The authority server's venue-trace routes (added through ``bluezone_server_routes``).

``POST /v1/venue-traces/upload`` — the venue owner's pre-traces, authorised
by a one-time token that a ``venue-tracer`` staff member issued with
``purpose = "venue-trace"`` (and optionally ``meta = {"venue": name, "from":
t, "to": t, "notice": id}``; the upload must then match the venue and window,
and the notice id picks the text phones show). The server opens the
authority's sealed half with its X25519 secret, completes and checks every
key, and publishes one signed batch to the ``venue-traces`` feed. Paper-log
entries released with the trace are stored sealed for staff; they are never
published.

``POST /v1/authority/venue-traces/tokens`` — staff issue such a token with
the venue, window and notice checked at once (unknown notice ids are refused
here rather than at upload time).

``GET /v1/authority/venue-traces/paper-log/{trace_id}`` — staff fetch those
sealed entries and open them offline with the authority's secret key.

The upload route is open to anyone, and completing pre-traces is costly
(pairings), so it is ordered cheapest first: a per-client rate limit, then
the body's shape, then the one-time token (one indexed lookup, not spent),
then the window and venue against the token; only an authorised upload
reaches the pairing work, which runs in a bounded worker pool off the event
loop (:mod:`.workers`). The token is spent, the paper log stored and the
batch appended in ONE transaction, so a refused upload or a crash leaves the
database as it was and the token unspent.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bluezone.i18n import Message, _

from . import derive, tracing
from . import notices as nt
from . import payload as qp
from .matching import FEED
from .proto import crowdnotifier_pb2 as pb
from .settings import CheckinSettings, SettingsError
from .workers import PoolBusy, TraceWorkers

PURPOSE = "venue-trace"
WORKERS: web.AppKey[TraceWorkers] = web.AppKey("bluezone_venue_trace_workers", TraceWorkers)
MAX_PAPER_ENTRIES = 2000
BUSY_RETRY_SECONDS = 5
NOT_AN_OBJECT = _("The body must be a JSON object")


def _b64(value: Any, what: str) -> bytes:
    from bluezone_authority.server import ApiError

    if not isinstance(value, str):
        raise ApiError(400, "invalid_upload", _("{field} must be base64 text", field=what))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_upload", _("{field} is not valid base64", field=what)) from None


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """An upload that passed every cheap check and whose token is valid (not yet spent)."""

    token: str
    raw: bytes
    sealed_entries: list[bytes]
    start: int
    end: int
    notice: nt.Notice
    secret: bytes


def _refuse(status: int, code: str, message: Message | str) -> Exception:
    """An ApiError with a text of this plugin's catalogue (translated when the answer is written)."""
    from bluezone_authority.server import ApiError

    return ApiError(status, code, message)


def _refuse_error(status: int, code: str, error: Exception) -> Exception:
    """A refusal whose text is an error raised with a catalogue Message (the
    tracing window's checks, an unknown notice); an English diagnosis (a
    malformed upload's) is shown as it is."""
    message = error.args[0] if error.args else None
    return _refuse(status, code, message if isinstance(message, Message) else str(error))


def check_upload(server: Any, config: Any, settings: CheckinSettings, body: Any) -> CheckedUpload:
    """Everything that can be checked without pairings, cheapest first.

    The token is checked (not spent) before the pre-traces are even decoded,
    so an unauthorised client costs the server one JSON parse and one
    indexed lookup."""
    if not isinstance(body, dict):
        raise _refuse(400, "invalid_json", NOT_AN_OBJECT)
    if "message" in body:
        raise _refuse(400, "free_text_notice", _("The notice text is chosen by the health authority (by id, when it "
                                                 "issues the token); remove 'message'"))
    token = body.get("token")
    meta = server.check_one_time_token(token, PURPOSE)  # 403/409 for junk, before any real work
    try:
        notice = nt.lookup(meta.get("notice", nt.DEFAULT_NOTICE), settings.notices)
    except nt.UnknownNotice as e:
        raise _refuse(400, "unknown_notice", _("The token names a notice this server does not have: {problem}",
                                               problem=e.args[0])) from None
    raw = _b64(body.get("preTraces"), "preTraces")
    paper = body.get("paperLog", [])
    if not isinstance(paper, list) or len(paper) > MAX_PAPER_ENTRIES:
        raise _refuse(400, "invalid_upload", _("paperLog must be a list of base64 sealed entries"))
    sealed_entries = [_b64(p, "paperLog entry") for p in paper]
    if any(not 48 <= len(s) <= 4096 for s in sealed_entries):
        raise _refuse(400, "invalid_upload", _("A paperLog entry is not a sealed box"))
    try:
        secret = settings.authority_secret_key()
    except (SettingsError, OSError) as e:
        why = e.args[0] if e.args and isinstance(e.args[0], Message) else str(e)
        raise _refuse(503, "venue_tracing_unconfigured",
                      _("Venue tracing is not configured on this server: {problem}", problem=why)) from None
    try:
        upload = tracing.parse_upload(raw)
    except tracing.TraceError as e:
        raise _refuse(400, "invalid_pretrace", _("The trace data is not valid ({detail})", detail=str(e))) from None
    first = upload.preTraces[0]
    start, end = int(first.startTime), int(first.endTime)
    try:
        tracing.check_window(start, end, now=server.now(), retention_days=config.retention_days)
    except tracing.WindowError as e:
        raise _refuse_error(400, "invalid_window", e) from None
    if len(upload.preTraces) > len(derive.affected_hours(start, end)):
        raise _refuse(400, "invalid_pretrace", _("More pre-traces than hours in the window"))
    try:
        venue = qp.parse_payload(bytes(first.qrCodePayload), check_time=False)
    except qp.PayloadError as e:
        raise _refuse(400, "invalid_pretrace", _("The uploaded venue payload is not valid: {problem} ({detail})",
                                                 problem=e.message, detail=e.detail)) from None
    name = meta.get("venue")
    if isinstance(name, str) and name and _norm(name) != _norm(venue.description):
        raise _refuse(409, "venue_mismatch", _("This token was issued for {token_venue}, the upload is for "
                                               "{upload_venue}", token_venue=repr(name),
                                               upload_venue=repr(venue.description)))
    lo, hi = meta.get("from"), meta.get("to")
    if isinstance(lo, int) and isinstance(hi, int) and not (lo <= start and end <= hi):
        raise _refuse(409, "window_mismatch", _("The tracing window is outside what the authority authorised"))
    return CheckedUpload(token, raw, sealed_entries, start, end, notice, secret)  # type: ignore[arg-type]  # token: a checked str


def commit_upload(server: Any, config: Any, up: CheckedUpload, traces: list[bytes]) -> tuple[str, Any]:
    """Spend the token, store the paper log and append the batch in one transaction.

    The token is checked again inside it: two uploads racing with one token
    both pass :func:`check_upload`, only the first commits (409 for the other)."""
    batch = pb.TraceBatch(version=3, startTimestamp=up.start, endTimestamp=up.end)
    for t in traces:
        batch.traces.add().ParseFromString(t)
    trace_id = secrets.token_hex(8)
    now = server.now()
    with server.db.transaction() as c:
        purge_paper_log(c, now - config.retention_days * 86_400)
        server.consume_one_time_token(up.token, PURPOSE, conn=c)
        c.executemany("INSERT INTO venue_paper_log (trace_id, received_hour, sealed) VALUES (?,?,?)",
                      [(trace_id, now // 3600 * 3600, s) for s in up.sealed_entries])
        published = server.publish_payload(FEED, batch.SerializeToString(), start_ts=up.start, end_ts=up.end,
                                           real_items=len(traces), conn=c)
    server.write_feed_files(FEED)
    return trace_id, published


def purge_paper_log(conn: Any, cutoff: int) -> int:
    """Delete paper-log entries received before ``cutoff``; the server's own
    retention calls this on its schedule (``bluezone_server_retention``), so
    visitors' sealed names and phones go even if no venue uploads again."""
    return conn.execute("DELETE FROM venue_paper_log WHERE received_hour < ?", (cutoff,)).rowcount


def paper_log(server: Any, trace_id: str, retention_days: int) -> list[str]:
    with server.db.transaction() as c:
        purge_paper_log(c, server.now() - retention_days * 86_400)
    # the order they were stored in: SQLite's rowid, PostgreSQL's row position (rows are never updated)
    order = "ctid" if server.db.kind == "postgresql" else "rowid"
    rows = server.db.all(f"SELECT sealed FROM venue_paper_log WHERE trace_id = ? ORDER BY {order}", (trace_id,))
    return [base64.b64encode(r[0]).decode() for r in rows]


def token_meta(body: Any, settings: CheckinSettings, now: int, retention_days: int) -> dict[str, Any]:
    """Staff's token request → the token's meta, refusing unknown notices and bad windows."""
    if not isinstance(body, dict):
        raise _refuse(400, "invalid_json", NOT_AN_OBJECT)
    meta: dict[str, Any] = {}
    venue = body.get("venue")
    if venue is not None:
        if not isinstance(venue, str) or not 0 < len(venue) <= qp.MAX_TEXT:
            raise _refuse(400, "invalid_venue", _("venue must be the venue's name (1-100 characters)"))
        meta["venue"] = venue
    lo, hi = body.get("from"), body.get("to")
    if lo is not None or hi is not None:
        if not (type(lo) is int and type(hi) is int):  # noqa: E721 - bool is not a time
            raise _refuse(400, "invalid_window", _("from and to must both be unix seconds"))
        try:
            tracing.check_window(lo, hi, now=now, retention_days=retention_days)
        except tracing.WindowError as e:
            raise _refuse_error(400, "invalid_window", e) from None
        meta["from"], meta["to"] = lo, hi
    try:
        meta["notice"] = nt.lookup(body.get("notice", nt.DEFAULT_NOTICE), settings.notices).id
    except nt.UnknownNotice as e:
        raise _refuse_error(400, "unknown_notice", e) from None
    return meta


def add_routes(app: Any, config: Any) -> None:
    # db_call: database work off the event loop on PostgreSQL (directly on SQLite)
    from bluezone_authority.server import ApiError, db_call, json_body, require_staff, server_of
    from bluezone_authority.server.middleware import padded_json
    from bluezone_authority.server.ratelimit import limit

    try:
        settings = CheckinSettings.from_config(config)
    except SettingsError:
        settings = CheckinSettings.defaults()  # uploads then answer 503 venue_tracing_unconfigured
    workers = TraceWorkers(settings.trace_workers, settings.trace_queue, settings.trace_executor)
    app[WORKERS] = workers  # venue_paper_log is the plugin's server migration (schema.py)

    async def upload(request: web.Request) -> web.Response:
        server = server_of(request)
        # A per-client budget only (the server's, behind its trusted proxies):
        # a global one would let anyone sending junk lock every venue owner out.
        await limit(request, "venue-trace", settings.trace_uploads_per_client_per_minute)
        checked = await db_call(request, check_upload, server, config, settings, await json_body(request))
        try:
            venue, traces = await workers.run(tracing.complete_upload, checked.raw, checked.secret,
                                              checked.notice.render(), nt.encode(checked.notice.id))
        except PoolBusy:
            raise ApiError(503, "venue_tracing_busy", _("Venue tracing is busy; try again shortly"),
                           {"Retry-After": str(BUSY_RETRY_SECONDS)}) from None
        except tracing.TraceError as e:
            raise ApiError(400, "invalid_pretrace", _("The trace data is not valid ({detail})", detail=str(e))) from None
        trace_id, published = await db_call(request, commit_upload, server, config, checked, traces)
        return padded_json({"traceId": trace_id, "venue": venue, "traces": len(traces),
                            "paperLogEntries": len(checked.sealed_entries), "batch": published.name,
                            "notice": checked.notice.id})

    async def issue_token(request: web.Request) -> web.Response:
        member = await db_call(request, require_staff, request, "venue-tracer")
        server = server_of(request)
        meta = token_meta(await json_body(request), settings, server.now(), config.retention_days)
        issued = await db_call(request, server.issue_one_time_token, PURPOSE, meta, member.id)
        return web.json_response({**issued, "meta": meta}, status=201)

    async def get_paper_log(request: web.Request) -> web.Response:
        await db_call(request, require_staff, request, "venue-tracer")
        trace_id = request.match_info["trace_id"]
        sealed = await db_call(request, paper_log, server_of(request), trace_id, config.retention_days)
        return web.json_response({"traceId": trace_id, "sealed": sealed})

    async def stop_workers(app: web.Application) -> None:
        workers.close()

    app.router.add_post("/v1/venue-traces/upload", upload)
    app.router.add_post("/v1/authority/venue-traces/tokens", issue_token)
    app.router.add_get("/v1/authority/venue-traces/paper-log/{trace_id:[0-9a-f]{16}}", get_paper_log)
    app.on_cleanup.append(stop_workers)
