"""The citizen's reference client: init, status, sync, report.

Check-in (``checkin``/``checkout``), tracing (``trace``) and declarations
(``declare``) come from their plugins and take the same ``--config`` and
``--store`` options. What a command shows the person is in the language
chosen at ``init`` (one of the deployment's, through the catalogue); every
error says what to do next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .. import status_view
from ..config import ConfigError
from ..device import Device, DeviceError
from ..i18n import N_, Message, _, _n, active_languages, available_languages, text, use_languages
from ..localtime import deployment_zone, show_date, show_moment
from ..matching.alerts import alert_sources
from ..models import ReportType, Tier
from ..own_report import NothingToRevoke
from ..store import StoreError, StoreKeyError
from ..transport import TransportError
from .common import fail, with_store_errors
from .i18n_click import Command

#: What to do next for the server's stable error codes (in the person's language).
NEXT_STEP = {
    "invalid_code": N_("The code is not valid. Check the code the health authority gave you."),
    "code_expired": N_("The code has expired. Ask the health authority for a new one."),
    "code_used": N_("The code was already used. Each code works once; ask for a new one if needed."),
    "rate_limited": N_("Too many attempts. Wait a few minutes and try again."),
    "network": N_("Cannot reach the server. Check your connection and try again."),
}

#: How the core's own exposure sources are shown in the status table.
SOURCE_COLUMN = {"ble": N_("Bluetooth")}

store_option = click.option("--store", "store_path", envvar="BLUEZONE_STORE", required=True,
                            type=click.Path(dir_okay=False),
                            help=N_("This phone's device store (or $BLUEZONE_STORE)."))
config_option = click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", required=True,
                             type=click.Path(dir_okay=False),
                             help=N_("Deployment TOML file (or $BLUEZONE_CONFIG)."))


def _config_problems(config_path: str, e: ConfigError) -> Message:
    return _n("{n} problem in {path}; run 'bluezone config check {path}' for details",
              "{n} problems in {path}; run 'bluezone config check {path}' for details", len(e.problems),
              path=config_path)


def _open(config_path: str, store_path: str) -> Device:
    try:
        return Device.open(config_path, store_path)
    except ConfigError as e:
        fail(_config_problems(config_path, e))
    except (DeviceError, StoreError, StoreKeyError) as e:
        fail(str(e))


def _next_step(code: str, fallback: str, lang: str) -> str:
    """``code: what to do`` in the person's language (the server's own words when the code is new)."""
    return "{}: {}".format(code, text(NEXT_STEP[code], lang) if code in NEXT_STEP else fallback)


def _day(iso: str, lang: str) -> str:
    """A date from the status facts (ISO 8601) as the person's language writes it."""
    return show_date(dt.date.fromisoformat(iso), lang)


@click.command("init", cls=Command, help=N_(
    "Set up this phone: show the privacy notice, ask consent per purpose, create its private store."))
@config_option
@store_option
@click.option("--language", default=None, metavar="LANG",
              help=N_("Language of your messages: one of the deployment's languages (default: its first)."))
@click.option("--no-f2", is_flag=True, help=N_("Do not show F2 warnings (contacts of contacts)."))
@click.option("--consent", "consent_choice", default=None, metavar="all|none|PURPOSE,...",
              help=N_("Consent without questions (scripts): all, none, or the purposes agreed to "
                      "(bluetooth, venues, f2, declarations, submitters). Asked one by one when omitted."))
