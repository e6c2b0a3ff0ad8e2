"""``bluezone authority declarations``: the authority's tools for sealed declarations.

Staff fetch sealed declarations from the server, then open them offline
with the private key: list, show, triage, CSV, purge old downloads, and
make the key pair. The phone side (filling in, sealing and submitting a
declaration) stays in the core's ``bluezone declare``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

import click

from bluezone.cli.common import fail, load_config_or_fail


@click.group("declarations", invoke_without_command=True)
@click.option("--key", "key_path", type=click.Path(dir_okay=False), default=None,
              help="The authority's declaration private key file (offline).")
@click.option("--inbox", "sources", multiple=True, type=click.Path(),
              help="Downloaded sealed declarations: files or folders (repeatable).")
@click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", type=click.Path(dir_okay=False), default=None,
              help="Deployment TOML (only to know province-added fields).")
@click.pass_context
def declarations_group(ctx: click.Context, key_path: str | None, sources: tuple[str, ...],
                       config_path: str | None) -> None:
    """Sealed health declarations: fetch, then open offline — list (default), show, triage, csv; purge, keygen."""
    ctx.obj = {"key": key_path, "sources": list(sources), "config": config_path}
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_declarations)


def _echo(text: str = "", err: bool = False) -> None:
    """Print one line of the authority's tools. Declarations come from anyone
    holding the public key, so every line is neutralised: terminal escapes,
    bidi overrides and other invisible characters are shown as ``\\x..``."""
    from bluezone.textsafe import safe_terminal_text

    click.echo(safe_terminal_text(text), err=err)


def _report(failures: list) -> None:
    """One stderr line per item that could not be read or opened, then the count."""
    for f in failures:
        _echo(f"could not open {f.ref}: {f.reason}", err=True)
    if failures:
        _echo(f"{len(failures)} item(s) could not be opened / {len(failures)} mục không mở được", err=True)


def _opened(ctx: click.Context, report: bool = True):
    from bluezone.declarations import SealError, load_private_key

    from ..declarations import SourceError, open_sources

    obj = ctx.find_root().obj if ctx.obj is None else ctx.obj
    if not obj.get("key"):
        fail("--key FILE is needed to open declarations")
    sources = list(obj.get("sources", []))
    if not sources:
        fail("give the downloaded declarations with --inbox PATH")
    try:
        key = load_private_key(obj["key"])
        opened, failures = open_sources(sources, key, _form(ctx))
    except (SealError, SourceError) as e:
        fail(str(e))
    if report:
        _report(failures)
    return opened, failures


def _form(ctx: click.Context):
    from bluezone.declarations import build_form

    obj = ctx.find_root().obj if ctx.obj is None else ctx.obj
    path = (obj or {}).get("config")
    if path:
        return build_form(load_config_or_fail(path))
    return build_form(None)


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if ts else "-"


@declarations_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_declarations(ctx: click.Context, as_json: bool = False) -> None:
    """List every declaration that opens with the key; report those that do not."""
    from ..declarations import iter_summary, triage_row

    opened, failures = _opened(ctx)
    if as_json:
        for row in iter_summary(opened):
            click.echo(json.dumps(row, ensure_ascii=True))  # \u escapes: nothing raw reaches the terminal
    else:
        _echo(f"{'REF':<26} {'RECEIVED':<16} {'SCHEMA':<12} {'TIER':<4} {'EXPOSED':<10} {'SYMPT':>5} PRIORITY")
        for o in sorted(opened, key=lambda o: (o.received_at, o.ref)):
            t = triage_row(o)
            _echo(f"{o.ref:<26} {_when(o.received_at):<16} {o.declaration.schema:<12} {t.tier or '-':<4} "
                  f"{t.exposure_date or '-':<10} {len(t.symptoms):>5} {t.priority_name}")
        _echo(f"{len(opened)} declaration(s) opened, {len(failures)} failed")
    if failures:
        sys.exit(1)


@declarations_group.command("triage")
@click.option("--lang", "language", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.pass_context
def triage_command(ctx: click.Context, language: str) -> None:
    """Most urgent first: symptoms, tier and exposure date."""
    from ..declarations import symptom_label, triage

    opened, failures = _opened(ctx)
    for r in triage(opened):
        symptoms = ", ".join(symptom_label(s, language) for s in r.symptoms) or "-"
        code = f" code={r.verification_code}" if r.verification_code else ""
        _echo(f"[{r.priority_name.upper():<6}] {r.ref}  tier={r.tier or '-'} exposed={r.exposure_date or '-'}"
              f"{code}  symptoms: {symptoms}")
    if failures:
        sys.exit(1)


@declarations_group.command("show")
@click.argument("ref")
@click.option("--lang", "language", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.pass_context
def show_command(ctx: click.Context, ref: str, language: str) -> None:
    """Every answer of one declaration."""
    from bluezone.declarations.console import summary_lines

    opened, failures = _opened(ctx, report=False)
    match = [o for o in opened if o.ref == ref]
    if not match:
        why = [f for f in failures if f.ref == ref]
        _report(failures)
        if why:
            fail(f"declaration {ref!r} did not open: {why[0].reason}")
        fail(f"no declaration {ref!r} among those that opened")
    d = match[0].declaration
    _echo(f"{ref}  {d.schema}  declared {d.declared_on}  language {d.language}")
    if d.linkage:
        _echo(f"linked: {json.dumps(d.linkage.to_dict())}")
    form = _form(ctx)
    for line in summary_lines(form, d.answers, language):
        _echo(line)
    for key, value in d.answers.items():  # answers to fields this form does not know (a province's?)
        if key not in form:
            _echo(f"  {key}: {value}")
    if failures:  # about the other items: counted, so nothing is hidden, without drowning the answer
        _echo(f"({len(failures)} other item(s) in the inbox did not open / "
              f"{len(failures)} mục khác không mở được; see 'list')", err=True)


@declarations_group.command("csv")
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
def csv_command(ctx: click.Context, out: str) -> None:
    """Export every opened declaration as CSV (UTF-8, one row each)."""
    import io

    from bluezone.store.secrets import write_private_file

    from ..declarations import write_csv

    if out != "-" and Path(out).exists():
        fail(f"{out} exists; refusing to overwrite")
    opened, failures = _opened(ctx)
    buf = io.StringIO()
    n = write_csv(opened, buf, _form(ctx))
    if out == "-":
        click.echo(buf.getvalue(), nl=False)  # every cell already neutralised by write_csv
    else:
        p = Path(out)
        write_private_file(p, buf.getvalue().encode("utf-8"))  # personal data: mode 0600
        _echo(f"{n} declaration(s) written to {out}", err=True)
    if failures:
        sys.exit(1)


@declarations_group.command("fetch")
@click.option("--server", "url", required=True, help="The authority server's URL.")
@click.option("--token-env", default="BLUEZONE_STAFF_TOKEN", show_default=True,
              help="Environment variable holding a staff token with the 'declarations' role.")
@click.argument("folder", type=click.Path(file_okay=False))
def fetch_command(url: str, token_env: str, folder: str) -> None:
    """Download sealed declarations (ciphertext only) into FOLDER; open them offline."""
    import os

    from ..declarations import SourceError, fetch_from_server

    token = os.environ.get(token_env)
    if not token:
        fail(f"set {token_env} to a staff token with the 'declarations' role")
    try:
        new, total, failures = asyncio.run(fetch_from_server(url, token, folder))
    except (SourceError, OSError) as e:
        fail(str(e))
    except Exception as e:  # aiohttp connection errors
        fail(f"cannot reach {url}: {type(e).__name__}: {e}")
    for f in failures:
        _echo(f"could not download {f.ref}: {f.reason}", err=True)
    _echo(f"{len(new)} new of {total} declaration(s) in {folder}")
    if failures:
        _echo(f"{len(failures)} could not be downloaded / {len(failures)} tờ khai không tải được", err=True)
        sys.exit(1)


@declarations_group.command("delete")
@click.option("--server", "url", required=True, help="The authority server's URL.")
@click.option("--token-env", default="BLUEZONE_STAFF_TOKEN", show_default=True,
              help="Environment variable holding a staff token with the 'declarations' role.")
@click.option("--inbox", "folder", type=click.Path(file_okay=False), default=None,
              help="Also delete the downloaded copy (<receipt>.sealed) in this folder.")
@click.argument("receipt")
def delete_command(url: str, token_env: str, folder: str | None, receipt: str) -> None:
    """Delete one declaration on the server by its RECEIPT (the person asked
    for it), and its downloaded copy with --inbox.

    Xoá một tờ khai trên máy chủ theo mã biên nhận (theo yêu cầu của người khai)."""
    import os

    from ..declarations import SourceError, delete_on_server

    token = os.environ.get(token_env)
    if not token:
        fail(f"set {token_env} to a staff token with the 'declarations' role")
    try:
        found = asyncio.run(delete_on_server(url, token, receipt))
    except SourceError as e:
        fail(str(e))
    except Exception as e:  # aiohttp connection errors
        fail(f"cannot reach {url}: {type(e).__name__}: {e}")
    copy = Path(folder) / f"{receipt}.sealed" if folder else None
    if copy is not None and copy.is_file():
        copy.unlink()
        _echo(f"deleted the downloaded copy {copy} / đã xoá bản đã tải {copy}")
    if not found:
        fail(f"the server has no declaration {receipt} (already deleted or expired) / "
             f"máy chủ không có tờ khai {receipt} (đã xoá hoặc hết hạn)", code=1)
    _echo(f"deleted declaration {receipt} on the server / đã xoá tờ khai {receipt} trên máy chủ")


@declarations_group.command("purge")
@click.option("--days", type=click.IntRange(1, 365), required=True, help="Keep downloads this many days.")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
def purge_command(days: int, folder: str) -> None:
    """Delete downloaded *.sealed files older than --days in FOLDER."""
    from ..declarations import purge_sealed_files

    gone = purge_sealed_files(folder, days)
    click.echo(f"{len(gone)} file(s) deleted")


@declarations_group.command("keygen")
@click.argument("out", type=click.Path(dir_okay=False))
def keygen_command(out: str) -> None:
    """Make the authority's declaration key pair: private key to OUT (0600),
    public key printed for [authority] declaration_public_key."""
    from bluezone.declarations import KeyPair, SealError

    pair = KeyPair.generate()
    try:
        pair.write_private(out)
    except SealError as e:
        fail(str(e))
    click.echo(f'declaration_public_key = "{pair.public_b64}"')
