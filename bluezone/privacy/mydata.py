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
from typing import Any

from ..i18n import N_, _, text

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


#: What each core table is (msgids); a plugin's table is named as it is.
MEANING: dict[str, str] = {
    "meta": N_("settings and app state"),
    "consents": N_("your consent decisions"),
    "own_keys": N_("this phone's daily keys (secret)"),
    "sightings": N_("Bluetooth identifiers of phones nearby"),
    "visits": N_("venue check-ins"),
    "exposures": N_("exposures found"),
    "alerts": N_("warnings shown"),
    "exposure_windows": N_("contact windows with published keys"),
    "matched_contributions": N_("what was already counted (keyed hashes)"),
    "processed_batches": N_("published batches downloaded and matched"),
    "sync_state": N_("sync state"),
    "declarations": N_("declaration copies you chose to keep"),
    "_migrations": N_("data-structure versions"),
}


def summary_text(data: dict[str, Any], lang: str) -> list[str]:
    """The human summary in ``lang``: one line per table, then the consent decisions."""
    when = dt.datetime.fromtimestamp(data["exported_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [text(_("Data held on this phone ({deployment}), at {when}:", deployment=data["deployment"], when=when),
                  lang)]
    for table, rows in data["tables"].items():
        meaning = text(MEANING[table], lang) if table in MEANING else table
        lines.append(f"  {table}: {len(rows)} — {meaning}")
    for c in data["tables"].get("consents", []):
        state = _("agreed") if c["granted"] else _("refused")
        lines.append(f"  • {c['purpose']}: {text(state, lang)} (v{c['notice_version']})")
    lines.append(text(_("The full export contains this phone's secret keys; keep it private."), lang))
    return lines
