"""``bluezone declare``: a citizen's health declaration, sealed on the device.

The citizen's command asks the form's questions in the chosen language (or
reads ``--from-json``), seals the declaration to the authority's key on the
device, hands it to the deployment's submitters and reports each outcome.
The authority's side (``bluezone authority declarations``: open sealed
declarations offline, triage, CSV, purge) ships with ``bluezone-authority``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ..i18n import N_, _, _n, text
from .common import config_option, fail, load_config_or_fail, with_store_errors
from .i18n_click import Command


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(_("cannot read {path}: {reason}", path=path, reason=e))
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        fail(_("{path} is not JSON: {detail} at line {line} column {column}", path=path, detail=e.msg,
               line=e.lineno, column=e.colno))


def _open_store(path: str | None, config: Any):
    if not path:
        return None
    from .common import open_store_or_fail

    return open_store_or_fail(path, config.retention_days)


@click.command("declare", cls=Command, help=N_(
    "Fill in a health declaration; it is sealed to the health authority on this device."))
@config_option
@click.option("--store", "store_path", envvar="BLUEZONE_STORE", type=click.Path(dir_okay=False),
              help=N_("Device store: offers alerts to link, keeps your copy if you choose."))
@click.option("--lang", "language", default=None, metavar="LANG",
              help=N_("Language of the questions: one of the deployment's languages (asked when omitted)."))
@click.option("--from-json", "from_json", type=click.Path(allow_dash=True, dir_okay=False), default=None,
              help=N_("Read the answers from a JSON object ('-' for stdin) instead of asking."))
@click.option("--link-alert", is_flag=True, help=N_("With --from-json: link to the most recent F1/F2 alert."))
@click.option("--verification-code", default=None,
              help=N_("Code the health authority gave you (linked declarations)."))
@click.option("--keep-copy/--no-keep-copy", default=None, help=N_("Keep your own copy on this device (encrypted)."))
@click.option("--external/--no-external", default=None,
              help=N_("Also send to external submitters (e.g. NCOVI), which read your answers."))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help=N_("Also write the sealed declaration to this file."))
@click.option("--no-submit", is_flag=True, help=N_("Seal only (with --out); do not send."))
@click.option("--schema", "show_schema", is_flag=True, help=N_("Print the deployment's form as JSON and exit."))
@with_store_errors
def declare_command(config_path: str, store_path: str | None, language: str | None, from_json: str | None,
                    link_alert: bool, verification_code: str | None, keep_copy: bool | None,
                    external: bool | None, out_path: str | None, no_submit: bool, show_schema: bool) -> None:
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
    from ..declarations.console import (
        Cancelled,
        Console,
        ask_form,
        choose_language,
        offer_linkage,
        summary_lines,
        ui,
    )
    from ..declarations.form import FormError
    from ..declarations.linkage import offers_from_store
    from ..declarations.plugin import DeclarationsSettings

    config = load_config_or_fail(config_path)
    try:
        form = build_form(config)
    except FormError as e:
        fail(_("the declaration form is broken by a plugin: {detail}", detail=e))
    if show_schema:
        click.echo(json.dumps(form.describe(), ensure_ascii=False, indent=2))
        return
    try:
        public_key = public_key_from_config(config)
    except SealError as e:
        fail(str(e))
    if language is not None and language not in config.languages:
        fail(_("--lang {language!r} is not one of this deployment's languages ({offered})", language=language,
               offered=", ".join(config.languages)))
    settings = config.typed(DeclarationsSettings)
    store = _open_store(store_path, config)
    from .. import consent

    if store is not None and not consent.allowed(store, "declarations"):
        store.close()
        fail(str(consent.ConsentWithdrawn("declarations")))
    submitters_agreed = store is None or consent.allowed(store, "submitters")
    offers = offers_from_store(store) if store is not None else []
    console = Console(_prompt, click.echo)
    interactive = from_json is None
    # the phone's language, chosen at 'bluezone init': never asked again
    language = language or (_phone_language(store, config) if store is not None else None)
    try:
        if from_json is None:  # interactive
            language = language or choose_language(console, list(config.languages))
            click.echo("\n{} — {}".format(text(form.title, language), form.schema_tag))
            click.echo(ui("cancel_hint", language))
            linkage = offer_linkage(console, offers, language) if offers else None
            answers = ask_form(console, form, language)
        else:
            language = language or config.languages[0]
            answers = _read_json(from_json)
            linkage = None
            if link_alert:
                if not offers:
                    fail(_("--link-alert: the store holds no F1/F2 alert to link"))
                linkage = offers[0]
        if verification_code is not None:
            if linkage is None:
                fail(_("--verification-code needs a linked alert (--link-alert or answer yes when asked)"))
            linkage = linkage.with_code(verification_code)
    except LinkageError as e:
        fail(str(e))
    except Cancelled as e:
        if store is not None:
            store.close()
        _cancelled(e, language or config.languages[0])
    try:
        declaration = make_declaration(form, answers, language=language, linkage=linkage)
    except InvalidDeclaration as e:
        for err in e.result.errors:
            _echo("  " + (err.shown(language) if interactive else err.format(language)), err=True)
        fail(_n("{n} answer is not valid; nothing was sealed or sent",
                "{n} answers are not valid; nothing was sealed or sent", len(e.result.errors)))
    if interactive:
        for line in summary_lines(form, declaration.answers, language):
            _echo(line)
    sealed = seal(declaration, public_key)
    if out_path:
        Path(out_path).write_bytes(sealed)
        click.echo(_("sealed: {path} ({size} bytes)", path=out_path, size=len(sealed)).text(language))

    try:
        keep = _decide(keep_copy, settings.keep_copy, interactive,
                       lambda: console.yes_no(ui("keep_copy", language), language, default=False))
    except Cancelled as e:
        if store is not None:
            store.close()
        _cancelled(e, language)
    if keep and store is None:
        fail(_("--keep-copy needs --store"))
    if keep:
        store.add_declaration(declaration.to_json())
        click.echo(text(N_("your copy is kept on this device (encrypted)"), language))

    ok = True
    if not no_submit:
        names = list(settings.submitters)
        chosen = []
        for name in names:
            if name == "authority":
                chosen.append(name)
                continue
            try:
                agree = submitters_agreed and (external if external is not None else (
                    console.yes_no(ui("external", language, name=name), language, default=False) if interactive
                    else False))
            except Cancelled as e:
                if store is not None:
                    store.close()
                _cancelled(e, language)
            if agree:
                chosen.append(name)
            else:
                click.echo(_("{name}: skipped (not agreed)", name=name).text(language))
        results = asyncio.run(submit_all(Submission(sealed, declaration, form), chosen, config))
        for r in results:  # may quote a remote endpoint's message: neutralised like everything else
            _echo(r.line(language), err=not r.ok)
            ok = ok and r.ok
    if store is not None:
        store.close()
    if not ok:
        sys.exit(1)


def _prompt(prompt: str) -> str:
    """One answer from the terminal; Ctrl-C and Ctrl-D end it as a cancel
    (click's own "Aborted!" would be the one English word on the screen)."""
    try:
        return click.prompt(prompt, default="", show_default=False, prompt_suffix="")
    except click.Abort:
        raise EOFError from None


def _phone_language(store: Any, config: Any) -> str | None:
    chosen = store.get_meta("language")
    return str(chosen) if chosen and chosen in config.languages else None


def _cancelled(e: Any, language: str) -> NoReturn:
    """The person stopped: say so in their language, exit without sealing or sending."""
    if e.reason == "consent":
        click.echo(text(N_("Without consent the declaration cannot be sent; nothing was kept or sent."), language))
    else:
        click.echo(text(N_("Declaration cancelled; nothing was kept or sent."), language))
    sys.exit(1)


def _decide(flag: bool | None, setting: str, interactive: bool, ask) -> bool:
    if flag is not None:
        return flag
    if setting in ("always", "never"):
        return setting == "always"
    return ask() if interactive else False


def _echo(text: str = "", err: bool = False) -> None:
    """Print one line that may quote someone else's text (a remote endpoint's
    message, an answer). Every line is neutralised: terminal escapes,
    bidi overrides and other invisible characters are shown as ``\\x..``."""
    from ..textsafe import safe_terminal_text

    click.echo(safe_terminal_text(text), err=err)


def register(cli: click.Group) -> None:
    cli.add_command(declare_command)
