"""Command line: ``bluezone venue ...`` for venues and authorities, ``bluezone
checkin/checkout/visits`` for citizens. Every error is one line in the
deployment's languages (exit 2); what a citizen's own commands report is in
the language they chose at ``bluezone init``.

Venue names and addresses come from QR codes anyone can print, and receipts
from the network: everything this module prints goes through :func:`echo` /
:func:`fail`, which neutralise terminal escapes, bidi overrides and
zero-width characters (:func:`bluezone.textsafe.safe_terminal_text`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from bluezone import CliCommand as Command
from bluezone import CliGroup as Group
from bluezone import cli_fail as _fail
from bluezone import safe_terminal_text
from bluezone.i18n import N_, Message, _, _n, active_languages, text, use_languages

from .timeparse import DEFAULT_TZ, parse_duration, parse_time, show_time

config_opt = click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", type=click.Path(dir_okay=False),
                          help=N_("Deployment TOML (or $BLUEZONE_CONFIG)."))
# No default path: a check-in goes into the store 'bluezone init' made, like every citizen command.
store_opt = click.option("--store", "store_path", envvar="BLUEZONE_STORE", type=click.Path(dir_okay=False),
                         help=N_("The phone's device store (or $BLUEZONE_STORE)."))


def echo(*lines: str | Message, err: bool = False) -> None:
    """Print each argument as one line made safe for the terminal (a newline
    inside a venue name is shown as ``\\x0a``, it cannot start a fake line)."""
    for line in lines:
        click.echo(safe_terminal_text(str(line)), err=err)


def fail(message: str | Message, code: int = 2) -> NoReturn:
    """The one-line error of :func:`bluezone.cli.common.fail`, made safe for the terminal."""
    _fail(safe_terminal_text(str(message)), code)


def _person_language(store: Any, config: Any) -> str:
    """The language the phone's owner chose at ``bluezone init`` (their own
    texts are shown in it alone)."""
    chosen = store.get_meta("language")
    if chosen:
        return str(chosen)
    return config.languages[0] if config is not None else active_languages()[0]


def _config(path: str | None, required: bool = False) -> Any:
    if not path:
        if required:
            fail(_("--config is required here (or set BLUEZONE_CONFIG)"))
        return None
    from bluezone import load_config_or_fail

    return load_config_or_fail(path)


def _tz(config: Any) -> str:
    return config.data["deployment"].get("timezone", DEFAULT_TZ) if config is not None else DEFAULT_TZ


def _settings(config: Any):
    from .settings import CheckinSettings, SettingsError

    try:
        return CheckinSettings.from_config(config)
    except SettingsError as e:
        fail(str(e))


def _authority_key(config: Any, option: str | None) -> bytes:
    from .settings import SettingsError, b64_key

    try:
        return b64_key(option, "--authority-key") if option else _settings(config).require_public_key()
    except SettingsError as e:
        fail(str(e))


def _kiosk_key(config: Any, option: str | None) -> bytes:
    """The key kiosks seal visitors' names and phones to: its own pair, whose
    secret the authority keeps offline (not the venue-tracing key, whose
    secret the server holds)."""
    from .settings import SettingsError, b64_key

    try:
        return b64_key(option, "--kiosk-key") if option else _settings(config).require_kiosk_key()
    except SettingsError as e:
        fail(str(e))


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _open_store(path: str | None, config: Any) -> Iterator[Any]:
    """The phone's existing store, never a new one: only 'bluezone init'
    creates a store and its key (a check-in that made a fresh key would
    split the store in two). Damage found while reading ends in one line."""
    from bluezone import open_store_or_fail, store_errors

    if not path:
        fail(_("This phone is not set up: give --store (or set BLUEZONE_STORE) with the store "
               "'bluezone init' created"))
    store = open_store_or_fail(path, config.retention_days if config is not None else 14)
    try:
        # from here on every text is in the language the person chose at init, alone
        chosen = store.get_meta("language")
        with store_errors(path), use_languages(*((str(chosen),) if chosen else active_languages())):
            yield store
    finally:
        store.close()


RECORDED = _("Recorded. Thank you!")


# --- venue owner ---------------------------------------------------------------------------


@click.group(cls=Group, help=N_("Venues: create a QR poster, trace with the authority, keep a visitor log."))
def venue() -> None:
    """The venue owner's commands (help text above: translated where shown)."""


AUTHORITY_KEY_HELP = N_("base64 X25519 key of the authority (default: from the config).")