def init_command(config_path: str, store_path: str, language: str | None, no_f2: bool,
                 consent_choice: str | None) -> None:
    from .privacy_cmd import ask_consents

    if Path(store_path).exists():  # before any question: the answers would be thrown away
        # the person named their language: the refusal is in it alone (not the deployment's pair)
        known = language is not None and language in available_languages()
        with use_languages(*((language,) if known else active_languages())):
            fail(_("{path} already exists; this phone is set up (try 'bluezone status').", path=store_path))
    consents = ask_consents(config_path, consent_choice, language)
    try:
        device = Device.init(config_path, store_path, consents=consents, language=language, f2_opt_in=not no_f2)
    except ConfigError as e:
        fail(_config_problems(config_path, e))
    except (DeviceError, StoreError) as e:
        fail(str(e))
    with use_languages(device.language):
        click.echo(str(_("This phone is set up for {name}. Next: 'bluezone trace' records contacts, "
                         "'bluezone sync' checks for warnings.", name=device.config.name)))
    device.store.close()


@click.command("status", cls=Command, help=N_("Show warnings (none / F2 / F1 / venue) with dates and what to do."))
@config_option
@store_option
@click.option("--json", "as_json", is_flag=True, help=N_("Machine-readable output."))
@with_store_errors
def status_command(config_path: str, store_path: str, as_json: bool) -> None:
    device = _open(config_path, store_path)
    lang, store, days = device.language, device.store, device.config.retention_days
    alerts = store.alerts()
    now = store.now()
    current = [v for v in store.visits() if v.departure is None or v.departure > now]
    facts = status_view.collect(store, lang, deployment_zone(device.config))
    if as_json:
        import json

        click.echo(json.dumps({
            **facts, "sightings": store.sighting_count(), "visits": len(store.visits()),
            "checked_in": bool(current),
        }, ensure_ascii=False))
        store.close()
        return
    with use_languages(lang):
        _print_status(device, alerts, current, days, facts)
    store.close()


def _print_status(device: Device, alerts: list[Any], current: list[Any], days: int,
                  facts: dict[str, Any]) -> None:
    """The status screen, in the person's language (the caller's block)."""
    store, lang = device.store, device.language
    zone = deployment_zone(device.config)
    sources = alert_sources(device.config.pm)
    console = Console()
    console.rule(str(_("Bluezone — {name}", name=device.config.name)))
    if facts["reported"] is not None:
        console.print(Panel(facts["reported"]["message"], style="bold magenta"))
    if not alerts:
        console.print(Panel(str(_("No exposure recorded in the last {days} days.", days=days)), style="green"))
    else:
        table = Table(title=str(_("Warnings")))
        for column in (_("Tier"), _("Exposure date"), _("Isolate until"), _("Found")):
            table.add_column(str(column))
        for a in sorted(alerts, key=lambda a: (-int(a.tier), a.exposure_date)):
            how = SOURCE_COLUMN.get(a.source) or sources.get(a.source)
            tier = a.tier.label if a.state == "active" else f"{a.tier.label} ({status_view.label(a.state, lang)})"
            table.add_row(tier, show_date(a.exposure_date, lang), show_date(a.isolate_until, lang),
                          text(how, lang) if how else a.source)
        console.print(table)
        for row in facts["alerts"]:
            if row["why"]:
                console.print(f"[{row['tier']} {_day(row['exposure_date'], lang)}] "
                              f"{status_view.why_line(row['why'], lang)}",
                              soft_wrap=True, markup=False)
        for a in [a for a in alerts if a.state == "withdrawn"]:
            console.print(Panel(a.message(lang), style="green"))
        live = [a for a in alerts if a.state != "withdrawn"]
        if live:
            gravest = max(live, key=lambda a: (int(a.tier), a.exposure_date))
            console.print(Panel(gravest.message(lang), style="bold red" if gravest.tier is Tier.F1 else "yellow"))
    if facts["information"]:
        console.print(status_view.label("info", lang) + ":")
        for row in facts["information"]:
            console.print(f"  [{row['tier']} {_day(row['exposure_date'], lang)}] "
                          f"{status_view.why_line(row['why'], lang)}",
                          soft_wrap=True, markup=False)
    console.print(str(_("Bluetooth sightings kept on this phone (at most {days} days): {n}", days=days,
                        n=store.sighting_count())))
    console.print(str(_("This phone's keys (never leave it unless you report with a code): {n}",
                        n=len(store.own_keys()))))
    console.print(str(_("Check-ins kept on this phone: {n}", n=len(store.visits()))))
    for v in current:
        console.print(str(_("Checked in since {since}; automatic checkout at {until}", since=show_moment(v.arrival, zone, lang),
                            until=show_moment(v.auto_checkout or v.departure or v.arrival, zone, lang))))
    last = store.get_meta("last_sync")
    if last:
        console.print(str(_("Last sync: {time}", time=show_moment(int(last), zone, lang))))
    else:
        console.print(str(_("Last sync: never")))


