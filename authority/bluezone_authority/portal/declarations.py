"""What the portal offers for sealed health declarations: a summary and downloads.

Decision (docs/portal.md): the portal never decrypts. The server has no
key for declarations, and putting one on a machine that faces the internet
would defeat the sealing. Staff download the ciphertext here — one
``<id>.sealed`` file or everything as JSON lines in the same record format
as the staff API — and open it offline with
``bluezone authority declarations --key FILE --inbox DOWNLOAD``.

Both the page and the download stay bounded however many declarations are
stored (a flood once took the server from 152 MiB to 2.5 GiB when "download
all" was built in memory): the page reads per-hour counts and the newest
:data:`RECENT` rows; the download streams pages of :data:`PAGE_ROWS` rows
from the database, writing each before reading the next.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bluezone.models import DAY_SECONDS

from ..server import declaration_quota
from ..server.declaration_pages import START

ID_PATTERN = r"[0-9a-f]{24}"
#: Rows listed on the page (the download has them all).
RECENT = 200
#: Declarations read from the database per step of the download: at most
#: 32 × 48 KiB of ciphertext (~2 MiB of JSON) in memory at a time.
PAGE_ROWS = 32


@dataclass(frozen=True)
class Summary:
    count: int
    total_bytes: int
    per_day: list[tuple[dt.date, int]]
    items: list[dict[str, Any]]
    usage: declaration_quota.Usage

    @property
    def shown(self) -> int:
        return len(self.items)


def summary(server: Any) -> Summary:
    """Counts within the retention window, fill level against the storage cap, the newest rows."""
    usage = server.declaration_usage()
    since = server.now() - server.settings.retention_days * DAY_SECONDS
    with server.db.transaction() as c:
        days = declaration_quota.per_day(c, since)
    per_day = [(dt.date(1970, 1, 1) + dt.timedelta(days=int(day)), int(n)) for day, n, _ in days]
    items = [{"id": r[0], "receivedHour": r[1], "form": r[2], "bytes": r[3],
              "received": dt.datetime.fromtimestamp(r[1], dt.timezone.utc).strftime("%Y-%m-%d %H:00")}
             for r in server.db.all("SELECT id, received_hour, form, length(sealed) FROM declarations"
                                    " ORDER BY received_hour DESC, id DESC LIMIT ?", (RECENT,))]
    return Summary(usage.count, usage.bytes, per_day, items, usage)


def jsonl_chunks(server: Any, page_rows: int = PAGE_ROWS) -> Iterator[bytes]:
    """Every sealed declaration as ``{"id", "receivedHour", "form", "sealed"}``
    lines (``--inbox`` of ``bluezone authority declarations`` reads this),
    one chunk per page of rows, in reception order. Keyset pages: rows that
    retention deletes meanwhile are simply not reached, none is repeated."""
    after = START
    while True:
        rows = server.sealed_page(after, page_rows)
        if not rows:
            return
        yield "".join(json.dumps({"id": i, "receivedHour": hour, "form": form,
                                  "sealed": base64.b64encode(sealed).decode()}, separators=(",", ":")) + "\n"
                      for i, hour, form, sealed in rows).encode()
        after = (rows[-1][1], rows[-1][0])


def jsonl(server: Any) -> bytes:
    """The whole download in memory — only for small sets and tests; the
    portal streams :func:`jsonl_chunks`."""
    return b"".join(jsonl_chunks(server))
