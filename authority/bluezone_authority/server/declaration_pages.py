"""Pages of the declarations list: the ``limit`` and ``after`` parameters.

``GET /v1/authority/declarations`` used to answer every declaration in one
JSON document; during an outbreak (or a flood) that is tens of thousands of
rows built in memory at once. It now answers at most :data:`MAX_LIMIT` per
request with a ``next`` cursor. A cursor is ``<receivedHour>-<id>`` — the
last row's position in reception order — and clients treat it as opaque.
"""

from __future__ import annotations

import re
from typing import Any

from bluezone.i18n import _

from .errors import bad_request

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
_CURSOR = re.compile(r"^(\d{1,12})-([0-9A-Za-z]{1,64})$")
#: Position before the first declaration.
START: tuple[int, str] = (-1, "")


def parse_limit(value: Any) -> int:
    """``limit`` from a query string or a call: 1..MAX_LIMIT, default DEFAULT_LIMIT."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        n = int(value)
    else:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        raise bad_request("invalid_limit", _("limit must be a whole number from 1 to {max}", max=MAX_LIMIT))
    return n


def parse_cursor(value: Any) -> tuple[int, str]:
    """(receivedHour, id) after which the page starts; :data:`START` when absent."""
    if value is None or value == "":
        return START
    m = _CURSOR.match(value) if isinstance(value, str) else None
    if m is None:
        raise bad_request("invalid_cursor", _("after must be the 'next' value of a previous page"))
    return int(m.group(1)), m.group(2)


def cursor(received_hour: int, ident: str) -> str:
    return f"{received_hour}-{ident}"