@venue.command("create", help=N_("Create a venue: entry URL, A4 poster (PDF and PNG), private tracing code."))
@click.option("--name", required=True, help=N_("Venue name (at most 100 characters)."))
@click.option("--address", required=True, help=N_("Venue address (at most 100 characters)."))
@click.option("--type", "venue_type", default="other", show_default=True,
              help=N_("The kind of venue: other, meeting_room, cafeteria, private_event, canteen, library, "
                      "lecture_room, shop, gym, kitchen_area or office_space."))
@click.option("--default-stay", default="2h", show_default=True, help=N_("Automatic checkout after (e.g. 2h, 90m)."))
@click.option("--event", nargs=2, metavar="START END", help=N_("Only valid between these times (an event)."))
@click.option("--room", default="", help=N_("Room (required with --organisation)."))
@click.option("--organisation", type=click.Path(dir_okay=False), help=N_("Managed variant: the organisation file."))
@click.option("--authority-key", help=AUTHORITY_KEY_HELP)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help=N_("Folder to write into."))
@config_opt
def venue_create(name, address, venue_type, default_stay, event, room, organisation, authority_key, out_dir,
                 config_path) -> None:
    """Everything a venue needs, written to one folder; texts in the deployment's languages."""
    from . import poster
    from . import venue as vmod

    config = _config(config_path)
    tz = _tz(config)
    try:
        stay = parse_duration(default_stay)
        start = end = None
        if event:
            start, end = parse_time(event[0], tz), parse_time(event[1], tz)
    except ValueError as e:
        fail(str(e))
    spec = vmod.VenueSpec(name, address, venue_type, stay, start, end, room)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from .settings import SettingsError

    try:
        url_base = _settings(config).require_url_base()
    except SettingsError as e:
        fail(str(e))
    try:
        if organisation:
            org = vmod.Organisation.from_json(Path(organisation).read_text())
            payload = org.add_room(spec)
            created = vmod.CreatedVenue(payload, b"")
        else:
            created = vmod.create_venue(spec, _authority_key(config, authority_key))
    except (vmod.VenueSetupError, OSError) as e:
        fail(str(e))
    url = created.url(url_base)
    from .payload import parse_payload

    info = parse_payload(created.payload, check_time=False)
    validity = _("Valid {start} – {end}", start=show_time(info.start_timestamp, tz),
                 end=show_time(info.end_timestamp, tz))
    shown = poster.PosterText(info.description, info.address, info.room, str(validity))
    try:
        pdf = poster.entry_poster_pdf(url, shown)
    except poster.PosterError as e:
        fail(str(e))
    (out / "entry-url.txt").write_text(url + "\n")
    (out / "poster.pdf").write_bytes(pdf)
    (out / "poster.png").write_bytes(poster.pdf_to_png(pdf))
    if organisation:
        org.save(Path(organisation))
        echo(_("Room {room} added to {organisation}; trace it with the organisation passphrase.",
               room=repr(room), organisation=organisation))
    else:
        code_text = base64.urlsafe_b64encode(created.tracing_code).rstrip(b"=").decode()
        _write_private(out / "tracing-code.bin", created.tracing_code)
        _write_private(out / "tracing-code.pdf", poster.tracing_code_pdf("bluezone-trace:" + code_text, shown))
        echo(_("Keep {files} secret", files="tracing-code.bin / tracing-code.pdf"))
    echo(url)
    for f in ("poster.pdf", "poster.png"):
        echo(_("Wrote {path}", path=out / f))


@venue.command("organisation-init", help=N_("Managed variant: start an organisation (many rooms, one passphrase)."))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help=N_("The organisation file to create."))
@click.option("--authority-key", help=AUTHORITY_KEY_HELP)
@config_opt
def organisation_init(out_file, authority_key, config_path) -> None:
    """Many rooms under one passphrase, shown once."""
    from . import venue as vmod

    config = _config(config_path)
    if Path(out_file).exists():
        fail(_("{path} exists; refusing to overwrite an organisation", path=out_file))
    passphrase = vmod.new_passphrase()
    org = vmod.Organisation.create(passphrase, _authority_key(config, authority_key))
    org.save(Path(out_file))
    echo(_("Passphrase (shown once, store it safely):"))
    echo(passphrase)


