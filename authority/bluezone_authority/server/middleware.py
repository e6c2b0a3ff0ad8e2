"""Security middleware: JSON errors, size limits, headers, padding, chaff.

* Every error — ours (:class:`ApiError`), aiohttp's (404, 405, 413) or an
  unexpected exception — leaves as JSON ``{"error": {code, message,
  message_vi, messages}}`` with a stable code (texts from the catalogue); a crash never shows a traceback.
* Bodies above ``max_body_bytes`` are refused (413) before they are read.
* Security headers on every response; API responses are ``no-store``,
  published feed files are cacheable (that is the CDN's job).
* Every answer on a device path, errors included, is padded to one body size
  and one head size, and leaves no sooner than ``answer_floor`` seconds after
  the request arrived. A request with ``X-Chaff: 1`` on any device endpoint
  is read and parsed like a real one, dropped, and answered with a padded
  dummy no sooner than real requests of that path are answered (GAEN's
  chaff; :mod:`.cover` says why each of these is needed).
* Nothing here logs or stores the client address; aiohttp's access log is
  turned off by ``bluezone serve``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from bluezone.i18n import N_, _, use_languages

from . import cover
from .errors import ApiError, error_response

log = logging.getLogger("bluezone.server")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=()",
}
#: Device API responses are padded to this many bytes (docs/privacy.md rule 5).
RESPONSE_PAD = cover.ANSWER_BODY
DEVICE_PATHS = ("/v1/verify", "/v1/certificate", "/v1/publish", "/v1/declarations", "/v1/decoy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited"}
#: Texts for aiohttp's own refusals: its reasons are English only, so they
#: come from the catalogue instead.
_HTTP_TEXTS = {400: N_("bad request"), 401: N_("not authenticated"), 403: N_("not allowed"), 404: N_("not found"),
               405: N_("method not allowed"), 413: N_("request body too large"),
               415: N_("unsupported content type"), 429: N_("too many requests")}


def padded_json(data: dict, status: int = 200) -> web.Response:
    """JSON with a random ``padding`` field so every device answer has the same size."""
    body = dict(data, padding="")
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    need = max(0, RESPONSE_PAD - len(raw.encode()))
    body["padding"] = secrets.token_urlsafe(need)[:need]
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False))


async def _limit_chaff(request: web.Request) -> None:
    """Chaff counts against the client's decoy budget, like ``POST /v1/decoy``."""
    from .app import SERVER  # late: app imports this module
    from .ratelimit import LIMITS, limit

    if LIMITS in request.config_dict and SERVER in request.config_dict:
        await limit(request, "decoy", request.config_dict[SERVER].settings.decoys_per_client_per_minute)


def make_middlewares(max_body_bytes: int, answer_floor: float = 0.0,
                     timing: cover.TimingEqualiser | None = None,
                     languages: tuple[str, ...] | None = None,
                     path_limits: dict[str, int] | None = None) -> list:
    """The error, header, padding and chaff middleware. ``answer_floor``:
    seconds before which no device answer leaves; ``timing`` learns how long
    real device requests take so fakes wait as long (a fresh one by default).
    ``languages``: the deployment's, which error answers carry (default: the
    process's, set from the deployment file by the command line).
    ``path_limits``: a route whose body may exceed ``max_body_bytes`` (a
    declaration of the allowed size is larger once base64-encoded in JSON)."""
    timing = timing or cover.TimingEqualiser(floor=answer_floor)
    limits = path_limits or {}

    @web.middleware
    async def errors_and_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not languages:
            return await _errors_and_headers(request, handler)
        with use_languages(*languages):
            return await _errors_and_headers(request, handler)

    async def _errors_and_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        device = request.path in DEVICE_PATHS
        fake = device and request.method == "POST" and cover.is_fake(request)
        cap = limits.get(request.path, max_body_bytes)
        try:
            _check_headers_are_text(request)
            if request.content_length is not None and request.content_length > cap:
                raise _too_large(cap)
            if fake:
                await _limit_chaff(request)
                await _read_and_drop(request, cap)
                response: web.StreamResponse = padded_json({"chaff": True})
            else:
                response = await handler(request)
        except ApiError as err:
            response = error_response(err)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = _HTTP_CODES.get(exc.status, "http_error")
            message = _HTTP_TEXTS.get(exc.status)
            response = error_response(ApiError(exc.status, code, _(message) if message else
                                               _("HTTP error {status}", status=exc.status)))
        except Exception:  # never a traceback to the client
            log.exception("unexpected error in %s %s", request.method, request.path)
            response = error_response(ApiError(500, "internal", _("internal error")))
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        response.headers.setdefault("Cache-Control", "no-store")
        if device and isinstance(response, web.Response):
            response = cover.pad_answer(response)
            worked = loop.time() - started
            if not fake:
                timing.record(request.path, worked)
            wait = timing.target(request.path, fake) - worked
            if wait > 0:
                await asyncio.sleep(wait)
        return response

    return [errors_and_headers]


async def _read_and_drop(request: web.Request, limit: int) -> None:
    """A fake request's body, read to its end and parsed like a real one's, then dropped.
    A body that is not JSON is still answered as chaff: older clients sent anything."""
    raw = await read_body(request, limit)
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass


def _check_headers_are_text(request: web.Request) -> None:
    """Refuse (400 ``bad_header``) a header whose bytes are not UTF-8.

    aiohttp passes such bytes on as lone surrogates, which no code that
    encodes a header (the rate limiter's client key, session cookies, bearer
    tokens, plugins) expects: each of them was a 500. One check here covers
    every route."""
    for name, value in request.headers.items():
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ApiError(400, "bad_header", _("header {name} is not UTF-8 text", name=ascii(name[:40]))) from None


#: Bodies are read in pieces of this size; the running total is checked after each.
READ_CHUNK = 64 * 1024


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", _("request body over {limit} bytes", limit=limit))


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body, read to its end with a running cap.

    Why not ``request.content.read(n)``: that returns whatever is buffered at
    the moment, so a body that arrives in several TCP segments (any real
    network) would be cut short. This loop reads until end of body, counting
    as it goes, and refuses (413) as soon as ``limit`` is passed, whether or
    not the client declared a Content-Length."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(READ_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


async def read_json(request: web.Request, limit: int) -> object:
    """The request's JSON body (read whole, see :func:`read_body`), or a
    400/413/415 JSON error."""
    ctype = request.content_type
    if ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", _("send application/json"))
    raw = await read_body(request, limit)
    try:
        data = json.loads(raw)
    # RecursionError: the C decoder's clean refusal of very deep nesting (60,000 levels of [[[...)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid_json() from None
    # an ASCII body without NUL bytes is read as UTF-8 and can carry a
    # surrogate only as a \u escape; anything else (UTF-8 text, and the
    # UTF-16/32 bodies json.loads also accepts) is checked
    could_hold_one = b"\\u" in raw or b"\x00" in raw or not raw.isascii()
    if could_hold_one and _has_lone_surrogate(data):
        raise _invalid_json()
    return data


def _invalid_json() -> ApiError:
    return ApiError(400, "invalid_json", _("the body is not valid JSON"))


def _has_lone_surrogate(data: object) -> bool:
    """True if any string (value or key) holds a lone surrogate.

    JSON lets ``"\\ud800"`` through, and ``json.loads`` of bytes decodes with
    ``surrogatepass``; such a string is not text and breaks any code that
    encodes it (hashing a code or token was a 500). Iterative, so it cannot
    recurse however deep the document is."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
