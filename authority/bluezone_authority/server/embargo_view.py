"""Keys waiting for their embargo, as staff read them (CLI and portal).

Why it is shown: a case officer who just gave a code sees "0 keys" in the
next export and wonders whether the upload worked. The keys are there,
waiting: a key whose identifiers were on the air less than ``embargo_hours``
ago is held until its end + the embargo (see docs/server.md, "Embargo"), and
then goes into the first export after that. Only counts and times are
shown, never key data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def utc(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per release time: how many keys, from when publishable, and
    the latest time the export job (every ``batchMinutes``) includes them."""
    step = int(view.get("batchMinutes", 60)) * 60
    return [{"keys": w["keys"], "available_at": utc(w["availableAt"]),
             "published_by": utc(w["availableAt"] + step)} for w in view["embargoed"]]


def embargo_lines(view: dict[str, Any]) -> list[str]:
    """Plain-text lines for ``bluezone authority embargo`` (English / Vietnamese)."""
    out = [f"Embargo {view['embargoHours']} h; exports every {view['batchMinutes']} min / "
           f"Giữ lại {view['embargoHours']} giờ; xuất tệp mỗi {view['batchMinutes']} phút"]
    table = rows(view)
    if not table:
        out.append("No keys are waiting for their embargo. / Không có khoá nào đang chờ.")
    for r in table:
        out.append(f"{r['keys']} key(s) publishable from {r['available_at']}, in an export by {r['published_by']} / "
                   f"{r['keys']} khoá được công bố từ {r['available_at']}, chậm nhất {r['published_by']}")
    out.append(f"Ready for the next export: {view['readyForNextExport']} key(s), "
               f"{view['revisionsForNextExport']} revision(s) / Sẵn sàng cho lần xuất tiếp theo: "
               f"{view['readyForNextExport']} khoá, {view['revisionsForNextExport']} sửa đổi")
    return out
