"""The citizen's reference client: init, status, sync, report.

Check-in (``checkin``/``checkout``), tracing (``trace``) and declarations
(``declare``) come from their plugins and take the same ``--config`` and
``--store`` options. Every message exists in Vietnamese and English; every
error says what to do next.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import click
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .. import status_view
from ..config import ConfigError
from ..device import Device, DeviceError
from ..i18n import _n
from ..models import Tier
from ..store import StoreError, StoreKeyError
from ..transport import TransportError
from .common import fail, with_store_errors

TEXT = {
    "vi": {
        "init_done": "Đã thiết lập điện thoại cho {name}. Tiếp theo: 'bluezone trace' để ghi nhận tiếp xúc, "
                     "'bluezone sync' để kiểm tra cảnh báo.",
        "no_exposure": "Không có phơi nhiễm nào được ghi nhận trong {days} ngày qua.",
        "status_title": "Bluezone — {name}",
        "alert_rows": "Cảnh báo",
        "tier": "Mức", "date": "Ngày tiếp xúc", "until": "Cách ly đến", "how": "Phát hiện qua",
        "ble": "Bluetooth", "venue": "Địa điểm (QR)",
        "sightings": "Lượt ghi nhận Bluetooth lưu trên máy (tối đa {days} ngày)",
        "keys": "Khóa của máy (không bao giờ rời máy trừ khi bạn báo cáo bằng mã)",
        "visits": "Lượt check-in lưu trên máy",
        "checked_in": "Đang check-in từ {since}; tự động check-out lúc {until}",
        "last_sync": "Đồng bộ lần cuối", "never": "chưa bao giờ",
        "syncing": "Đang tải các khóa đã công bố và so khớp trên máy…",
        "sync_done": "Đồng bộ xong: {batches} gói mới, {exposures} phơi nhiễm mới, {alerts} cảnh báo mới.",
        "sync_failed_batches": "{n} gói không tải được hoặc không hợp lệ đã bị bỏ qua (sẽ thử lại lần sau).",
        "sync_failed_feeds": "Không tải được {n} nguồn dữ liệu (sẽ thử lại lần sau).",
        "reporting": "Đang gửi khóa của bạn với mã của cơ quan y tế…",
        "report_done": "Đã gửi {n} khóa ({kind}). Cảm ơn bạn đã giúp cảnh báo những người đã tiếp xúc.",
        "decoy": "Đã gửi lưu lượng ngụy trang (không chứa dữ liệu).",
        "kind_f0": "ca bệnh F0", "kind_f1": "người tiếp xúc F1 (cảnh báo F2)",
        "no_keys": "Máy chưa có khóa nào đã kết thúc để gửi (khóa của hôm nay được gửi từ ngày mai). "
                   "Mã chưa bị dùng: hãy thử lại vào ngày mai.",
    },
    "en": {
        "init_done": "This phone is set up for {name}. Next: 'bluezone trace' records contacts, "
                     "'bluezone sync' checks for warnings.",
        "no_exposure": "No exposure recorded in the last {days} days.",
        "status_title": "Bluezone — {name}",
        "alert_rows": "Warnings",
        "tier": "Tier", "date": "Exposure date", "until": "Isolate until", "how": "Found",
        "ble": "Bluetooth", "venue": "Venue (QR)",
        "sightings": "Bluetooth sightings kept on this phone (at most {days} days)",
        "keys": "This phone's keys (never leave it unless you report with a code)",
        "visits": "Check-ins kept on this phone",
        "checked_in": "Checked in since {since}; automatic checkout at {until}",
        "last_sync": "Last sync", "never": "never",
        "syncing": "Downloading published keys and matching them on this phone…",
        "sync_done": "Sync done: {batches} new batches, {exposures} new exposures, {alerts} new warnings.",
        "sync_failed_batches": "{n} batches could not be downloaded or used and were skipped (tried again next time).",
        "sync_failed_feeds": "{n} feeds could not be downloaded (tried again next time).",
        "reporting": "Sending your keys with the health authority's code…",
        "report_done": "Sent {n} keys ({kind}). Thank you for helping warn the people you met.",
        "decoy": "Sent cover traffic (carries no data).",
        "kind_f0": "F0 case", "kind_f1": "F1 contact (F2 warnings)",
        "no_keys": "This phone has no ended keys to send yet (today's key can be sent from tomorrow). "
                   "The code was not used: try again tomorrow.",
    },
}

#: What to do next for the server's stable error codes.
NEXT_STEP = {
    "invalid_code": ("Mã không đúng. Kiểm tra lại mã cơ quan y tế đã đưa cho bạn.",
                     "The code is not valid. Check the code the health authority gave you."),
    "code_expired": ("Mã đã hết hạn. Xin cơ quan y tế cấp mã mới.",
                     "The code has expired. Ask the health authority for a new one."),
    "code_used": ("Mã đã được dùng. Mỗi mã chỉ dùng một lần; xin mã mới nếu cần.",
                  "The code was already used. Each code works once; ask for a new one if needed."),
    "rate_limited": ("Quá nhiều lần thử. Đợi vài phút rồi thử lại.",
                     "Too many attempts. Wait a few minutes and try again."),
    "network": ("Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.",
                "Cannot reach the server. Check your connection and try again."),
}

store_option = click.option("--store", "store_path", envvar="BLUEZONE_STORE", required=True,
                            type=click.Path(dir_okay=False),
                            help="This phone's device store (or $BLUEZONE_STORE).")
config_option = click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", required=True,
                             type=click.Path(dir_okay=False),
                             help="Deployment TOML (or $BLUEZONE_CONFIG).")


def _t(lang: str, key: str, **kw: Any) -> str:
    return TEXT.get(lang, TEXT["en"])[key].format(**kw)


def _open(config_path: str, store_path: str) -> Device:
    try:
        return Device.open(config_path, store_path)
    except ConfigError as e:
        fail(f"{config_path} has {len(e.problems)} problem(s); run 'bluezone config check {config_path}'")
    except (DeviceError, StoreError, StoreKeyError) as e:
        fail(str(e))


def _fmt_time(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


@click.command("init")
@config_option
@store_option
@click.option("--language", type=click.Choice(["vi", "en"]), default=None,
              help="Language of messages (default: the deployment's first).")
@click.option("--no-f2", is_flag=True, help="Do not show F2 warnings (contacts of contacts).")
def init_command(config_path: str, store_path: str, language: str | None, no_f2: bool) -> None:
    """Set up this phone: create its private store from a deployment file."""
    try:
        device = Device.init(config_path, store_path, language=language, f2_opt_in=not no_f2)
    except ConfigError as e:
        fail(f"{config_path} has {len(e.problems)} problem(s); run 'bluezone config check {config_path}'")
    except (DeviceError, StoreError) as e:
        fail(str(e))
    click.echo(_t(device.language, "init_done", name=device.config.name))
    device.store.close()


@click.command("status")
@config_option
@store_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_store_errors
def status_command(config_path: str, store_path: str, as_json: bool) -> None:
    """Show warnings (none / F2 / F1 / venue) with dates and what to do."""
    device = _open(config_path, store_path)
    lang, store, days = device.language, device.store, device.config.retention_days
    alerts = store.alerts()
    now = store.now()
    current = [v for v in store.visits() if v.departure is None or v.departure > now]
    facts = status_view.collect(store, lang)
    if as_json:
        import json

        click.echo(json.dumps({
            **facts, "sightings": store.sighting_count(), "visits": len(store.visits()),
            "checked_in": bool(current),
        }, ensure_ascii=False))
        store.close()
        return
    console = Console()
    console.rule(_t(lang, "status_title", name=device.config.name))
    if facts["reported"] is not None:
        console.print(Panel(facts["reported"]["message"], style="bold magenta"))
    live = [a for a in alerts if a.state != "withdrawn"]
    if not alerts:
        console.print(Panel(_t(lang, "no_exposure", days=days), style="green"))
    else:
        table = Table(title=_t(lang, "alert_rows"))
        for col in ("tier", "date", "until", "how"):
            table.add_column(_t(lang, col))
        for a in sorted(alerts, key=lambda a: (-int(a.tier), a.exposure_date)):
            tier = a.tier.label if a.state == "active" else f"{a.tier.label} ({status_view.label(a.state, lang)})"
            table.add_row(tier, a.exposure_date.isoformat(), a.isolate_until.isoformat(), _t(lang, a.source)
                          if a.source in ("ble", "venue") else a.source)
        console.print(table)
        for row in facts["alerts"]:
            if row["why"]:
                console.print(f"[{row['tier']} {row['exposure_date']}] {status_view.why_line(row['why'], lang)}",
                              soft_wrap=True, markup=False)
        for a in [a for a in alerts if a.state == "withdrawn"]:
            console.print(Panel(a.message(lang), style="green"))
        if live:
            gravest = max(live, key=lambda a: (int(a.tier), a.exposure_date))
            console.print(Panel(gravest.message(lang), style="bold red" if gravest.tier is Tier.F1 else "yellow"))
    if facts["information"]:
        console.print(status_view.label("info", lang) + ":")
        for row in facts["information"]:
            console.print(f"  [{row['tier']} {row['exposure_date']}] {status_view.why_line(row['why'], lang)}",
                          soft_wrap=True, markup=False)
    console.print(f"{_t(lang, 'sightings', days=days)}: {store.sighting_count()}")
    console.print(f"{_t(lang, 'keys')}: {len(store.own_keys())}")
    console.print(f"{_t(lang, 'visits')}: {len(store.visits())}")
    for v in current:
        console.print(_t(lang, "checked_in", since=_fmt_time(v.arrival),
                         until=_fmt_time(v.auto_checkout or v.departure or v.arrival)))
    last = store.get_meta("last_sync")
    console.print(f"{_t(lang, 'last_sync')}: {_fmt_time(int(last)) if last else _t(lang, 'never')}")
    store.close()


async def _sync(device: Device, decoys: bool) -> Any:
    from ..sync import sync
    from ..upload import next_decoy_delay, send_decoys

    try:
        stats = await sync(device.store, device.config, device.transport(), f2_opt_in=device.f2_opt_in,
                           language=device.language)
        device.store.set_meta("last_sync", str(device.store.now()))
        sent_decoy = False
        if decoys:
            due = int(device.store.get_meta("next_decoy_at", "0") or 0)
            if device.store.now() >= due:
                await send_decoys(device.transport())
                device.store.set_meta("next_decoy_at", str(device.store.now() + int(next_decoy_delay())))
                sent_decoy = True
        return stats, sent_decoy
    finally:  # also on an error: an unclosed session adds warnings after the one error line
        if device._transport is not None:
            await device._transport.close()


@click.command("sync")
@config_option
@store_option
@click.option("--no-decoy", is_flag=True, help="Do not send the scheduled cover traffic this time.")
@with_store_errors
def sync_command(config_path: str, store_path: str, no_decoy: bool) -> None:
    """Download published keys and venue traces, match on this phone, warn."""
    device = _open(config_path, store_path)
    lang = device.language
    console = Console(stderr=True)
    try:
        with console.status(_t(lang, "syncing")):
            stats, sent_decoy = asyncio.run(_sync(device, decoys=not no_decoy))
    except TransportError as e:
        vi, en = NEXT_STEP.get(e.code, (e.message, e.message))
        fail(f"{e.code}: {vi if lang == 'vi' else en}", code=1)
    finally:
        device.store.close()
    if stats.feeds_failed and not stats.batches_processed and not stats.batches_failed:
        # nothing could be reached at all: say why, and what to do, as before
        code = stats.feed_error_code or "network"
        vi, en = NEXT_STEP.get(code, (stats.errors[0], stats.errors[0]))
        fail(f"{code}: {vi if lang == 'vi' else en}", code=1)
    click.echo(_t(lang, "sync_done", batches=stats.batches_processed, exposures=stats.exposures_new,
                  alerts=stats.alerts_new))
    if stats.feeds_failed:
        click.echo(_t(lang, "sync_failed_feeds", n=stats.feeds_failed), err=True)
    if stats.batches_failed:
        click.echo(_t(lang, "sync_failed_batches", n=stats.batches_failed), err=True)
    if sent_decoy:
        click.echo(_t(lang, "decoy"), err=True)


@click.command("report")
@config_option
@store_option
@click.option("--code", required=True, help="The one-time code from the health authority.")
@with_store_errors
def report_command(config_path: str, store_path: str, code: str) -> None:
    """Upload this phone's keys with the health authority's one-time code.

    Only you can start this; nothing on the server can make a phone upload.
    """
    from ..upload import report_own_keys

    device = _open(config_path, store_path)
    lang = device.language

    async def run() -> Any:
        try:
            return await report_own_keys(device.store, device.transport(), code, device.config)
        finally:
            if device._transport is not None:
                await device._transport.close()

    click.echo(_t(lang, "reporting"), err=True)
    try:
        result = asyncio.run(run())
    except TransportError as e:
        vi, en = NEXT_STEP.get(e.code, (e.message, e.message))
        fail(f"{e.code}: {vi if lang == 'vi' else en}", code=1)
    except ValueError:
        fail(_t(lang, "no_keys"), code=1)
    finally:
        device.store.close()
    kind = _t(lang, "kind_f1") if result.report_type == 4 else _t(lang, "kind_f0")
    click.echo(_t(lang, "report_done", n=result.receipt.inserted, kind=kind))
    if result.receipt.revised:
        click.echo(_n("Also updated {n} key sent before, now: {kind}.", "Also updated {n} keys sent before, now: {kind}.",
                      result.receipt.revised, kind=kind).text(lang))


def register(cli: click.Group) -> None:
    for command in (init_command, status_command, sync_command, report_command):
        cli.add_command(command)

