"""The citizen's rights on the command line: consent, settings, privacy, my-data, forget.

* ``bluezone privacy`` — the processing notice (purposes, data, recipients,
  retention, controller and contact) from the deployment's ``[privacy]``;
* ``bluezone consent [show|give|withdraw PURPOSE]`` — the per-purpose
  decisions, changeable at any time; a withdrawal stops that processing and
  deletes what it had collected;
* ``bluezone settings [--f2 on|off] [--language LANG]`` — show or change
  the person's choices (extend :data:`SETTINGS` to add one); a language is
  one of the deployment's;
* ``bluezone my-data [--json] [--out FILE]`` — everything the store holds;
* ``bluezone forget [--yes]`` — delete the store and its key.

``bluezone init`` asks for consent through :func:`ask_consents` (or takes
``--consent``). Every text goes through the message catalogue: a person's
own output in their language, help in the deployment's first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .. import consent
from ..config import Config
from ..i18n import N_, Message, _, _n, text
from .common import fail, load_config_or_fail, with_store_errors
from .i18n_click import Command, Group

STORE_HELP = N_("This phone's device store (or $BLUEZONE_STORE).")
CONFIG_HELP = N_("Deployment TOML file (or $BLUEZONE_CONFIG).")
JSON_HELP = N_("Machine-readable output.")
store_option = click.option("--store", "store_path", envvar="BLUEZONE_STORE", required=True,
                            type=click.Path(dir_okay=False), help=STORE_HELP)
config_option = click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", required=True,
                             type=click.Path(dir_okay=False), help=CONFIG_HELP)


def offered_language(config: Config, language: str) -> str:
    """``language`` if the deployment offers it, else a one-line refusal."""
    if language not in config.languages:
        fail(_("Language {value!r} is not offered here ({offered}).", value=language,
               offered=", ".join(config.languages)))
    return language


def _in(message: Message, lang: str) -> str:
    """A person's own text: in the language they chose."""
    return text(message, lang)


def _notice_version(config: Config) -> str:
    from ..privacy.notice import PrivacySettings

    return config.typed(PrivacySettings).notice_version


# -- the notice -------------------------------------------------------------------------


def notice_lines(config: Config, lang: str) -> list[str]:
    """The processing notice as text lines in ``lang``."""
    from ..privacy.notice import PrivacySettings, controller_lines, purposes

    p = config.typed(PrivacySettings)
    lines = [_in(_("Personal data processing notice — {name}", name=config.name), lang), ""]
    lines += [f"{label}: {value}" for label, value in controller_lines(p, lang)]
    for n in purposes(config.retention_days):
        lines += ["", f"[{n.purpose}] {consent.describe(n.purpose, lang)}",
                  "  " + _in(_("Data: {data}", data=n.data), lang),
                  "  " + _in(_("Recipients: {recipients}", recipients=n.recipients), lang),
                  "  " + _in(_("Kept for: {retention}", retention=n.retention), lang)]
    lines += ["", _in(_(
        "You may be informed, agree or refuse, withdraw consent (bluezone consent), see and export your data "
        "(bluezone my-data), delete it (bluezone forget), and complain to the data controller above."), lang)]
    return lines


@click.command("privacy", cls=Command, help=N_(
    "Show the processing notice: purposes, data, recipients, retention, controller and contact."))
@config_option
@click.option("--language", default=None, metavar="LANG",
              help=N_("Language: one of the deployment's languages (default: its first)."))
@click.option("--json", "as_json", is_flag=True, help=N_("Every deployment language, machine-readable."))
def privacy_command(config_path: str, language: str | None, as_json: bool) -> None:
    from ..privacy.notice import PrivacySettings, notice_dict

    config = load_config_or_fail(config_path)
    if language is not None:
        offered_language(config, language)
    if as_json:
        click.echo(json.dumps(notice_dict(config.typed(PrivacySettings), config.retention_days, config.name,
                                          config.languages), ensure_ascii=False, indent=2))
        return
    for line in notice_lines(config, language or config.languages[0]):
        click.echo(line)


# -- consent at init ---------------------------------------------------------------------


def ask_consents(config_path: str, choice: str | None, language: str | None) -> dict[str, bool]:
    """The decisions ``init`` records: from ``--consent`` when given, else asked
    purpose by purpose after the notice. No answer (end of input) is no
    consent: init stops and says how to answer without questions."""
    if choice is not None:
        try:
            return consent.parse_choice(choice)
        except consent.ConsentError as e:
            fail(str(e))
    config = load_config_or_fail(config_path)
    lang = offered_language(config, language) if language else config.languages[0]  # before showing anything
    for line in notice_lines(config, lang):
        click.echo(line)
    click.echo("")
    out = {}
    try:
        for purpose in consent.PURPOSES:
            out[purpose] = click.confirm(_in(_("Agree: {what}?", what=_(consent.DESCRIPTIONS[purpose])), lang),
                                         default=False)
    except click.Abort:
        fail(_("No answer, so nothing was set up. Answer the questions, or give --consent all, --consent none "
               "or --consent {example}.", example="bluetooth,venues"))
    return out


