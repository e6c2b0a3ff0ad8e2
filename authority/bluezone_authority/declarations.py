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

A file, record or declaration that cannot be read, does not open or does
not parse is reported as a :class:`Failure` with a one-line reason; it never
stops the others and is never dropped silently. Everything inside a
declaration is attacker-controlled (the sealing key is public), so parsing
is bounded (:mod:`.declaration`) and text leaves through :mod:`bluezone.textsafe`.
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

from bluezone.declarations.declaration import MAX_PLAINTEXT, Declaration, DeclarationFormatError
from bluezone.declarations.form import Form
from bluezone.declarations.ncovi_form import EXPOSURES, SYMPTOMS
from bluezone.declarations.sealing import SEAL_OVERHEAD, SealError, open_sealed
from bluezone.i18n import N_, Message, _
from bluezone.textsafe import csv_cell

SUFFIXES = (".sealed", ".json", ".jsonl")
#: A ``.sealed`` file larger than this cannot be a declaration: refused unread.
MAX_SEALED_FILE = MAX_PLAINTEXT + SEAL_OVERHEAD
#: A ``.json`` inbox file is read whole; the portal's bulk download is JSONL.
MAX_JSON_FILE = 256 * 1024 * 1024
#: One JSONL record: base64 of the largest sealed declaration and a little more.
MAX_JSONL_LINE = 1024 * 1024
#: Timestamps outside 1970..2100 are shown as unknown rather than crashing a date formatter.
MAX_TIMESTAMP = 4_102_444_800


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
    """One item that could not be read or opened, and why (one line)."""

    ref: str
    #: a catalogue text (or a plain str from elsewhere), shown in the deployment's languages
    reason: Message | str


NOT_UTF8 = _("not JSON: not UTF-8 text")
TOO_DEEP = _("not JSON: nested too deeply")


class SourceError(Exception):
    """A source path does not exist or holds no readable records."""


def _records(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("declarations"), list):
        return data["declarations"]
    if isinstance(data, list):
        return data
    return [data]


def _timestamp(value: Any) -> int:
    """A record's reception time as a Unix time, 0 when absent or absurd."""
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            value = (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()
        except (ValueError, OverflowError):
            return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if not 0 <= value <= MAX_TIMESTAMP:  # also NaN, which fails both comparisons
        return 0
    return int(value)


def _item_from_record(rec: Any, origin: Path, index: int | str) -> SealedItem | Failure:
    """A record ``{"id", "sealed", "received_at"/"receivedHour"}``; its
    reference is its id, else ``file#index`` (JSON) or ``file:line`` (JSONL)."""
    ref = index if isinstance(index, str) else f"{origin.name}#{index}"
    if not isinstance(rec, dict):
        return Failure(ref, _("record is not an object"))
    rid = rec.get("id")
    if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid):
        ref = str(rid)[:100]
    sealed_b64 = rec.get("sealed", "")
    if not isinstance(sealed_b64, str):
        return Failure(ref, _("sealed is not base64 text"))
    if len(sealed_b64) > MAX_SEALED_FILE * 4 // 3 + 4:
        return Failure(ref, _("sealed is too large to be a declaration"))
    try:
        sealed = base64.b64decode(sealed_b64, validate=True)
    except (binascii.Error, ValueError):
        return Failure(ref, _("sealed is not base64"))
    if not sealed:
        return Failure(ref, _("record has no sealed data"))
    received = rec.get("received_at", rec.get("receivedHour", 0))
    return SealedItem(ref, _timestamp(received), sealed, origin)


