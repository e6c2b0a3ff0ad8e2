"""What the portal offers for sealed health declarations: a summary and downloads.

Decision (docs/portal.md): the portal never decrypts. The server has no
key for declarations (DESIGN.md §2 rule 7), and putting one on a machine
that faces the internet would defeat the sealing. Staff download the
ciphertext here — one ``<id>.sealed`` file or everything as JSON lines in
the same record format as the staff API — and open it offline with
``bluezone authority declarations --key FILE --inbox DOWNLOAD``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

ID_PATTERN = r"[0-9a-f]{24}"


@dataclass(frozen=True)
class Summary:
    count: int
    total_bytes: int
    per_day: list[tuple[dt.date, int]]
    items: list[dict[str, Any]]


def summary(server: Any) -> Summary:
    items = server.list_declarations()
    per_day = Counter(dt.datetime.fromtimestamp(i["receivedHour"], dt.timezone.utc).date() for i in items)
    for i in items:
        i["received"] = dt.datetime.fromtimestamp(i["receivedHour"], dt.timezone.utc).strftime("%Y-%m-%d %H:00")
    return Summary(len(items), sum(i["bytes"] for i in items), sorted(per_day.items()), items)


def jsonl(server: Any) -> bytes:
    """Every sealed declaration as ``{"id", "receivedHour", "form", "sealed"}`` lines
    (``--inbox`` of ``bluezone authority declarations`` reads this)."""
    lines = []
    for item in server.list_declarations():
        sealed = server.declaration(item["id"])
        if sealed is None:  # deleted by retention between the two reads
            continue
        lines.append(json.dumps({"id": item["id"], "receivedHour": item["receivedHour"], "form": item["form"],
                                 "sealed": base64.b64encode(sealed).decode()}, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode() if lines else b""
