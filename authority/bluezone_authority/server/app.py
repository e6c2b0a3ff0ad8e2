"""The aiohttp application: routes, background jobs, clean shutdown.

:func:`create_app` wires an :class:`AuthorityServer` into an aiohttp app:
the device API (``/v1/verify``, ``/v1/certificate``, ``/v1/publish``,
``/v1/declarations``, ``/v1/decoy``), published feeds (``/v1/feeds/...``),
the staff API (``/v1/authority/...``), and plugin routes added through
``bluezone_server_routes``. Background tasks export a key batch every
``batch_minutes`` and run retention every ``retention_minutes`` (and once at
start). docs/api.md lists every endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from bluezone.i18n import _
from bluezone.plugins import call_hook

from . import announce, database
from .errors import ApiError
from .middleware import make_middlewares, padded_json, read_body, read_json
from .offload import runner_for
from .ratelimit import LIMITS, RateLimits, limit, limits_of, too_many
from .service import AuthorityServer
from .shared_limits import SqlWindows
from .staff import require_role, roles_for_purpose
from .timeouts import body_deadline
from .workers import WorkerInfo, worker_header

log = logging.getLogger("bluezone.server")
SERVER: web.AppKey[AuthorityServer] = web.AppKey("bluezone_server", AuthorityServer)
T = TypeVar("T")


def server_of(request: web.Request) -> AuthorityServer:
    """The :class:`AuthorityServer` behind a request (for plugin routes)."""
    return request.app[SERVER]


def require_staff(request: web.Request, *roles: str):
    """Authenticate the staff token of a request and check a role (admin passes all)."""
    return server_of(request).authenticate(request.headers.get("Authorization"), *roles)


async def db_call(request: web.Request, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run ``fn`` (service work that uses the database) so that the event loop
    never waits on a network round trip: on PostgreSQL in a worker thread
    (the connection pool is thread-safe; each transaction takes one
    connection), on SQLite right here as before (a local file, one writer).
    The answer is sent only after ``fn`` returned, i.e. after its commit."""
    return await off_loop(server_of(request), fn, *args, **kw)