def _load_code(tracing_code: str | None, organisation: str | None, room: str | None,
               passphrase_file: str | None):
    from . import venue as vmod

    try:
        if tracing_code:
            from .payload import PayloadError
            from .qrimage import ImageRefused, tracing_code_bytes

            try:  # the .bin file, the printed PDF, or a photo of the print
                raw = tracing_code_bytes(tracing_code)
            except (PayloadError, ImageRefused) as e:
                fail(str(e))
            return vmod.load_tracing_code(raw)
        if organisation and room and passphrase_file:
            org = vmod.Organisation.from_json(Path(organisation).read_text())
            return vmod.load_tracing_code(org.tracing_code(room, Path(passphrase_file).read_text().strip()))
    except (vmod.VenueSetupError, OSError, ValueError) as e:
        fail(str(e))
    fail(_("Give --tracing-code FILE, or --organisation FILE --room ROOM --passphrase-file FILE"))


@venue.command("trace", help=N_("Upload pre-tracing keys for a window, authorised by the authority's one-time "
                                  "token.\n\nThe notice phones show is the one the authority chose when it issued "
                                  "the token."))
@click.option("--tracing-code", type=click.Path(dir_okay=False),
              help=N_("The venue's tracing code: tracing-code.bin, the printed tracing-code.pdf, or a photo of it."))
@click.option("--organisation", type=click.Path(dir_okay=False), help=N_("Managed variant: the organisation file."))
@click.option("--room", help=N_("Managed variant: the room to trace."))
@click.option("--passphrase-file", type=click.Path(dir_okay=False),
              help=N_("Managed variant: a file holding the organisation passphrase."))
@click.option("--from", "start", required=True, help=N_("Start of the window (e.g. 2026-11-30T09:00)."))
@click.option("--to", "end", required=True, help=N_("End of the window (e.g. 2026-11-30T17:00)."))
@click.option("--token", required=True, help=N_("The one-time token the health authority gave you."))
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help=N_("Kiosk visitor log to release with it."))
@click.option("--output", type=click.Path(dir_okay=False),
              help=N_("Write the upload to a file instead of sending it."))
@config_opt
def venue_trace(tracing_code, organisation, room, passphrase_file, start, end, token, log_path, output,
                config_path) -> None:
    """The owner's half of a venue trace; the authority's token says which venue, window and notice."""
    import json

    from . import tracing

    config = _config(config_path, required=output is None)
    tz = _tz(config)
    try:
        t0, t1 = parse_time(start, tz), parse_time(end, tz)
    except ValueError as e:
        fail(str(e))
    code = _load_code(tracing_code, organisation, room, passphrase_file)
    try:
        if config is not None:  # the server refuses the same (invalid_window); say so before uploading
            import time

            tracing.check_window(t0, t1, now=int(time.time()), retention_days=config.retention_days)
        upload = tracing.owner_pretraces(code, t0, t1)
    except tracing.TraceError as e:
        fail(str(e))
    paper: list[str] = []
    if log_path:
        from .kiosk import VisitorLog

        with VisitorLog(log_path, _kiosk_key(config, None)) as log:
            paper = [base64.b64encode(s).decode() for s in log.sealed_between(t0, t1)]
    body = {"token": token, "preTraces": base64.b64encode(upload.SerializeToString()).decode(), "paperLog": paper}
    if output:
        Path(output).write_text(json.dumps(body))
        echo(_n("Wrote {path} ({n} hour)", "Wrote {path} ({n} hours)", len(upload.preTraces), path=output))
        return
    from bluezone import TransportError, make_transport

    async def send() -> dict:
        transport = make_transport(config.authority_url, config)
        try:
            return await transport.post_json("/v1/venue-traces/upload", body)
        finally:
            await transport.close()

    try:
        receipt = asyncio.run(send())
    except TransportError as e:
        fail(_("The authority refused the upload: {reason} ({code})", reason=e.message, code=e.code))
    echo(_("Uploaded {n} trace keys for {venue}", n=receipt.get("traces"), venue=receipt.get("venue")))
    echo(_("Batch {batch}, trace id {trace_id}", batch=receipt.get("batch"), trace_id=receipt.get("traceId")))


@venue.command("log", help=N_("Kiosk for visitors without smartphones: entries sealed to the authority's offline "
                                "key, kept 14 days."))
@click.option("--log", "log_path", required=True, type=click.Path(dir_okay=False), help=N_("The kiosk's log file."))
@click.option("--name", help=N_("Visitor's name (omit to run the kiosk interactively)."))
@click.option("--phone", help=N_("Visitor's phone number."))
@click.option("--kiosk-key", "kiosk_key",
              help=N_("base64 X25519 public key for visitor logs (default: [qr_checkin] kiosk_public_key)."))
