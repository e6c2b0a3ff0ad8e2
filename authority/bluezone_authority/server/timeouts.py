"""Deadlines for slow clients: headers and bodies must arrive in bounded time.

A client that opens a connection and then trickles (or never sends) the rest
of a request would otherwise hold a socket, a parser and, once the headers
are in, a handler for as long as it likes; a few thousand of them starve the
server. Two deadlines bound every connection:

* **headers** — aiohttp closes a connection whose request handler is idle,
  waiting for the next request, ``keepalive_timeout`` seconds after it opened
  or after its previous answer. A half-sent request line or header block
  never becomes a request, so the handler stays idle and the same timer
  closes it: ``bluezone serve`` passes ``[server] header_timeout_seconds``
  as ``keepalive_timeout`` (aiohttp's own default is over an hour).
* **body** — :func:`body_deadline` (a middleware): once the headers are in,
  the whole body must have arrived within ``body_timeout_seconds``. At the
  deadline a reader of the body gets a 408 ``body_timeout`` error (the
  server's JSON error), and the connection is closed after that answer;
  when the handler answered without reading the whole body, the connection
  is closed at the deadline instead of aiohttp draining the rest for its
  ``lingering_time``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from bluezone.i18n import _

from .errors import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def body_timeout_error(seconds: float) -> ApiError:
    return ApiError(408, "body_timeout", _("the request body did not arrive within {seconds} s", seconds=format(seconds, "g")))


def body_deadline(seconds: float) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Middleware: the request body must be complete ``seconds`` after the headers."""

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        payload = request.content
        if payload.is_eof():  # no body, or all of it arrived with the headers
            return await handler(request)
        expired = handled = False

        def expire() -> None:
            nonlocal expired
            if payload.is_eof():
                return
            expired = True
            if handled:  # the answer is out and aiohttp is draining the rest: stop it
                request.protocol.force_close()
            else:  # a reader of the body gets the 408
                payload.set_exception(body_timeout_error(seconds))

        timer = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            response = await handler(request)
        except BaseException:
            timer.cancel()
            raise
        handled = True
        if payload.is_eof():
            timer.cancel()
        elif expired:
            # answer, then drop the connection instead of waiting for the rest
            # of a body that a slow client may never send
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        # else: the handler answered without reading all of the body; aiohttp
        # reads and drops the rest, and the timer still ends that at the deadline
        return response

    return deadline