async def off_loop(server: AuthorityServer, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """:func:`db_call` for code that has the server rather than a request (the portal)."""
    return await database.off_loop(server.db.backend, fn, *args, **kw)


async def staff_of(request: web.Request, *roles: str) -> Any:
    """:func:`require_staff` through :func:`db_call` (the token is looked up in the database)."""
    return await db_call(request, require_staff, request, *roles)


async def json_body(request: web.Request) -> Any:
    """The JSON body under the server's size limit (for plugin routes)."""
    return await read_json(request, server_of(request).settings.max_body_bytes)


# --- device API ----------------------------------------------------------------------


async def verify(request: web.Request) -> web.Response:
    server, limits = server_of(request), limits_of(request)
    s = server.settings
    wait = await limits.guess_allowed(request, s.verify_per_client_per_minute, s.verify_failures_per_minute)
    if wait:
        raise too_many(wait)
    # the attempt counts as a failed guess unless the code is accepted
    answer = await db_call(request, server.verify, await json_body(request))
    await limits.guess_succeeded(request)
    return padded_json(answer)


async def certificate(request: web.Request) -> web.Response:
    server = server_of(request)
    await limit(request, "upload", server.settings.uploads_per_client_per_minute)
    return padded_json(await db_call(request, server.certificate, await json_body(request)))


async def publish(request: web.Request) -> web.Response:
    server = server_of(request)
    await limit(request, "upload", server.settings.uploads_per_client_per_minute)
    return padded_json(await db_call(request, server.publish, await json_body(request)))


def declaration_body_limit(declaration_max_bytes: int, max_body_bytes: int) -> int:
    """The request size a declaration of ``declaration_max_bytes`` needs: base64
    makes it 4/3 larger, plus the JSON around it, and phones pad every body to
    whole :data:`bluezone.transport.PAD_BLOCK` blocks. Without this a
    declaration of the allowed size was refused by the general request limit."""
    from bluezone.transport import PAD_BLOCK

    need = 4 * -(-declaration_max_bytes // 3) + 1024
    return max(max_body_bytes, -(-need // PAD_BLOCK) * PAD_BLOCK)


async def declarations(request: web.Request) -> web.Response:
    server = server_of(request)
    s = server.settings
    await limit(request, "declaration", s.declarations_per_client_per_minute)
    body = await read_json(request, declaration_body_limit(s.declaration_max_bytes, s.max_body_bytes))
    return padded_json(await db_call(request, server.accept_declaration, body))


async def decoy(request: web.Request) -> web.Response:
    server = server_of(request)
    await limit(request, "decoy", server.settings.decoys_per_client_per_minute)
    await read_body(request, server.settings.max_body_bytes)  # read to the end and drop
    return padded_json({"chaff": True})


# --- feeds ---------------------------------------------------------------------------------


async def feed_index(request: web.Request) -> web.Response:
    text, etag = await db_call(request, server_of(request).feed_index, request.match_info["feed"])
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    return web.Response(text=text, content_type="text/plain", headers=headers)


async def feed_file(request: web.Request) -> web.Response:
    data = await db_call(request, server_of(request).feed_file, request.match_info["feed"], request.match_info["name"])
    if data is None:
        raise ApiError(404, "not_found", _("no such batch"))
    return web.Response(body=data, content_type="application/zip",
                        headers={"Cache-Control": "public, max-age=86400, immutable"})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


# --- staff API ----------------------------------------------------------------------------


async def issue_code(request: web.Request) -> web.Response:
    member = await staff_of(request, "case-officer")
    body = await json_body(request)
    return web.json_response(await db_call(request, server_of(request).issue_code, body, issued_by=member.id),
                             status=201)


async def issue_one_time_token(request: web.Request) -> web.Response:
    server = server_of(request)
    purposes = {p for r in server.roles.values() for p in r.token_purposes}
    # a role that may issue no token at all is refused before the body is read
    member = await staff_of(request, *(r for p in sorted(purposes) for r in roles_for_purpose(server.roles, p)))
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", _("the body must be a JSON object"))
    if isinstance(body.get("purpose"), str):
        require_role(member, *roles_for_purpose(server.roles, body["purpose"]))
    meta = body.get("meta", {})
    if not isinstance(meta, dict):
        raise ApiError(400, "invalid_json", _("meta must be an object"))
    return web.json_response(await db_call(request, server.issue_one_time_token, body.get("purpose", ""), meta,
                                           member.id), status=201)


async def embargo(request: web.Request) -> web.Response:
    await staff_of(request, "case-officer")
    return web.json_response(await db_call(request, server_of(request).embargo))


async def run_export(request: web.Request) -> web.Response:
    await staff_of(request, "admin")
    return web.json_response(await db_call(request, server_of(request).export_now))


async def delete_declaration(request: web.Request) -> web.Response:
    """A person asked for their declaration to be deleted: staff delete it by its receipt."""
    await staff_of(request, "declarations")
    receipt = request.match_info["id"]
    if not await db_call(request, server_of(request).delete_declaration, receipt):
        raise ApiError(404, "not_found", _("no such declaration"))
    return web.json_response({"deleted": receipt})


async def run_retention(request: web.Request) -> web.Response:
    await staff_of(request, "admin")
    return web.json_response(await db_call(request, server_of(request).purge))


async def list_declarations(request: web.Request) -> web.Response:
    """One page (``?limit=&after=``); follow ``next`` until it is null."""
    await staff_of(request, "declarations")
    q = request.query
    return web.json_response(await db_call(request, server_of(request).declarations_page, q.get("limit"),
                                           q.get("after")))


async def get_declaration(request: web.Request) -> web.Response:
    await staff_of(request, "declarations")
    data = await db_call(request, server_of(request).declaration, request.match_info["id"])
    if data is None:
        raise ApiError(404, "not_found", _("no such declaration"))
    return web.json_response({"id": request.match_info["id"], "sealed": base64.b64encode(data).decode()})


async def federation_status(request: web.Request) -> web.Response:
    """Federation counters (docs/federation.md): outbox, imports, refused batches."""
    await staff_of(request, "admin")
    from ..gateway.federation import status

    return web.json_response(await db_call(request, status, server_of(request)))


# --- background jobs -------------------------------------------------------------------------


async def _run_job(server: AuthorityServer, job: Callable[[], Any]) -> None:
    """A background job, off the event loop on PostgreSQL (as :func:`db_call`)."""
    await off_loop(server, job)


async def _every(server: AuthorityServer, seconds: float, job, name: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await _run_job(server, job)
        except Exception:
            log.exception("background job %s failed", name)


async def _federate_every(server: AuthorityServer) -> None:
    """A federation round every ``[federation] every_seconds`` (the first right away)."""
    from ..gateway.federation import run_round

    assert server.federation is not None
    while True:
        try:
            await run_round(server, server.federation)
        except Exception:
            log.exception("background job federation failed")
        await asyncio.sleep(server.federation.every_seconds)


async def _background(app: web.Application):
    server = app[SERVER]
    await _run_job(server, server.purge)
    s = server.settings
    tasks = [asyncio.create_task(_every(server, s.batch_minutes * 60, server.export_now, "export")),
             asyncio.create_task(_every(server, s.retention_minutes * 60, server.purge, "retention"))]
    if server.federation is not None:
        tasks.append(asyncio.create_task(_federate_every(server)))
    yield
    for t in tasks:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t


async def _close(app: web.Application) -> None:
    close = getattr(app[LIMITS].store, "close", None)
    if close is not None:  # the shared counters' own connection
        close()
    app[SERVER].close()


def create_app(server: AuthorityServer, *, config: Any = None, background: bool = True,
               worker: WorkerInfo | None = None) -> web.Application:
    """The aiohttp application around ``server``. ``background=False`` leaves
    out the scheduled jobs (tests call :meth:`AuthorityServer.export_now`).
    ``worker``: this process's place among ``bluezone serve --workers N``;
    with more than one, rate limits are counted in the database under the
    HMAC key all workers share, and only worker 0 runs the schedule."""
    s = server.settings
    languages = getattr(config, "languages", None)  # the deployment's: error answers carry each
    declaration_cap = declaration_body_limit(s.declaration_max_bytes, s.max_body_bytes)
    middlewares = [body_deadline(s.body_timeout_seconds),
                   *make_middlewares(s.max_body_bytes, s.answer_floor_ms / 1000,
                                     languages=tuple(languages) if languages else None,
                                     path_limits={"/v1/declarations": declaration_cap})]
    app = web.Application(client_max_size=declaration_cap, middlewares=middlewares)
    if worker is not None and worker.header:
        app.on_response_prepare.append(worker_header(worker))
    app[SERVER] = server
    if worker is not None and worker.count > 1:
        # SQLite: a connection of its own (synchronous=OFF); PostgreSQL: the server's pool
        store = SqlWindows.on_sqlite(server.db.path) if server.db.path is not None else SqlWindows(server.db.transaction)
        # the counting off the event loop on PostgreSQL, like the request handlers' work
        app[LIMITS] = RateLimits(server.clock, s.trusted_proxies, store=store, key=worker.key,
                                 run=runner_for(server.db.kind))
        background = background and worker.index == 0
    else:
        app[LIMITS] = RateLimits(server.clock, s.trusted_proxies)
    app.router.add_get("/v1/health", health)
    app.router.add_post("/v1/verify", verify)
    app.router.add_post("/v1/certificate", certificate)
    app.router.add_post("/v1/publish", publish)
    app.router.add_post("/v1/declarations", declarations)
    app.router.add_post("/v1/decoy", decoy)
    app.router.add_get("/v1/feeds/{feed}/index.txt", feed_index)
    app.router.add_get(r"/v1/feeds/{feed}/{name:[0-9]+-[0-9]+-[0-9]+\.zip}", feed_file)
    announce.install(app, server.db, poll_seconds=s.events_poll_seconds, heartbeat_seconds=s.events_heartbeat_seconds,
                     max_listeners=s.events_max_clients)
    app.router.add_post("/v1/authority/codes", issue_code)
    app.router.add_post("/v1/authority/one-time-tokens", issue_one_time_token)
    app.router.add_get("/v1/authority/embargo", embargo)
    app.router.add_post("/v1/authority/exports", run_export)
    app.router.add_post("/v1/authority/retention", run_retention)
    app.router.add_get("/v1/authority/declarations", list_declarations)
    app.router.add_get("/v1/authority/declarations/{id}", get_declaration)
    app.router.add_delete("/v1/authority/declarations/{id}", delete_declaration)
    app.router.add_get("/v1/authority/federation", federation_status)
    cfg = config if config is not None else server.config
    if cfg is not None:
        call_hook(cfg.pm.hook.bluezone_server_routes, app=app, config=cfg)
    if background:
        app.cleanup_ctx.append(_background)
    app.on_cleanup.append(_close)
    return app