@config_opt
def venue_log(log_path, name, phone, kiosk_key, config_path) -> None:
    """The paper log's replacement; visitors of any language read it, so it speaks all the deployment's."""
    from .kiosk import KioskError, VisitorLog

    config = _config(config_path)
    days = _settings(config).kiosk_retention_days
    with VisitorLog(log_path, _kiosk_key(config, kiosk_key), retention_days=days) as log:
        if name is not None or phone is not None:
            try:
                log.record(name or "", phone or "")
            except KioskError as e:
                fail(str(e))
            echo(RECORDED)
            return
        echo(_("Visitor log (Ctrl-D to stop)"))
        log.start_purging()  # left on for weeks: entries past retention go while it waits
        while True:
            try:
                n = click.prompt(str(_("Name")))
                p = click.prompt(str(_("Phone")))
            except (click.Abort, EOFError):
                break
            try:
                log.record(n, p)
                echo(RECORDED)
            except KioskError as e:
                echo(str(e), err=True)


@venue.command("paper-log", cls=Command, help=N_(
    "Authority, offline: open released kiosk entries (the JSON answers of "
    "GET /v1/authority/venue-traces/paper-log/ID) with the kiosk-log key."))
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False),
              help=N_("The kiosk-log secret key file, kept offline by the authority."))