async def _sync(device: Device) -> Any:
    from ..sync import sync

    try:
        stats = await sync(device.store, device.config, device.transport(), f2_opt_in=device.f2_opt_in,
                           language=device.language)
        device.store.set_meta("last_sync", str(device.store.now()))
        return stats
    finally:  # also on an error: an unclosed session adds warnings after the one error line
        if device._transport is not None:
            await device._transport.close()


@click.command("sync", cls=Command,
               help=N_("Download published keys and venue traces, match on this phone, warn."))
@config_option
@store_option
# cover traffic has its own schedule ('bluezone cover'); the flag is kept so old scripts still run
@click.option("--no-decoy", is_flag=True, hidden=True)
@click.option("--watch", is_flag=True,
              help=N_("Keep running: sync each time the authority announces a new batch (Ctrl-C stops)."))
@click.option("--max-delay", type=click.FloatRange(0, 3600), default=300, show_default=True, metavar="SECONDS",
              help=N_("With --watch: wait a random time up to this long before each sync, to spread the load."))
@click.option("--poll-seconds", type=click.FloatRange(1, 86400), default=900, show_default=True,
              help=N_("With --watch: how often to sync when the server does not announce batches."))
@with_store_errors
def sync_command(config_path: str, store_path: str, no_decoy: bool, watch: bool, max_delay: float,
                 poll_seconds: float) -> None:
    device = _open(config_path, store_path)
    lang = device.language
    if watch:
        from ..watch import WatchSettings

        _watch(device, WatchSettings(max_delay=max_delay, poll_seconds=poll_seconds))
        return
    console = Console(stderr=True)
    try:
        with console.status(text(N_("Downloading published keys and matching them on this phone…"), lang)):
            stats = asyncio.run(_sync(device))
    except TransportError as e:
        fail(_next_step(e.code, e.message, lang), code=1, lang=lang)
    finally:
        device.store.close()
    if stats.feeds_failed and not stats.batches_processed and not stats.batches_failed:
        # nothing could be reached at all: say why, and what to do, as before
        fail(_next_step(stats.feed_error_code or "network", stats.errors[0], lang), code=1, lang=lang)
    first, *problems = _sync_lines(stats, lang)
    click.echo(first)
    for line in problems:
        click.echo(line, err=True)


def _sync_lines(stats: Any, lang: str) -> list[str]:
    """What one sync did, as the lines the person reads (in ``lang``, plurals right)."""
    with use_languages(lang):
        lines = [" ".join((
            str(_n("Sync done: {n} new batch,", "Sync done: {n} new batches,", stats.batches_processed)),
            str(_n("{n} new exposure,", "{n} new exposures,", stats.exposures_new)),
            str(_n("{n} new warning.", "{n} new warnings.", stats.alerts_new))))]
        if stats.feeds_failed:
            lines.append(str(_n("{n} feed could not be downloaded (tried again next time).",
                                "{n} feeds could not be downloaded (tried again next time).", stats.feeds_failed)))
        if stats.batches_failed:
            lines.append(str(_n(
                "{n} batch could not be downloaded or used and was skipped (tried again next time).",
                "{n} batches could not be downloaded or used and were skipped (tried again next time).",
                stats.batches_failed)))
    return lines


