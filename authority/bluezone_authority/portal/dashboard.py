"""Counts for the dashboard, read from the server's own tables.

Only what the server already knows, per UTC day: uploads (codes spent by a
publish, F0 and F1 apart), keys received, batches published per feed, codes
issued and what became of them, declarations received; plugins add their
own per-day counts (``bluezone_dashboard_counters``, e.g. venue-trace
batches from the QR check-in plugin) into ``Day.extra``. There is no
"people warned" figure because the server cannot know it: every phone
matches on its own (privacy rule 1, docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bluezone.models import DAY_SECONDS, ReportType

SERIES = ("uploads_f0", "uploads_f1", "keys", "exports", "codes_issued", "declarations")


@dataclass
class Day:
    day: dt.date
    uploads_f0: int = 0
    uploads_f1: int = 0
    keys: int = 0
    exports: int = 0
    codes_issued: int = 0
    declarations: int = 0
    #: plugins' counters by key
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def uploads(self) -> int:
        return self.uploads_f0 + self.uploads_f1


@dataclass
class Dashboard:
    days: list[Day]
    codes_redeemed: int
    codes_pending: int
    codes_expired: int
    totals: dict[str, int] = field(default_factory=dict)


def _day(number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(number))


def collect(db: Any, now: int, days: int = 14, counters: Sequence[Any] = ()) -> Dashboard:
    """The last ``days`` UTC days, today last; ``counters`` are the plugins'
    (:class:`bluezone_authority.portal.extensions.DashboardCounter`)."""
    today = now // DAY_SECONDS
    first = today - days + 1
    since = first * DAY_SECONDS
    rows = {today - i: Day(_day(today - i)) for i in range(days)}

    def add(sql: str, params: tuple, setter) -> None:
        for r in db.all(sql, params):
            if r[0] in rows:
                setter(rows[r[0]], *r[1:])

    recursive = int(ReportType.RECURSIVE)

    def uploads(d: Day, rt: int, n: int) -> None:
        if rt == recursive:
            d.uploads_f1 += n
        else:
            d.uploads_f0 += n

    def batches(d: Day, n: int) -> None:
        d.exports += n

    add("SELECT used_at / 86400, report_type, count(*) FROM codes WHERE state = 'used' AND used_at >= ?"
        " GROUP BY 1, 2", (since,), uploads)
    add("SELECT created_at / 86400, count(*) FROM exposure_keys WHERE created_at >= ? GROUP BY 1", (since,),
        lambda d, n: setattr(d, "keys", n))
    add("SELECT created_at / 86400, count(*) FROM batches WHERE feed = 'keys' AND created_at >= ? GROUP BY 1",
        (since,), batches)
    add("SELECT created_at / 86400, count(*) FROM codes WHERE created_at >= ? GROUP BY 1", (since,),
        lambda d, n: setattr(d, "codes_issued", n))
    add("SELECT received_hour / 86400, count(*) FROM declarations WHERE received_hour >= ? GROUP BY 1", (since,),
        lambda d, n: setattr(d, "declarations", n))
    redeemed = db.one("SELECT count(*) FROM codes WHERE state != 'issued'")[0]
    pending = db.one("SELECT count(*) FROM codes WHERE state = 'issued' AND expires_at > ?", (now,))[0]
    expired = db.one("SELECT count(*) FROM codes WHERE state = 'issued' AND expires_at <= ?", (now,))[0]
    for counter in counters:
        for d in rows.values():
            d.extra[counter.key] = 0
        for number, n in counter.daily(db, since):
            if number in rows:
                rows[number].extra[counter.key] += int(n)
    ordered = [rows[d] for d in range(first, today + 1)]
    totals = {s: sum(getattr(d, s) for d in ordered) for s in SERIES}
    totals.update({c.key: sum(d.extra[c.key] for d in ordered) for c in counters})
    totals["uploads"] = totals["uploads_f0"] + totals["uploads_f1"]
    return Dashboard(ordered, redeemed, pending, expired, totals)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


def bars(values: list[int], labels: list[str], *, width: int = 560, height: int = 120) -> list[Bar]:
    """Geometry of a simple bar chart (drawn as SVG in the template, so no script is needed)."""
    top = max(values + [1])
    step = width / max(len(values), 1)
    out = []
    for i, (v, label) in enumerate(zip(values, labels, strict=True)):
        h = 0 if v == 0 else max(2.0, v / top * (height - 16))
        out.append(Bar(round(i * step + 2, 1), round(height - h, 1), round(step - 4, 1), round(h, 1), v, label))
    return out
