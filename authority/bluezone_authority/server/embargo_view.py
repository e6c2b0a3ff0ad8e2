"""Keys waiting for their embargo, as staff read them (CLI and portal).

Why it is shown: a case officer who just gave a code sees "0 keys" in the
next export and wonders whether the upload worked. The keys are there,
waiting: every key is held until the end of its UTC day + ``embargo_hours``
(see docs/server.md, "Embargo"), and then goes into the first export after
that. Only counts and times are
shown, never key data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bluezone.i18n import _, _n, text


def utc(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per release time: how many keys, from when publishable, and
    the latest time the export job (every ``batchMinutes``) includes them."""
    step = int(view.get("batchMinutes", 60)) * 60
    return [{"keys": w["keys"], "available_at": utc(w["availableAt"]),
             "published_by": utc(w["availableAt"] + step)} for w in view["embargoed"]]


def embargo_lines(view: dict[str, Any]) -> list[str]:
    """Plain-text lines for ``bluezone authority embargo`` (the operator's language)."""
    out = [text(_("Embargo {hours} h; exports every {minutes} min", hours=view["embargoHours"],
                  minutes=view["batchMinutes"]))]
    table = rows(view)
    if not table:
        out.append(text(_("No keys are waiting for their embargo.")))
    for r in table:
        out.append(text(_n("{n} key publishable from {start}, in an export by {by}",
                           "{n} keys publishable from {start}, in an export by {by}",
                           r["keys"], start=r["available_at"], by=r["published_by"])))
    out.append(text(_("Ready for the next export: {n} keys, {r} revisions.", n=view["readyForNextExport"],
                      r=view["revisionsForNextExport"])))
    return out