def _watch(device: Device, settings: Any) -> None:
    """``sync --watch``: :class:`bluezone.watch.Watcher` with this phone's sync
    and transport; progress lines in the phone's language, one per line so a
    log keeps them; Ctrl-C or SIGTERM stops it cleanly (exit 0)."""
    import signal

    from ..sync import sync
    from ..watch import Watcher

    lang = device.language

    def say(message: Message) -> None:
        click.echo(text(message, lang))

    async def one_sync() -> None:
        stats = await sync(device.store, device.config, device.transport(), f2_opt_in=device.f2_opt_in,
                           language=lang)
        device.store.set_meta("last_sync", str(device.store.now()))
        for line in _sync_lines(stats, lang):
            click.echo(line)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        # Ctrl-C too, explicitly: a process started in the background by a shell (or by a
        # supervisor) may begin with SIGINT ignored, and Python then installs no handler for it
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        events = getattr(device.transport(), "events", None)
        try:
            await Watcher(one_sync, say, settings, events).run()
        finally:
            if device._transport is not None:
                await device._transport.close()

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        device.store.close()
    say(_("Stopped watching."))


@click.command("report", cls=Command,
               help=N_("Upload this phone's keys with the health authority's one-time code.\n\n"
                       "Only you can start this; nothing on the server can make a phone upload."))
@config_option
@store_option
@click.option("--code", required=True, help=N_("The one-time code from the health authority."))
@click.option("--share-beyond-province/--province-only", "share", default=False,
              help=N_("Also let health authorities of other provinces warn the people you met there "
                      "(default: your keys stay with this province)."))
@with_store_errors
def report_command(config_path: str, store_path: str, code: str, share: bool) -> None:
    from ..upload import report_own_keys

    device = _open(config_path, store_path)
    lang = device.language

    async def run() -> Any:
        try:
            return await report_own_keys(device.store, device.transport(), code, device.config, share)
        finally:
            if device._transport is not None:
                await device._transport.close()

    click.echo(text(N_("Sending your keys with the health authority's code…"), lang), err=True)
    try:
        result = asyncio.run(run())
    except TransportError as e:
        fail(_next_step(e.code, e.message, lang), code=1, lang=lang)
    except NothingToRevoke:
        fail(text(NothingToRevoke.message, lang), code=1, lang=lang)
    except ValueError:
        fail(text(N_("This phone has no ended keys to send yet (today's key can be sent from tomorrow). "
                     "The code was not used: try again tomorrow."), lang), code=1, lang=lang)
    finally:
        device.store.close()
    if result.report_type == int(ReportType.REVOKED):
        click.echo(_n("Your earlier report is withdrawn: {n} key sent before is now marked revoked, and people it "
                      "warned will see the warning withdrawn. This phone no longer counts you as reported.",
                      "Your earlier report is withdrawn: {n} keys sent before are now marked revoked, and people "
                      "they warned will see the warning withdrawn. This phone no longer counts you as reported.",
                      result.receipt.revised).text(lang))
        return
    kind = _("F1 contact (F2 warnings)") if result.report_type == 4 else _("F0 case")
    click.echo(_n("Sent {n} key ({kind}). Thank you for helping warn the people you met.",
                  "Sent {n} keys ({kind}). Thank you for helping warn the people you met.",
                  result.receipt.inserted, kind=kind).text(lang))
    if result.receipt.revised:
        click.echo(_n("Also updated {n} key sent before, now: {kind}.", "Also updated {n} keys sent before, now: {kind}.",
                      result.receipt.revised, kind=kind).text(lang))
    # where the keys go, once they are sent (a refusal above is one error line and nothing else)
    click.echo(text(N_("Your keys are shared with other provinces through the national gateway (you chose "
                       "--share-beyond-province).") if share else
                    N_("Your keys stay with this province's health authority (add --share-beyond-province to "
                       "warn people you met in other provinces too)."), lang))


def register(cli: click.Group) -> None:
    for command in (init_command, status_command, sync_command, report_command):
        cli.add_command(command)

