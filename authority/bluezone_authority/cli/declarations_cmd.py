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
from typing import Any

import click

from bluezone.cli.common import fail, load_config_or_fail
from bluezone.cli.i18n_click import Group
from bluezone.i18n import N_, Message, _, _n, active_languages, text


@click.group("declarations", cls=Group, invoke_without_command=True,
             help=N_("Sealed health declarations: fetch, then open offline — list (default), show, triage, csv; "
                     "purge, keygen."))
@click.option("--key", "key_path", type=click.Path(dir_okay=False), default=None,
              help=N_("The authority's declaration private key file (offline)."))
@click.option("--inbox", "sources", multiple=True, type=click.Path(),
              help=N_("Downloaded sealed declarations: files or folders (repeatable)."))
@click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", type=click.Path(dir_okay=False), default=None,
              help=N_("Deployment TOML (only to know province-added fields)."))
@click.pass_context
def declarations_group(ctx: click.Context, key_path: str | None, sources: tuple[str, ...],
                       config_path: str | None) -> None:
    ctx.obj = {"key": key_path, "sources": list(sources), "config": config_path}
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_declarations)


def _echo(line: str | Message = "", err: bool = False) -> None:
    """Print one line of the authority's tools. Declarations come from anyone
    holding the public key, so every line is neutralised: terminal escapes,
    bidi overrides and other invisible characters are shown as ``\\x..``.
    A Message on stdout is the operator's own output: in the deployment's
    first language; on stderr (a problem report) in all of them."""
    from bluezone.textsafe import safe_terminal_text

    shown = str(line) if err or not isinstance(line, Message) else text(line)
    click.echo(safe_terminal_text(shown), err=err)


def _report(failures: list) -> None:
    """One stderr line per item that could not be read or opened, then the count."""
    for f in failures:
        _echo(_("could not open {ref}: {reason}", ref=f.ref, reason=f.reason), err=True)
    if failures:
        _echo(_n("{n} item could not be opened", "{n} items could not be opened", len(failures)), err=True)


def _opened(ctx: click.Context, report: bool = True):
    from bluezone.declarations import SealError, load_private_key

    from ..declarations import SourceError, open_sources

    obj = ctx.find_root().obj if ctx.obj is None else ctx.obj
    if not obj.get("key"):
        fail(_("--key FILE is needed to open declarations"))
    sources = list(obj.get("sources", []))
    if not sources:
        fail(_("give the downloaded declarations with --inbox PATH"))
    try:
        key = load_private_key(obj["key"])
        opened, failures = open_sources(sources, key, _form(ctx))
    except (SealError, SourceError) as e:
        fail(e.args[0] if e.args else str(e))
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


@declarations_group.command("list", help=N_("List every declaration that opens with the key; report those that do not."))
@click.option("--json", "as_json", is_flag=True, help=N_("One JSON object per line."))
@click.pass_context
def list_declarations(ctx: click.Context, as_json: bool = False) -> None:
    from ..declarations import iter_summary, triage_row

    opened, failures = _opened(ctx)
    if as_json:
        for row in iter_summary(opened):
            click.echo(json.dumps(row, ensure_ascii=True))  # \u escapes: nothing raw reaches the terminal
    else:
        heads = [text(h) for h in (N_("REF"), N_("RECEIVED"), N_("SCHEMA"), N_("TIER"), N_("EXPOSED"), N_("SYMPT"),
                                    N_("PRIORITY"))]
        _echo("{:<26} {:<16} {:<12} {:<4} {:<10} {:>5} {}".format(*heads))
        for o in sorted(opened, key=lambda o: (o.received_at, o.ref)):
            t = triage_row(o)
            _echo(f"{o.ref:<26} {_when(o.received_at):<16} {o.declaration.schema:<12} {t.tier or '-':<4} "
                  f"{t.exposure_date or '-':<10} {len(t.symptoms):>5} {t.priority_name}")
        _echo(_n("{n} declaration opened, {failed} failed", "{n} declarations opened, {failed} failed", len(opened),
                 failed=len(failures)))
    if failures:
        sys.exit(1)


