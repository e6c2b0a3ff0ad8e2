"""aiohttp's own log lines, without client addresses or tracebacks.

When aiohttp cannot parse a request (a bad chunk size, too many headers, a
control character in a header) it answers 400 itself and logs "Error
handling request from <client address>" with a traceback. That line would
put client addresses in the server's log (docs/privacy.md: no log records
one), and a traceback per junk request lets anyone fill the log cheaply.
:class:`AddressFreeServerLog` rewrites it to one line that names only what
was wrong; ``bluezone serve`` installs it on the ``aiohttp.server`` logger.
"""

from __future__ import annotations

import logging

#: The logger aiohttp's request handler writes to.
AIOHTTP_SERVER_LOGGER = "aiohttp.server"
_FROM_CLIENT = "Error handling request from"


def _what_was_wrong(record: logging.LogRecord) -> str:
    exc = record.exc_info[1] if record.exc_info else None
    if exc is None:
        return "unknown error"
    # the first line of aiohttp's parser messages is generic ("Invalid header
    # value char:"); the lines after it quote the request, which may hold an
    # address (X-Forwarded-For) or anything else the client sent
    first = (str(getattr(exc, "message", "") or exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:120]


class AddressFreeServerLog(logging.Filter):
    """Rewrites aiohttp's per-request error line to one line without the
    client's address or a traceback; other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(_FROM_CLIENT):
            record.msg, record.args = "refused a malformed request: %s", (_what_was_wrong(record),)
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def install() -> None:
    """Add the filter to aiohttp's server logger (once)."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    if not any(isinstance(f, AddressFreeServerLog) for f in logger.filters):
        logger.addFilter(AddressFreeServerLog())