def _json_records(f: Path) -> Iterator[tuple[str, Any] | Failure]:
    """(default reference, record) for each record of one ``.json`` file
    (read whole) or ``.jsonl`` file (line by line, each line bounded)."""
    if f.suffix == ".json":
        if f.stat().st_size > MAX_JSON_FILE:
            yield Failure(f.name, _("larger than {mib} MiB; use the .jsonl download", mib=MAX_JSON_FILE // 2**20))
            return
        try:
            data = json.loads(f.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            yield Failure(f.name, NOT_UTF8)
            return
        except RecursionError:
            yield Failure(f.name, TOO_DEEP)
            return
        except ValueError as e:  # JSONDecodeError, integers too long to convert
            yield Failure(f.name, _("not JSON: {detail}", detail=str(e)[:120]))
            return
        yield from ((f"{f.name}#{i}", rec) for i, rec in enumerate(_records(data)))
        return
    with f.open("rb") as fh:
        for lineno, line in enumerate(iter(lambda: fh.readline(MAX_JSONL_LINE + 1), b""), 1):
            ref = f"{f.name}:{lineno}"
            if len(line) > MAX_JSONL_LINE:
                while line and not line.endswith(b"\n"):  # skip the rest of the over-long line
                    line = fh.readline(MAX_JSONL_LINE)
                yield Failure(ref, _("line longer than {kib} KiB", kib=MAX_JSONL_LINE // 1024))
                continue
            if not line.strip():
                continue
            try:
                yield ref, json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                yield Failure(ref, NOT_UTF8)
            except RecursionError:
                yield Failure(ref, TOO_DEEP)
            except ValueError as e:
                yield Failure(ref, _("not JSON: {detail}", detail=str(e)[:120]))


def _read_file(f: Path) -> Iterator[SealedItem | Failure]:
    if f.suffix == ".sealed":
        size = f.stat().st_size
        if size > MAX_SEALED_FILE:
            yield Failure(f.stem, _("{size} bytes: too large to be a sealed declaration", size=size))
            return
        yield SealedItem(f.stem, _timestamp(f.stat().st_mtime), f.read_bytes(), f)
        return
    for got in _json_records(f):
        yield got if isinstance(got, Failure) else _item_from_record(got[1], f, got[0])


def _files(path: Path) -> Iterator[Path | Failure]:
    if not path.is_dir():
        yield path
        return
    try:
        found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES)
    except OSError as e:
        yield Failure(str(path), _("cannot list: {detail}", detail=e.strerror or e))
        return
    yield from found


def iter_sources(paths: Iterable[str | os.PathLike]) -> Iterator[SealedItem | Failure]:
    """Every sealed declaration in the given files and folders, one at a time.

    Any problem with one file or record (unreadable, not a regular file, too
    large, not JSON, nested too deeply, a bad record) is yielded as a
    :class:`Failure` and reading goes on; only a path that does not exist at
    all raises :class:`SourceError` (a typing mistake on the command line)."""
    checked = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SourceError(_("{path}: no such file or folder", path=path))
        checked.append(path)
    for path in checked:
        for f in _files(path):
            if isinstance(f, Failure):
                yield f
                continue
            try:
                if not f.is_file():
                    yield Failure(f.name, _("not a regular file"))
                    continue
                yield from _read_file(f)
            except OSError as e:
                yield Failure(f.name, _("cannot read: {detail}", detail=e.strerror or e))


def read_sources(paths: Iterable[str | os.PathLike]) -> tuple[list[SealedItem], list[Failure]]:
    """Every sealed declaration in the given files and folders (see :func:`iter_sources`)."""
    items: list[SealedItem] = []
    failures: list[Failure] = []
    for got in iter_sources(paths):
        (failures if isinstance(got, Failure) else items).append(got)  # type: ignore[arg-type]
    return items, failures


_KIND_TYPES: dict[str, tuple[str, Any]] = {
    "boolean": (N_("yes/no"), lambda v: isinstance(v, bool)),
    "integer": (N_("a whole number"), lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "year": (N_("a whole number"), lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "multichoice": (N_("a list of codes"), lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
}
_TEXT = (N_("text"), lambda v: isinstance(v, str))


def answer_type_problem(declaration: Declaration, form: Form | None) -> Message | None:
    """Why an answer has the wrong type for its field in ``form`` (the first
    one found), or None. A phone only ever seals answers its form accepted,
    so a wrong type means a crafted or broken declaration: it is reported,
    not shown, because every display path assumes the field's type."""
    if form is None:
        return None
    kinds = {f.id: f.kind for f in form.fields}
    for key, value in declaration.answers.items():
        if value is None or key not in kinds:
            continue
        what, ok = _KIND_TYPES.get(kinds[key], _TEXT)
        if not ok(value):
            return _("answer '{key}' should be {what}, got {got}", key=key, what=_(what), got=type(value).__name__)
    return None


def open_item(item: SealedItem, key: nacl.public.PrivateKey, form: Form | None = None) -> Opened | Failure:
    """Open and check one sealed declaration; a failure is returned, never raised."""
    try:
        declaration = open_sealed(item.sealed, key)
    except (SealError, DeclarationFormatError) as e:
        return Failure(item.ref, e.args[0] if e.args else str(e))  # the core's text (a Message once translated)
    except Exception as e:  # a bug must cost one declaration, not the authority's whole inbox
        return Failure(item.ref, _("unexpected error while opening: {error}", error=type(e).__name__))
    problem = answer_type_problem(declaration, form)
    if problem:
        return Failure(item.ref, problem)
    return Opened(item.ref, item.received_at, declaration)


def open_all(items: Iterable[SealedItem], key: nacl.public.PrivateKey,
             form: Form | None = None) -> tuple[list[Opened], list[Failure]]:
    opened: list[Opened] = []
    failures: list[Failure] = []
    for it in items:
        got = open_item(it, key, form)
        if isinstance(got, Failure):
            failures.append(got)
        else:
            opened.append(got)
    return opened, failures


def open_sources(paths: Iterable[str | os.PathLike], key: nacl.public.PrivateKey,
                 form: Form | None = None) -> tuple[list[Opened], list[Failure]]:
    """Read and open in one pass, keeping only opened declarations (not the
    ciphertext) in memory; failures of reading and of opening, in order."""
    opened: list[Opened] = []
    failures: list[Failure] = []
    for item in iter_sources(paths):
        got = open_item(item, key, form) if isinstance(item, SealedItem) else item
        if isinstance(got, Failure):
            failures.append(got)
        else:
            opened.append(got)
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

def _cell(value: Any) -> str:
    """A CSV cell. Every text passes :func:`bluezone.textsafe.csv_cell`: control,
    bidi and zero-width characters become visible escapes, and text a
    spreadsheet would run as a formula gets a leading apostrophe (CSV
    injection, OWASP) — also when the ``=`` hides behind spaces, a newline
    or an invisible character."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ";".join(map(str, value))
    return csv_cell(str(value))


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
    w.writerow([_cell(x) for x in ("ref", "received_at", "schema", "language", "declared_on", "priority", "tier",
                                   "exposure_date", "verification_code", *fields)])
    for o in opened:
        t = triage_row(o)
        d = o.declaration
        received = dt.datetime.fromtimestamp(o.received_at, dt.timezone.utc).isoformat() if o.received_at else ""
        w.writerow([_cell(x) for x in (o.ref, received, d.schema, d.language, d.declared_on.isoformat(),
                                       t.priority_name, t.tier, t.exposure_date, t.verification_code)]
                   + [_cell(d.answers.get(f)) for f in fields])
    return len(opened)


# --- retention -----------------------------------------------------------------------------


async def delete_on_server(url: str, token: str, receipt: str) -> bool:
    """``DELETE /v1/authority/declarations/{receipt}``: True when deleted,
    False when the server has no such declaration; anything else raises
    :class:`SourceError` with the server's message."""
    import aiohttp

    target = url.rstrip("/") + "/v1/authority/declarations/" + receipt
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        async with s.delete(target) as resp:
            if resp.status == 200:
                return True
            if resp.status == 404:
                return False
            try:
                error = (await resp.json())["error"]
                detail = f"{error['code']}: {error['message']}"
            except Exception:  # noqa: BLE001 - not the server's JSON error: show the status only
                detail = f"HTTP {resp.status}"
            raise SourceError(f"the server refused to delete {receipt}: {detail}")


async def fetch_from_server(url: str, token: str, folder: str | os.PathLike, *,
                            page_size: int = 500) -> tuple[list[Path], int, list[Failure]]:
    """Download every sealed declaration from the server's staff API into
    ``folder`` as ``<id>.sealed`` (mtime = the hour the server received it),
    skipping those already there, following the list's ``next`` cursor page
    by page. Returns (new files, total listed, failures): a declaration
    that cannot be downloaded is reported and the others still arrive. Only
    ciphertext crosses the network; opening stays offline."""
    import aiohttp

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    headers = {"Authorization": f"Bearer {token}"}
    base = url.rstrip("/") + "/v1/authority/declarations"
    new: list[Path] = []
    failures: list[Failure] = []
    total = 0
    after = ""
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as s:
        while True:
            params = {"limit": str(page_size), **({"after": after} if after else {})}
            async with s.get(base, params=params) as resp:
                if resp.status != 200:  # the list itself: nothing to go on with
                    raise SourceError(_("{url}: HTTP {status}: {answer}", url=base, status=resp.status,
                                               answer=(await resp.text())[:200]))
                page = await resp.json()
            listing = page.get("declarations", []) if isinstance(page, dict) else []
            total += len(listing)
            for entry in listing:
                got = await _fetch_one(s, base, entry, out)
                if isinstance(got, Failure):
                    failures.append(got)
                elif got is not None:
                    new.append(got)
            following = page.get("next") if isinstance(page, dict) else None
            if not following or not isinstance(following, str) or not listing:
                break
            after = following
    return new, total, failures


async def _fetch_one(session: Any, base: str, entry: Any, out: Path) -> Path | Failure | None:
    """One declaration to ``out/<id>.sealed``: the new path, None if already there, or a Failure."""
    import aiohttp

    ref = str(entry.get("id", "")) if isinstance(entry, dict) else ""
    if not ref.isascii() or not ref.isalnum() or len(ref) > 64:
        return Failure(ref[:64] or "?", _("the server listed a bad declaration id"))
    target = out / f"{ref}.sealed"
    if target.exists():
        return None
    try:
        async with session.get(f"{base}/{ref}") as resp:
            if resp.status != 200:
                return Failure(ref, _("HTTP error {status}", status=resp.status))
            item = _item_from_record(await resp.json(), target, 0)
    except (aiohttp.ClientError, OSError, ValueError) as e:  # connection reset, not JSON
        return Failure(ref, _("download failed: {error}", error=type(e).__name__))
    if isinstance(item, Failure):
        return Failure(ref, item.reason)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(item.sealed)
    received = _timestamp(entry.get("receivedHour"))
    if received:
        os.utime(tmp, (received, received))
    tmp.rename(target)
    return target


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
    from bluezone.i18n import text

    return text(SYMPTOMS.get(code) or EXPOSURES.get(code) or code, language)


def iter_summary(opened: list[Opened]) -> Iterator[dict[str, Any]]:
    """One JSON-able summary per declaration, for ``--json`` listings."""
    for o in opened:
        t = triage_row(o)
        yield {"ref": o.ref, "received_at": o.received_at, "schema": o.declaration.schema,
               "priority": t.priority_name, "tier": t.tier, "exposure_date": t.exposure_date,
               "symptoms": list(t.symptoms), "exposures": list(t.exposures)}