def _language_option(command: Any) -> Any:
    """``--lang``: one of the deployment's languages (default: its first)."""
    return click.option("--lang", "language", default=None, callback=_check_language,
                        help=N_("Language of the answers' labels: one of the deployment's languages "
                                "(default: the first)."))(command)


def _check_language(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    languages = active_languages()
    if value is None:
        return languages[0]
    if value not in languages:
        raise click.BadParameter(str(_("'{language}' is not one of the deployment's languages: {languages}",
                                       language=value, languages=", ".join(languages))))
    return value


@declarations_group.command("triage", help=N_("Most urgent first: symptoms, tier and exposure date."))
@_language_option
@click.pass_context
def triage_command(ctx: click.Context, language: str) -> None:
    from ..declarations import symptom_label, triage

    opened, failures = _opened(ctx)
    for r in triage(opened):
        symptoms = ", ".join(symptom_label(s, language) for s in r.symptoms) or "-"
        code = " code={}".format(r.verification_code) if r.verification_code else ""
        _echo(_("[{priority}] {ref}  tier={tier} exposed={exposed}{code}  symptoms: {symptoms}",
                priority="{:<6}".format(r.priority_name.upper()), ref=r.ref, tier=r.tier or "-",
                exposed=r.exposure_date or "-", code=code, symptoms=symptoms))
    if failures:
        sys.exit(1)


@declarations_group.command("show", help=N_("Every answer of one declaration."))
@click.argument("ref")
@_language_option
@click.pass_context
def show_command(ctx: click.Context, ref: str, language: str) -> None:
    from bluezone.declarations.console import summary_lines

    opened, failures = _opened(ctx, report=False)
    match = [o for o in opened if o.ref == ref]
    if not match:
        why = [f for f in failures if f.ref == ref]
        _report(failures)
        if why:
            fail(_("declaration '{ref}' did not open: {reason}", ref=ref, reason=why[0].reason))
        fail(_("no declaration '{ref}' among those that opened", ref=ref))
    d = match[0].declaration
    _echo(_("{ref}  {schema}  declared {date}  language {language}", ref=ref, schema=d.schema, date=d.declared_on,
            language=d.language))
    if d.linkage:
        _echo(_("linked: {linkage}", linkage=json.dumps(d.linkage.to_dict())))
    form = _form(ctx)
    for line in summary_lines(form, d.answers, language):
        _echo(line)
    for key, value in d.answers.items():  # answers to fields this form does not know (a province's?)
        if key not in form:
            _echo(f"  {key}: {value}")
    if failures:  # about the other items: counted, so nothing is hidden, without drowning the answer
        _echo(_n("({n} other item in the inbox did not open; see 'list')",
                 "({n} other items in the inbox did not open; see 'list')", len(failures)), err=True)


@declarations_group.command("csv", help=N_("Export every opened declaration as CSV (UTF-8, one row each)."))
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
def csv_command(ctx: click.Context, out: str) -> None:
    import io

    from bluezone.store.secrets import write_private_file

    from ..declarations import write_csv

    if out != "-" and Path(out).exists():
        fail(_("{path} exists; refusing to overwrite", path=out))
    opened, failures = _opened(ctx)
    buf = io.StringIO()
    n = write_csv(opened, buf, _form(ctx))
    if out == "-":
        click.echo(buf.getvalue(), nl=False)  # every cell already neutralised by write_csv
    else:
        p = Path(out)
        write_private_file(p, buf.getvalue().encode("utf-8"))  # personal data: mode 0600
        _echo(text(_n("{n} declaration written to {path}", "{n} declarations written to {path}", n, path=out)),
              err=True)
    if failures:
        sys.exit(1)


@declarations_group.command("fetch", help=N_("Download sealed declarations (ciphertext only) into FOLDER; open "
                                             "them offline."))
@click.option("--server", "url", required=True, help=N_("The authority server's URL."))
@click.option("--token-env", default="BLUEZONE_STAFF_TOKEN", show_default=True,
              help=N_("Environment variable holding a staff token with the 'declarations' role."))
@click.argument("folder", type=click.Path(file_okay=False))
def fetch_command(url: str, token_env: str, folder: str) -> None:
    import os

    from ..declarations import SourceError, fetch_from_server

    token = os.environ.get(token_env)
    if not token:
        fail(_("set {variable} to a staff token with the 'declarations' role", variable=token_env))
    try:
        new, total, failures = asyncio.run(fetch_from_server(url, token, folder))
    except SourceError as e:
        fail(e.args[0])
    except OSError as e:
        fail(str(e))
    except Exception as e:  # aiohttp connection errors
        fail(_("cannot reach {url}: {error}", url=url, error="{}: {}".format(type(e).__name__, e)))
    for f in failures:
        _echo(_("could not download {ref}: {reason}", ref=f.ref, reason=f.reason), err=True)
    _echo(_n("{new} new of {n} declaration in {folder}", "{new} new of {n} declarations in {folder}", total,
             new=len(new), folder=folder))
    if failures:
        _echo(_n("{n} declaration could not be downloaded", "{n} declarations could not be downloaded",
                 len(failures)), err=True)
        sys.exit(1)


@declarations_group.command("delete", help=N_(
    "Delete one declaration on the server by its RECEIPT (the person asked for it), and its downloaded copy "
    "with --inbox."))
@click.option("--server", "url", required=True, help=N_("The authority server's URL."))
@click.option("--token-env", default="BLUEZONE_STAFF_TOKEN", show_default=True,
              help=N_("Environment variable holding a staff token with the 'declarations' role."))
@click.option("--inbox", "folder", type=click.Path(file_okay=False), default=None,
              help=N_("Also delete the downloaded copy (<receipt>.sealed) in this folder."))
@click.argument("receipt")
def delete_command(url: str, token_env: str, folder: str | None, receipt: str) -> None:
    import os

    from ..declarations import SourceError, delete_on_server

    token = os.environ.get(token_env)
    if not token:
        fail(_("set {variable} to a staff token with the 'declarations' role", variable=token_env))
    try:
        found = asyncio.run(delete_on_server(url, token, receipt))
    except SourceError as e:
        fail(str(e))
    except Exception as e:  # aiohttp connection errors
        fail(_("cannot reach {url}: {reason}", url=url, reason=type(e).__name__ + ": " + str(e)))
    copy = Path(folder) / f"{receipt}.sealed" if folder else None
    if copy is not None and copy.is_file():
        copy.unlink()
        _echo(_("deleted the downloaded copy {path}", path=copy))
    if not found:
        fail(_("the server has no declaration {receipt} (already deleted or expired)", receipt=receipt), code=1)
    _echo(_("deleted declaration {receipt} on the server", receipt=receipt))


@declarations_group.command("purge", help=N_("Delete downloaded *.sealed files older than --days in FOLDER."))
@click.option("--days", type=click.IntRange(1, 365), required=True, help=N_("Keep downloads this many days."))
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
def purge_command(days: int, folder: str) -> None:
    from ..declarations import purge_sealed_files

    gone = purge_sealed_files(folder, days)
    click.echo(text(_n("{n} file deleted", "{n} files deleted", len(gone))))


@declarations_group.command("keygen", help=N_("Make the authority's declaration key pair: private key to OUT "
                                              "(0600), public key printed for [authority] declaration_public_key."))
@click.argument("out", type=click.Path(dir_okay=False))
def keygen_command(out: str) -> None:
    from bluezone.declarations import KeyPair, SealError

    pair = KeyPair.generate()
    try:
        pair.write_private(out)
    except SealError as e:
        fail(e.args[0] if e.args else str(e))
    click.echo(f'declaration_public_key = "{pair.public_b64}"')
