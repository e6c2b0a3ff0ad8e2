"""Everything a phone's store holds, in a readable form (``bluezone my-data``).

The person's right of access covers all of it, not a chosen subset, so the
export walks every table of the store — the core's and any a plugin made
through ``bluezone_store_migrations`` — rather than a list written here.
Sealed columns are opened with the store's key (own keys, visits, kept
declarations); other binary values are shown as hex. Only the key check
value is left out: it is a keyed digest of a constant, not the person's data.

The export contains the phone's own keys. Anyone holding them can recognise
this phone's past broadcasts, so the file is written with mode 0600 and the
summary says so.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

#: Tables whose ``sealed`` column is opened with the store key.
SEALED_TABLES = ("own_keys", "visits", "declarations")
#: Rows never exported (not the person's data).
HIDDEN_META = ("key_check",)


def _value(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _opened(payload: bytes) -> Any:
    """A sealed payload as JSON when it is JSON text, else hex."""
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.hex()


def tables(store: Any) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def export(store: Any, deployment: str) -> dict[str, Any]:
    """``{"deployment", "exported_at", "tables": {name: [row dicts]}}`` of the whole store."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in tables(store):
        cur = store.db.execute(f'SELECT * FROM "{table}"')
        columns = [c[0] for c in cur.description]
        rows = []
        for raw in cur:
            row = dict(zip(columns, raw, strict=True))
            if table == "meta" and row.get("key") in HIDDEN_META:
                continue
            if table in SEALED_TABLES and "sealed" in row:
                opened = store.cipher.open(bytes(row.pop("sealed")))
                row["opened"] = opened.hex() if table == "own_keys" else _opened(opened)
            rows.append({k: _value(v) for k, v in row.items()})
        out[table] = rows
    return {"deployment": deployment, "exported_at": store.now(), "store": str(store.path), "tables": out}


@dataclass(frozen=True, slots=True)
class SummaryLine:
    table: str
    rows: int
    vi: str
    en: str


#: What each core table is, in both languages; a plugin's table is named as it is.
MEANING: dict[str, tuple[str, str]] = {
    "meta": ("cài đặt và trạng thái của ứng dụng", "settings and app state"),
    "consents": ("các lựa chọn đồng ý của bạn", "your consent decisions"),
    "own_keys": ("khóa hằng ngày của máy này (bí mật)", "this phone's daily keys (secret)"),
    "sightings": ("mã Bluetooth của máy ở gần đã ghi nhận", "Bluetooth identifiers of phones nearby"),
    "visits": ("các lần check-in địa điểm", "venue check-ins"),
    "exposures": ("phơi nhiễm đã phát hiện", "exposures found"),
    "alerts": ("cảnh báo đã hiển thị", "warnings shown"),
    "exposure_windows": ("khoảng tiếp xúc với khóa đã công bố", "contact windows with published keys"),
    "matched_contributions": ("dấu vết đã đếm (mã băm có khóa)", "what was already counted (keyed hashes)"),
    "processed_batches": ("các gói đã tải và so khớp", "published batches downloaded and matched"),
    "sync_state": ("trạng thái đồng bộ", "sync state"),
    "declarations": ("bản sao tờ khai bạn chọn giữ", "declaration copies you chose to keep"),
    "_migrations": ("phiên bản cấu trúc dữ liệu", "data-structure versions"),
}


def summary(data: dict[str, Any]) -> list[SummaryLine]:
    return [SummaryLine(t, len(rows), *MEANING.get(t, (t, t))) for t, rows in data["tables"].items()]


def summary_text(data: dict[str, Any], lang: str) -> list[str]:
    """The human summary: one line per table, then the consent decisions."""
    vi = lang == "vi"
    when = dt.datetime.fromtimestamp(data["exported_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [(f"Dữ liệu trên điện thoại này ({data['deployment']}), lúc {when}:" if vi
              else f"Data held on this phone ({data['deployment']}), at {when}:")]
    for s in summary(data):
        lines.append(f"  {s.table}: {s.rows} — {s.vi if vi else s.en}")
    for c in data["tables"].get("consents", []):
        state = ("đồng ý" if c["granted"] else "không đồng ý") if vi else ("agreed" if c["granted"] else "refused")
        lines.append(f"  • {c['purpose']}: {state} (v{c['notice_version']})")
    lines.append("Tệp xuất có chứa khóa bí mật của máy; hãy giữ kín." if vi
                 else "The full export contains this phone's secret keys; keep it private.")
    return lines