# -- consent afterwards --------------------------------------------------------------------


def _open_device(config_path: str, store_path: str) -> Any:
    from .citizen_cmd import _open

    return _open(config_path, store_path)


#: What a withdrawal deletes, by purpose: the data only that purpose collected.
_WITHDRAWAL_DELETES: dict[str, list[str]] = {
    "bluetooth": ["DELETE FROM sightings", "DELETE FROM exposure_windows"],
    "venues": ["DELETE FROM visits"],
    "f2": ["DELETE FROM exposure_windows WHERE tier = 1"],  # Tier.F2
    "declarations": ["DELETE FROM declarations"],
    "submitters": [],
}


def decide(device: Any, purpose: str, granted: bool) -> int:
    """Record one decision; a withdrawal also deletes what that purpose
    collected (same transaction). Returns how many rows were deleted."""
    store = device.store
    deleted = 0
    with store.transaction() as conn:
        consent.record(store, {purpose: granted}, _notice_version(device.config))
        if not granted:
            for sql in _WITHDRAWAL_DELETES[purpose]:
                deleted += conn.execute(sql).rowcount
    return deleted


def _show_consents(device: Any, as_json: bool) -> None:
    lang = device.language
    found = consent.decisions(device.store)
    if as_json:
        click.echo(json.dumps({p: (found[p].as_dict() if p in found else None) for p in consent.PURPOSES},
                              ensure_ascii=False))
        return
    for p in consent.PURPOSES:
        d = found.get(p)
        if d is None:
            state = _in(_("not decided (processing as before)"), lang)
        else:
            state = _in(_("agreed") if d.granted else _("refused"), lang) \
                + f" (v{d.notice_version}, {_fmt(d.decided_at)})"
        click.echo(f"{p}: {state} — {consent.describe(p, lang)}")


def _fmt(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


#: The consent commands take --config/--store before or after the subcommand
#: (``consent --store S withdraw venues`` and ``consent withdraw venues --store S``).
_where_config = click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", default=None,
                             type=click.Path(dir_okay=False), help=CONFIG_HELP)
_where_store = click.option("--store", "store_path", envvar="BLUEZONE_STORE", default=None,
                            type=click.Path(dir_okay=False), help=STORE_HELP)


@click.group("consent", cls=Group, invoke_without_command=True, help=N_(
    "Your consent per purpose: show (default), give PURPOSE, withdraw PURPOSE."))
@_where_config
@_where_store
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def consent_group(ctx: click.Context, config_path: str | None, store_path: str | None, as_json: bool) -> None:
    ctx.obj = {"config": config_path, "store": store_path}
    if ctx.invoked_subcommand is None:
        config_path, store_path = _where(ctx, None, None)
        device = _open_device(config_path, store_path)
        try:
            _show_consents(device, as_json)
        finally:
            device.store.close()


def _where(ctx: click.Context, config_path: str | None, store_path: str | None) -> tuple[str, str]:
    """The deployment file and store: the subcommand's options, else the group's."""
    given = ctx.find_root().obj if ctx.obj is None else ctx.obj
    config_path = config_path or (given or {}).get("config")
    store_path = store_path or (given or {}).get("store")
    if not config_path or not store_path:
        raise click.UsageError(str(_("Give --config and --store (or set $BLUEZONE_CONFIG and $BLUEZONE_STORE).")),
                               ctx)
    return config_path, store_path


def _change(ctx: click.Context, purpose: str, granted: bool, config_path: str | None, store_path: str | None) -> None:
    device = _open_device(*_where(ctx, config_path, store_path))
    lang = device.language
    try:
        deleted = decide(device, purpose, granted)
    finally:
        device.store.close()
    if granted:
        click.echo(_in(_("Recorded: you agree to '{purpose}'.", purpose=purpose), lang))
    else:
        click.echo(_in(_n("Consent to '{purpose}' withdrawn: this processing has stopped; {n} related record "
                          "deleted.", "Consent to '{purpose}' withdrawn: this processing has stopped; {n} related "
                          "records deleted.", deleted, purpose=purpose), lang))


_purpose_arg = click.argument("purpose", type=click.Choice(list(consent.PURPOSES)))


@consent_group.command("give", cls=Command, help=N_("Agree to PURPOSE."))
@_purpose_arg
@_where_config
@_where_store
@click.pass_context
@with_store_errors
def consent_give(ctx: click.Context, purpose: str, config_path: str | None, store_path: str | None) -> None:
    _change(ctx, purpose, True, config_path, store_path)


@consent_group.command("withdraw", cls=Command, help=N_(
    "Withdraw consent to PURPOSE: the processing stops and its data is deleted."))
