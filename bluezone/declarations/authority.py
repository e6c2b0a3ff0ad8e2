"""The health authority's offline tools: open, list, triage, export, purge.

Staff download sealed declarations from the server (which cannot read them)
and open them on a workstation holding the private key — offline, so the
key never sits on the internet-facing server. Sources read here:

* ``*.sealed`` files: raw sealed bytes (ref = file name, received = mtime);
* ``*.json`` / ``*.jsonl``: records ``{"id", "received_at" or
  "receivedHour", "sealed"}`` with ``sealed`` in base64 (a list,
  ``{"declarations": [...]}``, or one per line) — the server's staff API
  answer (``GET /v1/authority/declarations/{id}``);
* directories: every such file inside, recursively.

A declaration that does not open or parse is reported as a failure with its
reason; it never stops the others and is never dropped silently.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.public

from .declaration import Declaration, DeclarationFormatError
from .form import Form
from .ncovi_form import EXPOSURES, SYMPTOMS
from .sealing import SealError, open_sealed

SUFFIXES = (".sealed", ".json", ".jsonl")


@dataclass(frozen=True)
class SealedItem:
    ref: str
    received_at: int
    sealed: bytes
    origin: Path


@dataclass(frozen=True)
class Opened:
    ref: str
    received_at: int
    declaration: Declaration


@dataclass(frozen=True)
class Failure:
    ref: str
    reason: str


class SourceError(Exception):
    """A source path does not exist or holds no readable records."""


def _records(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("declarations"), list):
        return data["declarations"]
    if isinstance(data, list):
        return data
    return [data]


def _item_from_record(rec: Any, origin: Path, index: int) -> SealedItem | Failure:
    ref = f"{origin.name}#{index}"
    if not isinstance(rec, dict):
        return Failure(ref, "record is not an object")
    ref = str(rec.get("id") or ref)
    try:
        sealed = base64.b64decode(str(rec.get("sealed", "")), validate=True)
    except (binascii.Error, ValueError):
        return Failure(ref, "sealed is not base64")
    if not sealed:
        return Failure(ref, "record has no sealed data")
    received = rec.get("received_at", rec.get("receivedHour", 0))
    if isinstance(received, str):
        try:
            received = int(dt.datetime.fromisoformat(received.replace("Z", "+00:00")).timestamp())
        except ValueError:
            received = 0
    return SealedItem(ref, int(received) if isinstance(received, (int, float)) else 0, sealed, origin)


def read_sources(paths: Iterable[str | os.PathLike]) -> tuple[list[SealedItem], list[Failure]]:
    """Every sealed declaration in the given files and folders."""
    items: list[SealedItem] = []
    failures: list[Failure] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SourceError(f"{path}: no such file or folder")
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()) if path.is_dir() else [path]
        for f in files:
            if f.suffix == ".sealed":
                items.append(SealedItem(f.stem, int(f.stat().st_mtime), f.read_bytes(), f))
                continue
            try:
                text = f.read_text(encoding="utf-8")
                if f.suffix == ".jsonl":
                    records = [json.loads(line) for line in text.splitlines() if line.strip()]
                else:
                    records = _records(json.loads(text))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                failures.append(Failure(f.name, f"not JSON: {e}"))
                continue
            for i, rec in enumerate(records):
                got = _item_from_record(rec, f, i)
                (items if isinstance(got, SealedItem) else failures).append(got)  # type: ignore[arg-type]
    return items, failures


def open_all(items: Iterable[SealedItem], key: nacl.public.PrivateKey) -> tuple[list[Opened], list[Failure]]:
    opened, failures = [], []
    for it in items:
        try:
            opened.append(Opened(it.ref, it.received_at, open_sealed(it.sealed, key)))
        except (SealError, DeclarationFormatError) as e:
            failures.append(Failure(it.ref, str(e)))
    return opened, failures


# --- triage ---------------------------------------------------------------------

PRIORITY_NAMES = {3: "urgent", 2: "high", 1: "medium", 0: "low"}
#: Symptoms that call for a same-day phone call whatever else was declared.
RED_FLAGS = ("symptom_difficulty_breathing", "symptom_skin_haemorrhage")


@dataclass(frozen=True)
class TriageRow:
    ref: str
    received_at: int
    priority: int
    tier: str
    exposure_date: str
    symptoms: tuple[str, ...]
    exposures: tuple[str, ...]
    verification_code: str

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES[self.priority]


def triage_row(o: Opened) -> TriageRow:
    """Priority: urgent = a red-flag symptom; high = any symptom and (an F1/F2
    link or a declared close contact); medium = any symptom, or an F1 link, or
    a declared close contact; low = the rest."""
    a = o.declaration.answers
    symptoms = tuple(k.removeprefix("symptom_") for k, v in a.items() if k.startswith("symptom_") and v is True)
    exposures = tuple(k.removeprefix("exposure_") for k, v in a.items() if k.startswith("exposure_") and v is True)
    link = o.declaration.linkage
    tier = link.tier.name if link else ""
    contact = "close_contact_case" in exposures
    if any(a.get(k) is True for k in RED_FLAGS):
        priority = 3
    elif symptoms and (tier or contact):
        priority = 2
    elif symptoms or tier == "F1" or contact:
        priority = 1
    else:
        priority = 0
    return TriageRow(o.ref, o.received_at, priority, tier, link.exposure_date.isoformat() if link else "",
                     tuple(sorted(symptoms)), tuple(sorted(exposures)),
                     (link.verification_code or "") if link else "")


def triage(opened: Iterable[Opened]) -> list[TriageRow]:
    """Most urgent first; within a priority, the most recent exposure first."""
    rows = sorted((triage_row(o) for o in opened), key=lambda r: r.ref)
    rows.sort(key=lambda r: r.exposure_date, reverse=True)  # stable sorts: last key wins
    rows.sort(key=lambda r: (-r.priority, r.exposure_date == ""))
    return rows


# --- CSV -----------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted
    with a leading apostrophe (CSV injection, OWASP)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ";".join(map(str, value))
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_columns(form: Form | None, opened: list[Opened]) -> list[str]:
    fields = [f.id for f in form.fields] if form else []
    for o in opened:
        for k in o.declaration.answers:
            if k not in fields:
                fields.append(k)
    return fields


def write_csv(opened: list[Opened], out: io.TextIOBase, form: Form | None = None) -> int:
    """One row per declaration: triage columns, then every answer. Returns rows written."""
    fields = csv_columns(form, opened)
    w = csv.writer(out)
    w.writerow(["ref", "received_at", "schema", "language", "declared_on", "priority", "tier",
                "exposure_date", "verification_code", *fields])
    for o in opened:
        t = triage_row(o)
        d = o.declaration
        received = dt.datetime.fromtimestamp(o.received_at, dt.timezone.utc).isoformat() if o.received_at else ""
        w.writerow([_cell(x) for x in (o.ref, received, d.schema, d.language, d.declared_on.isoformat(),
                                       t.priority_name, t.tier, t.exposure_date, t.verification_code)]
                   + [_cell(d.answers.get(f)) for f in fields])
    return len(opened)


# --- retention -----------------------------------------------------------------------------


async def fetch_from_server(url: str, token: str, folder: str | os.PathLike) -> tuple[list[Path], int]:
    """Download every sealed declaration from the server's staff API into
    ``folder`` as ``<id>.sealed`` (mtime = the hour the server received it),
    skipping those already there. Returns (new files, total listed). Only
    ciphertext crosses the network; opening stays offline."""
    import aiohttp

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    headers = {"Authorization": f"Bearer {token}"}
    base = url.rstrip("/") + "/v1/authority/declarations"
    new: list[Path] = []
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as s:
        async with s.get(base) as resp:
            if resp.status != 200:
                raise SourceError(f"{base}: HTTP {resp.status}: {(await resp.text())[:200]}")
            listing = (await resp.json()).get("declarations", [])
        for entry in listing:
            ref = str(entry.get("id", ""))
            if not ref.isalnum():
                raise SourceError(f"server listed a bad declaration id {ref!r}")
            target = out / f"{ref}.sealed"
            if target.exists():
                continue
            async with s.get(f"{base}/{ref}") as resp:
                if resp.status != 200:
                    raise SourceError(f"{base}/{ref}: HTTP {resp.status}")
                item = _item_from_record(await resp.json(), target, 0)
            if isinstance(item, Failure):
                raise SourceError(f"{ref}: {item.reason}")
            tmp = target.with_suffix(".part")
            tmp.write_bytes(item.sealed)
            received = int(entry.get("receivedHour") or 0)
            if received:
                os.utime(tmp, (received, received))
            tmp.rename(target)
            new.append(target)
    return new, len(listing)


def purge_sealed_files(folder: str | os.PathLike, days: int, now: float | None = None) -> list[Path]:
    """Delete downloaded ``*.sealed`` files older than ``days`` (by mtime) in a
    folder; returns what was deleted. Exports (CSV) are the operator's to
    delete; the docs say so."""
    now = time.time() if now is None else now
    cutoff = now - days * 86_400
    gone = []
    for p in sorted(Path(folder).rglob("*.sealed")):
        if p.stat().st_mtime < cutoff:
            p.unlink()
            gone.append(p)
    return gone


def symptom_label(code: str, language: str) -> str:
    vi, en = SYMPTOMS.get(code, EXPOSURES.get(code, (code, code)))
    return vi if language == "vi" else en


def iter_summary(opened: list[Opened]) -> Iterator[dict[str, Any]]:
    """One JSON-able summary per declaration, for ``--json`` listings."""
    for o in opened:
        t = triage_row(o)
        yield {"ref": o.ref, "received_at": o.received_at, "schema": o.declaration.schema,
               "priority": t.priority_name, "tier": t.tier, "exposure_date": t.exposure_date,
               "symptoms": list(t.symptoms), "exposures": list(t.exposures)}