@config_opt
def venue_paper_log(sources, key_path, config_path) -> None:
    import json

    import nacl.exceptions

    from bluezone import SealError, load_private_key

    from .kiosk import open_entries

    config = _config(config_path, required=False)
    tz = _tz(config) if config is not None else DEFAULT_TZ
    try:
        secret = bytes(load_private_key(key_path))
    except SealError as e:
        fail(str(e))
    opened = failed = 0
    for source in sources:
        try:
            answer = json.loads(Path(source).read_text(encoding="utf-8"))
            sealed = [base64.b64decode(s, validate=True) for s in answer["sealed"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            echo(_("{source}: not a paper-log answer ({reason})", source=source, reason=type(e).__name__), err=True)
            failed += 1
            continue
        for i, item in enumerate(sealed):
            try:
                [entry] = open_entries([item], secret)
            except (nacl.exceptions.CryptoError, ValueError, KeyError):
                echo(_("{source} #{n}: does not open with this key", source=source, n=i + 1), err=True)
                failed += 1
                continue
            echo(f"{show_time(entry.arrival, tz)}  {entry.name}  {entry.phone}")
            opened += 1
    echo(_("{opened} entries opened, {failed} could not be", opened=opened, failed=failed), err=failed > 0)
    if failed:
        raise SystemExit(1)


# --- citizens -------------------------------------------------------------------------------


def _names_a_missing_picture(code: str) -> bool:
    """An argument that is clearly a picture's file name (not a URL) but no such file exists."""
    return ("://" not in code and len(code) < 4096 and "\0" not in code
            and code.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")))


@click.command("checkin", cls=Command, help=N_("Check in at a venue from its URL or a photo/screenshot of its poster (no "
                                   "network)."))
@click.argument("code")
@click.option("--yes", is_flag=True, help=N_("Do not ask to confirm the venue."))
@store_opt
@config_opt
def checkin_cmd(code, yes, store_path, config_path) -> None:
    """A check-in never touches the network: the QR code holds all a phone needs."""
    from . import checkin
    from . import payload as qp

    config = _config(config_path)
    from .qrimage import ImageRefused, is_image_path, venue_url_from_image

    tz = _tz(config)
    with _open_store(store_path, config) as store:  # first: what it says is in the phone's language
        lang = _person_language(store, config)
        try:
            if is_image_path(code):
                code = venue_url_from_image(code)
            elif _names_a_missing_picture(code):
                fail(_("No such picture file: {path}", path=code))
            info = qp.parse_url(code)
        except (qp.PayloadError, ImageRefused) as e:
            fail(str(e))
        echo(info.title, info.address)
        if not yes and not click.confirm(text(_("Check in here?"), lang), default=True):
            echo(text(_("Cancelled"), lang))
            return
        try:
            result = checkin.check_in(store, info, default_stay=_settings(config).default_stay_minutes * 60)
        except checkin.CheckinError as e:  # consent to venue check-in withdrawn
            fail(str(e))
    if result.ended is not None:
        echo(text(_("Checked out of your previous venue"), lang))
    echo(text(_("Checked in at {arrival}; automatic checkout at {checkout}",
                arrival=show_time(result.visit.arrival, tz, lang),
                checkout=show_time(result.visit.auto_checkout, tz, lang)), lang))  # type: ignore[arg-type]  # a visit just made
    echo(text(_("Visit {visit_id}", visit_id=result.visit.visit_id), lang))


@click.command("checkout", cls=Command, help=N_("Check out of the current venue now."))
@store_opt
@config_opt
def checkout_cmd(store_path, config_path) -> None:
    """Ends the open visit and re-encrypts its records for the real departure."""
    from . import checkin

    config = _config(config_path)
    with _open_store(store_path, config) as store:
        lang = _person_language(store, config)
        try:
            v = checkin.check_out(store)
        except checkin.CheckinError as e:
            fail(str(e))
    echo(text(_("Checked out at {departure}", departure=show_time(v.departure, _tz(config), lang)),  # type: ignore[arg-type]  # a visit just made
              lang))


@click.group("visits", cls=Group, invoke_without_command=True,
             help=N_("Your venue visits (kept on this phone only, deleted after the retention window)."))
@store_opt
@config_opt
@click.pass_context
def visits_cmd(ctx, store_path, config_path) -> None:
    """The person's own diary of visits, in their language."""
    ctx.obj = (store_path, config_path)
    if ctx.invoked_subcommand is not None:
        return
    from . import checkin
    from .notices import render

    config = _config(config_path)
    tz = _tz(config)
    catalogue = _settings(config).notices  # the phone's own texts; a trace carries only the id
    with _open_store(store_path, config) as store:
        lang = _person_language(store, config)
        now = store.now()
        checkin.close_expired(store, now)
        visits = store.visits(checkin.SOURCE)
        if not visits:
            echo(text(_("No check-ins yet"), lang))
        for v in visits:
            data = checkin.VisitData.from_bytes(v.data)
            state = _("open") if checkin.is_open(v, now) else _("done")
            echo("{}  {} → {}  [{}]  {}, {}".format(v.visit_id, show_time(v.arrival, tz),
                                                  show_time(checkin.planned_departure(v), tz), text(state, lang),
                                                  data.title, data.address))
            for n in data.notices:
                echo("    ⚠ " + render(n.get("notice"), catalogue, lang))


@visits_cmd.command("edit", help=N_("Correct the arrival and/or departure time of a visit."))
@click.argument("visit_id")
@click.option("--arrival", help=N_("The arrival time (e.g. 2026-11-30T09:00)."))
@click.option("--departure", help=N_("The departure time (e.g. 2026-11-30T11:00)."))
@click.pass_obj
def visits_edit(obj, visit_id, arrival, departure) -> None:
    """People forget to check out; the records are re-encrypted for the corrected times."""
    from . import checkin

    store_path, config_path = obj
    config = _config(config_path)
    tz = _tz(config)
    with _open_store(store_path, config) as store:  # errors in the phone's language
        lang = _person_language(store, config)
        try:
            a = parse_time(arrival, tz) if arrival else None
            d = parse_time(departure, tz) if departure else None
        except ValueError as e:
            fail(str(e))
        try:
            v = checkin.edit_times(store, visit_id, a, d)
        except checkin.CheckinError as e:
            fail(str(e))
    echo(f"{v.visit_id}  {show_time(v.arrival, tz, lang)} → {show_time(checkin.planned_departure(v), tz, lang)}")


def _short(name: Any, limit: int = 80) -> str:
    text = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _file_errors_as_one_line(cmd: click.Command) -> None:
    """Wrap ``cmd`` (and its subcommands): a file that cannot be opened or
    written — a path too long for the system, a missing folder, no permission —
    ends the command with one line instead of a traceback."""
    import functools

    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _file_errors_as_one_line(sub)
    callback = cmd.callback
    if callback is None:
        return

    @functools.wraps(callback)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except OSError as e:
            where = f" ({_short(e.filename)})" if e.filename else ""
            fail(_("Cannot open or write a file: {reason}{where}", reason=e.strerror or e, where=where))

    cmd.callback = wrapped


def register(cli: click.Group) -> None:
    for cmd in (venue, checkin_cmd, checkout_cmd, visits_cmd):
        _file_errors_as_one_line(cmd)
        cli.add_command(cmd)