@_purpose_arg
@_where_config
@_where_store
@click.pass_context
@with_store_errors
def consent_withdraw(ctx: click.Context, purpose: str, config_path: str | None, store_path: str | None) -> None:
    _change(ctx, purpose, False, config_path, store_path)


# -- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One choice a person can see and change with ``bluezone settings``.
    Add one here to extend the command (it becomes an option). ``choices``
    None takes any value and leaves checking it to ``write`` (a language:
    the deployment's, known only at run time); ``help`` is a msgid (N_)."""

    name: str
    choices: tuple[str, ...] | None
    help: str
    read: Callable[[Any], str]
    write: Callable[[Any, str], None]


def _write_language(device: Any, value: str) -> None:
    device.store.set_meta("language", offered_language(device.config, value))


SETTINGS: list[Setting] = [
    Setting("f2", ("on", "off"), N_("F2 warnings (contacts of contacts); off also stops F2 matching."),
            lambda d: "on" if consent.f2_wanted(d.store, d.config) else "off",
            lambda d, v: (decide(d, "f2", v == "on"), None)[1]),
    Setting("language", None, N_("Language of your messages: one of the deployment's languages."),
            lambda d: d.language, _write_language),
]


def _settings_command() -> click.Command:
    @with_store_errors
    def run(config_path: str, store_path: str, as_json: bool, **changes: str | None) -> None:
        device = _open_device(config_path, store_path)
        try:
            changed = []
            for s in SETTINGS:
                value = changes.get(s.name)
                if value is not None:
                    s.write(device, value)
                    changed.append(s.name)
            values = {s.name: s.read(device) for s in SETTINGS}
            if as_json:
                click.echo(json.dumps(values))
                return
            lang = device.language
            for name in changed:
                click.echo(_in(_("Changed {name} to {value}.", name=name, value=values[name]), lang))
            for s in SETTINGS:
                click.echo(f"{s.name}: {values[s.name]}")
        finally:
            device.store.close()

    params: list[click.Parameter] = [
        click.Option(["--config", "config_path"], envvar="BLUEZONE_CONFIG", required=True,
                     type=click.Path(dir_okay=False), help=CONFIG_HELP),
        click.Option(["--store", "store_path"], envvar="BLUEZONE_STORE", required=True,
                     type=click.Path(dir_okay=False), help=STORE_HELP),
        click.Option(["--json", "as_json"], is_flag=True, help=JSON_HELP),
    ]
    params += [click.Option([f"--{s.name}", s.name], default=None, help=s.help,
                            type=click.Choice(s.choices) if s.choices else None,
                            metavar=None if s.choices else s.name.upper())
               for s in SETTINGS]
    return Command("settings", callback=run, params=params,
                   help=N_("Show or change your choices (F2, language), at any time."))


settings_command = _settings_command()


# -- my data, forget -----------------------------------------------------------------------


@click.command("my-data", cls=Command, help=N_(
    "Everything this phone holds about you: a summary, or the full export as JSON."))
@config_option
@store_option
@click.option("--json", "as_json", is_flag=True, help=N_("Print the full export as JSON."))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help=N_("Write the full JSON export to this file (mode 0600)."))
@with_store_errors
def my_data_command(config_path: str, store_path: str, as_json: bool, out_path: str | None) -> None:
    from ..privacy.mydata import export, summary_text

    device = _open_device(config_path, store_path)
    try:
        data = export(device.store, device.config.name)
        lang = device.language
    finally:
        device.store.close()
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if as_json:
        click.echo(text)
        return
    if out_path:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.chmod(out_path, 0o600)
    for line in summary_text(data, lang):
        click.echo(line)
    if out_path:
        click.echo(_in(_("Full export: {path}", path=out_path), lang))


@click.command("forget", cls=Command, help=N_(
    "Delete everything on this phone: the store and its key. Cannot be undone."))
@store_option
@click.option("--yes", is_flag=True, help=N_("Do not ask for confirmation."))
def forget_command(store_path: str, yes: bool) -> None:
    from ..privacy.forget import forget
    from ..store.secrets import default_key_file

    if not Path(store_path).exists() and not default_key_file(Path(store_path)).exists():
        fail(_("No device store at {path}; nothing to delete.", path=store_path))
    try:
        sure = yes or click.confirm(str(_("Delete all data and the key of {path}? This cannot be undone.",
                                          path=store_path)), default=False)
    except click.Abort:  # no answer is no
        sure = False
    if not sure:
        fail(_("Nothing was deleted (confirm, or give --yes)."), code=1)
    done = forget(store_path)
    click.echo(str(_n("Deleted {n} file; this phone holds no Bluezone data any more.",
                      "Deleted {n} files; this phone holds no Bluezone data any more.", len(done.removed))))


def register(cli: click.Group) -> None:
    for command in (privacy_command, consent_group, settings_command, my_data_command, forget_command):
        cli.add_command(command)
