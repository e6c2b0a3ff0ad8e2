"""``bluezone declare`` (citizens) and ``bluezone authority declarations`` (staff).

The citizen's command asks the form's questions in the chosen language (or
reads ``--from-json``), seals the declaration to the authority's key on the
device, hands it to the deployment's submitters and reports each outcome.
The authority's commands open downloaded sealed declarations offline with
the private key, list and triage them, export CSV and purge old downloads.

The ``authority`` group may be defined by another command module; this
module attaches its ``declarations`` group to it when it exists and makes a
bare ``authority`` group otherwise (see :func:`register`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from .common import config_option, fail, load_config_or_fail, with_store_errors


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read {path}: {e}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"{path} is not JSON: {e.msg} at line {e.lineno} column {e.colno}")


def _open_store(path: str | None, config: Any):
    if not path:
        return None
    from .common import open_store_or_fail

    return open_store_or_fail(path, config.retention_days)


@click.command("declare")
@config_option
@click.option("--store", "store_path", envvar="BLUEZONE_STORE", type=click.Path(dir_okay=False),
              help="Device store: offers alerts to link, keeps your copy if you choose.")
@click.option("--lang", "language", type=click.Choice(["vi", "en"]), default=None,
              help="Language of the questions (asked when omitted).")
@click.option("--from-json", "from_json", type=click.Path(allow_dash=True, dir_okay=False), default=None,
              help="Read the answers from a JSON object ('-' for stdin) instead of asking.")
@click.option("--link-alert", is_flag=True, help="With --from-json: link to the most recent F1/F2 alert.")
@click.option("--verification-code", default=None, help="Code the health authority gave you (linked declarations).")
@click.option("--keep-copy/--no-keep-copy", default=None, help="Keep your own copy on this device (encrypted).")
@click.option("--external/--no-external", default=None,
              help="Also send to external submitters (e.g. NCOVI), which read your answers.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the sealed declaration to this file.")
@click.option("--no-submit", is_flag=True, help="Seal only (with --out); do not send.")
@click.option("--schema", "show_schema", is_flag=True, help="Print the deployment's form as JSON and exit.")
@with_store_errors
def declare_command(config_path: str, store_path: str | None, language: str | None, from_json: str | None,
                    link_alert: bool, verification_code: str | None, keep_copy: bool | None,
                    external: bool | None, out_path: str | None, no_submit: bool, show_schema: bool) -> None:
    """Fill in a health declaration; it is sealed to the health authority on this device.

    Khai báo y tế; tờ khai được mã hoá cho cơ quan y tế ngay trên máy này.
    """
    from ..declarations import (
        InvalidDeclaration,
        LinkageError,
        SealError,
        Submission,
        build_form,
        make_declaration,
        public_key_from_config,
        seal,
        submit_all,
    )
    from ..declarations.console import Console, ask_form, choose_language, offer_linkage, summary_lines, ui
    from ..declarations.form import FormError
    from ..declarations.linkage import offers_from_store
    from ..declarations.plugin import DeclarationsSettings

    config = load_config_or_fail(config_path)
    try:
        form = build_form(config)
    except FormError as e:
        fail(f"the declaration form is broken by a plugin: {e}")
    if show_schema:
        click.echo(json.dumps(form.describe(), ensure_ascii=False, indent=2))
        return
    try:
        public_key = public_key_from_config(config)
    except SealError as e:
        fail(str(e))
    settings = config.typed(DeclarationsSettings)
    store = _open_store(store_path, config)
    offers = offers_from_store(store) if store is not None else []
    console = Console(lambda prompt: click.prompt(prompt, default="", show_default=False, prompt_suffix=""),
                      click.echo)
    interactive = from_json is None
    try:
        if from_json is None:  # interactive
            language = language or choose_language(console, list(config.languages))
            click.echo(f"\n{form.title[language]} — {form.schema_tag}")
            linkage = offer_linkage(console, offers, language) if offers else None
            answers = ask_form(console, form, language)
        else:
            language = language or config.languages[0]
            answers = _read_json(from_json)
            linkage = None
            if link_alert:
                if not offers:
                    fail("--link-alert: the store holds no F1/F2 alert to link")
                linkage = offers[0]
        if verification_code is not None:
            if linkage is None:
                fail("--verification-code needs a linked alert (--link-alert or answer yes when asked)")
            linkage = linkage.with_code(verification_code)
    except LinkageError as e:
        fail(str(e))
    try:
        declaration = make_declaration(form, answers, language=language, linkage=linkage)
    except InvalidDeclaration as e:
        for err in e.result.errors:
            _echo(f"  {err.format(language)}", err=True)
        fail(f"{len(e.result.errors)} answer(s) not valid; nothing was sealed or sent")
    if interactive:
        for line in summary_lines(form, declaration.answers, language):
            _echo(line)
    sealed = seal(declaration, public_key)
    if out_path:
        Path(out_path).write_bytes(sealed)
        click.echo(f"sealed: {out_path} ({len(sealed)} bytes)")

    keep = _decide(keep_copy, settings.keep_copy, interactive,
                   lambda: console.yes_no(ui("keep_copy", language), language, default=False))
    if keep and store is None:
        fail("--keep-copy needs --store")
    if keep:
        store.add_declaration(declaration.to_json())
        click.echo("đã lưu bản sao (mã hoá) trên máy" if language == "vi" else "your copy is kept on this device (encrypted)")

    ok = True
    if not no_submit:
        names = list(settings.submitters)
        chosen = []
        for name in names:
            if name == "authority":
                chosen.append(name)
                continue
            agree = external if external is not None else (
                console.yes_no(ui("external", language, name=name), language, default=False) if interactive else False)
            if agree:
                chosen.append(name)
            else:
                click.echo(f"{name}: " + ("bỏ qua (bạn không đồng ý)" if language == "vi" else "skipped (not agreed)"))
        results = asyncio.run(submit_all(Submission(sealed, declaration, form), chosen, config))
        for r in results:  # may quote a remote endpoint's message: neutralised like everything else
            _echo(r.line(language), err=not r.ok)
            ok = ok and r.ok
    if store is not None:
        store.close()
    if not ok:
        sys.exit(1)


def _decide(flag: bool | None, setting: str, interactive: bool, ask) -> bool:
    if flag is not None:
        return flag
    if setting in ("always", "never"):
        return setting == "always"
    return ask() if interactive else False


# --- authority ----------------------------------------------------------------------------


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
    from ..textsafe import safe_terminal_text

    click.echo(safe_terminal_text(text), err=err)


def _report(failures: list) -> None:
    """One stderr line per item that could not be read or opened, then the count."""
    for f in failures:
        _echo(f"could not open {f.ref}: {f.reason}", err=True)
    if failures:
        _echo(f"{len(failures)} item(s) could not be opened / {len(failures)} mục không mở được", err=True)


def _opened(ctx: click.Context, report: bool = True):
    from ..declarations import SealError, load_private_key
    from ..declarations.authority import SourceError, open_sources

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
    from ..declarations import build_form

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
    from ..declarations.authority import iter_summary, triage_row

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
    from ..declarations.authority import symptom_label, triage

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
    from ..declarations.console import summary_lines

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

    from ..declarations.authority import write_csv
    from ..store.secrets import write_private_file

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

    from ..declarations.authority import SourceError, fetch_from_server

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


@declarations_group.command("purge")
@click.option("--days", type=click.IntRange(1, 365), required=True, help="Keep downloads this many days.")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
def purge_command(days: int, folder: str) -> None:
    """Delete downloaded *.sealed files older than --days in FOLDER."""
    from ..declarations.authority import purge_sealed_files

    gone = purge_sealed_files(folder, days)
    click.echo(f"{len(gone)} file(s) deleted")


@declarations_group.command("keygen")
@click.argument("out", type=click.Path(dir_okay=False))
def keygen_command(out: str) -> None:
    """Make the authority's declaration key pair: private key to OUT (0600),
    public key printed for [authority] declaration_public_key."""
    from ..declarations import KeyPair, SealError

    pair = KeyPair.generate()
    try:
        pair.write_private(out)
    except SealError as e:
        fail(str(e))
    click.echo(f'declaration_public_key = "{pair.public_b64}"')


def register(cli: click.Group) -> None:
    cli.add_command(declare_command)
    existing = cli.commands.get("authority")
    if isinstance(existing, click.Group):
        authority = existing
    else:
        authority = click.Group("authority", help="Health-authority tools.")
        cli.add_command(authority)
    authority.add_command(declarations_group)
