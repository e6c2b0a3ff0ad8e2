"""Command line: ``bluezone venue ...`` for venues and authorities, ``bluezone
checkin/checkout/visits`` for citizens. Every error is one bilingual line (exit 2).

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

from bluezone import cli_fail as _fail
from bluezone import safe_terminal_text

from . import messages as msg
from .timeparse import DEFAULT_TZ, parse_duration, parse_time, show_time

config_opt = click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", type=click.Path(dir_okay=False),
                          help="Deployment TOML (or $BLUEZONE_CONFIG).")
store_opt = click.option("--store", "store_path", envvar="BLUEZONE_STORE", type=click.Path(dir_okay=False),
                         default=str(Path("~/.local/share/bluezone/device.db").expanduser()), show_default=True,
                         help="The phone's device store (or $BLUEZONE_STORE).")


def echo(*lines: str, err: bool = False) -> None:
    """Print each argument as one line made safe for the terminal (a newline
    inside a venue name is shown as ``\\x0a``, it cannot start a fake line)."""
    for line in lines:
        click.echo(safe_terminal_text(str(line)), err=err)


def fail(message: str, code: int = 2) -> NoReturn:
    """The one-line error of :func:`bluezone.cli.common.fail`, made safe for the terminal."""
    _fail(safe_terminal_text(message), code)


def _config(path: str | None, required: bool = False) -> Any:
    if not path:
        if required:
            fail("--config is required here (or set BLUEZONE_CONFIG)")
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


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _open_store(path: str, config: Any) -> Iterator[Any]:
    """The phone's existing store, never a new one: only 'bluezone init'
    creates a store and its key (a check-in that made a fresh key would
    split the store in two). Damage found while reading ends in one line."""
    from bluezone import open_store_or_fail, store_errors

    store = open_store_or_fail(path, config.retention_days if config is not None else 14)
    try:
        with store_errors(path):
            yield store
    finally:
        store.close()


# --- venue owner ---------------------------------------------------------------------------


@click.group()
def venue() -> None:
    """Venues: create a QR poster, trace with the authority, keep a visitor log."""


@venue.command("create")
@click.option("--name", required=True, help="Venue name (at most 100 characters).")
@click.option("--address", required=True)
@click.option("--type", "venue_type", default="other", show_default=True,
              help="other, meeting_room, cafeteria, private_event, canteen, library, lecture_room, shop, gym, "
                   "kitchen_area, office_space")
@click.option("--default-stay", default="2h", show_default=True, help="Automatic checkout after (e.g. 2h, 90m).")
@click.option("--event", nargs=2, metavar="START END", help="Only valid between these times (an event).")
@click.option("--room", default="", help="Room (required with --organisation).")
@click.option("--organisation", type=click.Path(dir_okay=False), help="Managed variant: the organisation file.")
@click.option("--authority-key", help="base64 X25519 key of the authority (default: from the config).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@config_opt
def venue_create(name, address, venue_type, default_stay, event, room, organisation, authority_key, out_dir,
                 config_path) -> None:
    """Create a venue: entry URL, A4 poster (PDF and PNG), private tracing code."""
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
    url_base = _settings(config).url_base
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
    validity = msg.both(f"Hiệu lực {show_time(info.start_timestamp, tz)} – {show_time(info.end_timestamp, tz)}",
                        f"valid {show_time(info.start_timestamp, tz)} – {show_time(info.end_timestamp, tz)}")
    text = poster.PosterText(info.description, info.address, info.room, validity)
    try:
        pdf = poster.entry_poster_pdf(url, text)
    except poster.PosterError as e:
        fail(str(e))
    (out / "entry-url.txt").write_text(url + "\n")
    (out / "poster.pdf").write_bytes(pdf)
    (out / "poster.png").write_bytes(poster.pdf_to_png(pdf))
    if organisation:
        org.save(Path(organisation))
        echo(f"Room {room!r} added to {organisation}; trace it with the organisation passphrase.")
    else:
        code_text = base64.urlsafe_b64encode(created.tracing_code).rstrip(b"=").decode()
        _write_private(out / "tracing-code.bin", created.tracing_code)
        _write_private(out / "tracing-code.pdf", poster.tracing_code_pdf("bluezone-trace:" + code_text, text))
        echo(msg.both("Giữ bí mật tracing-code.bin / tracing-code.pdf",
                      "Keep tracing-code.bin / tracing-code.pdf secret"))
    echo(url)
    for f in ("poster.pdf", "poster.png"):
        echo(f"wrote {out / f}")


@venue.command("organisation-init")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False))
@click.option("--authority-key", help="base64 X25519 key of the authority (default: from the config).")
@config_opt
def organisation_init(out_file, authority_key, config_path) -> None:
    """Managed variant: start an organisation (many rooms, one passphrase)."""
    from . import venue as vmod

    config = _config(config_path)
    if Path(out_file).exists():
        fail(f"{out_file} exists; refusing to overwrite an organisation")
    passphrase = vmod.new_passphrase()
    org = vmod.Organisation.create(passphrase, _authority_key(config, authority_key))
    org.save(Path(out_file))
    echo(msg.both("Cụm mật khẩu (chỉ hiện một lần, hãy cất giữ an toàn)",
                  "Passphrase (shown once, store it safely)") + ":")
    echo(passphrase)


def _load_code(tracing_code: str | None, organisation: str | None, room: str | None,
               passphrase_file: str | None):
    from . import venue as vmod

    try:
        if tracing_code:
            raw = Path(tracing_code).read_bytes()
            if raw.startswith(b"bluezone-trace:"):
                from .payload import b64url_decode

                raw = b64url_decode(raw[len(b"bluezone-trace:"):].decode().strip())
            return vmod.load_tracing_code(raw)
        if organisation and room and passphrase_file:
            org = vmod.Organisation.from_json(Path(organisation).read_text())
            return vmod.load_tracing_code(org.tracing_code(room, Path(passphrase_file).read_text().strip()))
    except (vmod.VenueSetupError, OSError, ValueError) as e:
        fail(str(e))
    fail("give --tracing-code FILE, or --organisation FILE --room ROOM --passphrase-file FILE")


@venue.command("trace")
@click.option("--tracing-code", type=click.Path(dir_okay=False), help="The venue's tracing code file.")
@click.option("--organisation", type=click.Path(dir_okay=False))
@click.option("--room")
@click.option("--passphrase-file", type=click.Path(dir_okay=False))
@click.option("--from", "start", required=True, help="Start of the window (e.g. 2026-11-30T09:00).")
@click.option("--to", "end", required=True)
@click.option("--token", required=True, help="The one-time token the health authority gave you.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Kiosk visitor log to release with it.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write the upload to a file instead of sending it.")
@config_opt
def venue_trace(tracing_code, organisation, room, passphrase_file, start, end, token, log_path, output,
                config_path) -> None:
    """Upload pre-tracing keys for a window, authorised by the authority's one-time token.

    The notice phones show is the one the authority chose when it issued the token."""
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

        with VisitorLog(log_path, _authority_key(config, None)) as log:
            paper = [base64.b64encode(s).decode() for s in log.sealed_between(t0, t1)]
    body = {"token": token, "preTraces": base64.b64encode(upload.SerializeToString()).decode(), "paperLog": paper}
    if output:
        Path(output).write_text(json.dumps(body))
        echo(f"wrote {output} ({len(upload.preTraces)} hours)")
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
        fail(f"the authority refused the upload: {e.message} ({e.code})")
    echo(msg.both(f"Đã gửi {receipt.get('traces')} khoá truy vết cho {receipt.get('venue')}",
                  f"uploaded {receipt.get('traces')} trace keys for {receipt.get('venue')}"))
    echo(f"batch {receipt.get('batch')} trace-id {receipt.get('traceId')}")


@venue.command("log")
@click.option("--log", "log_path", required=True, type=click.Path(dir_okay=False), help="The kiosk's log file.")
@click.option("--name", help="Visitor's name (omit to run the kiosk interactively).")
@click.option("--phone", help="Visitor's phone number.")
@click.option("--authority-key", help="base64 X25519 key of the authority (default: from the config).")
@config_opt
def venue_log(log_path, name, phone, authority_key, config_path) -> None:
    """Kiosk for visitors without smartphones: entries sealed to the authority, kept 14 days."""
    from .kiosk import KioskError, VisitorLog

    config = _config(config_path)
    days = _settings(config).kiosk_retention_days
    with VisitorLog(log_path, _authority_key(config, authority_key), retention_days=days) as log:
        if name is not None or phone is not None:
            try:
                log.record(name or "", phone or "")
            except KioskError as e:
                fail(str(e))
            echo(msg.both("Đã ghi. Cảm ơn bạn!", "Recorded. Thank you!"))
            return
        echo(msg.both("Sổ khách (Ctrl-D để kết thúc)", "Visitor log (Ctrl-D to stop)"))
        log.start_purging()  # left on for weeks: entries past retention go while it waits
        while True:
            try:
                n = click.prompt(msg.both("Họ tên", "Name"))
                p = click.prompt(msg.both("Số điện thoại", "Phone"))
            except (click.Abort, EOFError):
                break
            try:
                log.record(n, p)
                echo(msg.both("Đã ghi. Cảm ơn bạn!", "Recorded. Thank you!"))
            except KioskError as e:
                echo(str(e), err=True)


# --- citizens -------------------------------------------------------------------------------


def _names_a_missing_picture(code: str) -> bool:
    """An argument that is clearly a picture's file name (not a URL) but no such file exists."""
    return ("://" not in code and len(code) < 4096 and "\0" not in code
            and code.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")))


@click.command("checkin")
@click.argument("code")
@click.option("--yes", is_flag=True, help="Do not ask to confirm the venue.")
@store_opt
@config_opt
def checkin_cmd(code, yes, store_path, config_path) -> None:
    """Check in at a venue from its URL or a photo/screenshot of its poster (no network)."""
    from . import checkin
    from . import payload as qp

    config = _config(config_path)
    from .qrimage import ImageRefused, is_image_path, venue_url_from_image

    try:
        if is_image_path(code):
            code = venue_url_from_image(code)
        elif _names_a_missing_picture(code):
            fail(msg.both(f"Không có tệp ảnh {code}", f"No such picture file: {code}"))
        info = qp.parse_url(code)
    except (qp.PayloadError, ImageRefused) as e:
        fail(str(e))
    echo(info.title, info.address)
    if not yes and not click.confirm(msg.both("Check-in tại đây?", "Check in here?"), default=True):
        echo(msg.both("Đã huỷ", "Cancelled"))
        return
    tz = _tz(config)
    with _open_store(store_path, config) as store:
        result = checkin.check_in(store, info, default_stay=_settings(config).default_stay_minutes * 60)
    if result.ended is not None:
        echo(msg.both("Đã tự check-out khỏi địa điểm trước", "Checked out of your previous venue"))
    echo(msg.both(f"Đã check-in lúc {show_time(result.visit.arrival, tz)}; tự check-out lúc "
                        f"{show_time(result.visit.auto_checkout, tz)}",  # type: ignore[arg-type]  # a visit just made
                        f"checked in at {show_time(result.visit.arrival, tz)}; automatic checkout at "
                        f"{show_time(result.visit.auto_checkout, tz)}"))  # type: ignore[arg-type]  # a visit just made
    echo(f"visit {result.visit.visit_id}")


@click.command("checkout")
@store_opt
@config_opt
def checkout_cmd(store_path, config_path) -> None:
    """Check out of the current venue now."""
    from . import checkin

    config = _config(config_path)
    with _open_store(store_path, config) as store:
        try:
            v = checkin.check_out(store)
        except checkin.CheckinError as e:
            fail(str(e))
    echo(msg.both(f"Đã check-out lúc {show_time(v.departure, _tz(config))}",  # type: ignore[arg-type]  # a visit just made
                        f"checked out at {show_time(v.departure, _tz(config))}"))  # type: ignore[arg-type]  # a visit just made


@click.group("visits", invoke_without_command=True)
@store_opt
@config_opt
@click.pass_context
def visits_cmd(ctx, store_path, config_path) -> None:
    """Your venue visits (kept on this phone only, deleted after the retention window)."""
    ctx.obj = (store_path, config_path)
    if ctx.invoked_subcommand is not None:
        return
    from . import checkin
    from .notices import render

    config = _config(config_path)
    tz = _tz(config)
    catalogue = _settings(config).notices  # the phone's own texts; a trace carries only the id
    with _open_store(store_path, config) as store:
        now = store.now()
        checkin.close_expired(store, now)
        visits = store.visits(checkin.SOURCE)
        if not visits:
            echo(msg.both("Chưa có lượt check-in nào", "No check-ins yet"))
        for v in visits:
            data = checkin.VisitData.from_bytes(v.data)
            state = "open" if checkin.is_open(v, now) else "done"
            echo(f"{v.visit_id}  {show_time(v.arrival, tz)} → {show_time(checkin.planned_departure(v), tz)}"
                       f"  [{state}]  {data.title}, {data.address}")
            for n in data.notices:
                echo(f"    ⚠ {render(n.get('notice'), catalogue)}")


@visits_cmd.command("edit")
@click.argument("visit_id")
@click.option("--arrival")
@click.option("--departure")
@click.pass_obj
def visits_edit(obj, visit_id, arrival, departure) -> None:
    """Correct the arrival and/or departure time of a visit."""
    from . import checkin

    store_path, config_path = obj
    config = _config(config_path)
    tz = _tz(config)
    try:
        a = parse_time(arrival, tz) if arrival else None
        d = parse_time(departure, tz) if departure else None
    except ValueError as e:
        fail(str(e))
    with _open_store(store_path, config) as store:
        try:
            v = checkin.edit_times(store, visit_id, a, d)
        except checkin.CheckinError as e:
            fail(str(e))
    echo(f"{v.visit_id}  {show_time(v.arrival, tz)} → {show_time(checkin.planned_departure(v), tz)}")


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
            fail(msg.both("Không mở hoặc ghi được tệp", "Cannot open or write a file") + f": {e.strerror or e}{where}")

    cmd.callback = wrapped


def register(cli: click.Group) -> None:
    for cmd in (venue, checkin_cmd, checkout_cmd, visits_cmd):
        _file_errors_as_one_line(cmd)
        cli.add_command(cmd)
