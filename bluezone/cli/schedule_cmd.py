"""``bluezone schedule``: inspect key schedules (identifiers from a key)."""

from __future__ import annotations

import click

from ..plugins import call_hook, collect_named, process_plugin_set
from ..schedules import ScheduleError, parse_hex
from .common import fail


def installed_schedules() -> dict:
    """The key schedules of the process's active plugins."""
    return collect_named(call_hook(process_plugin_set().pm.hook.bluezone_key_schedules), "key schedule")


@click.group("schedule")
def schedule_group() -> None:
    """Key schedules: turn daily keys into broadcast identifiers."""


@schedule_group.command("list")
def list_schedules() -> None:
    """List installed key schedules."""
    for name, s in sorted(installed_schedules().items()):
        click.echo(f"{name}\tkey {s.key_length} bytes, identifier {s.identifier_length} bytes")


@schedule_group.command("derive")
@click.argument("schedule")
@click.option("--key", "key_hex", required=True, help="The daily key, hex.")
@click.option("--start", "start", required=True, type=int, help="First interval (GAEN ENIN = unix_time // 600).")
@click.option("--count", default=144, show_default=True, type=click.IntRange(0, 100_000),
              help="How many identifiers.")
@click.option("--metadata", "metadata_hex", default=None, help="Metadata to encrypt, hex (gaen: 4 bytes).")
def derive(schedule: str, key_hex: str, start: int, count: int, metadata_hex: str | None) -> None:
    """Print one line per identifier: INTERVAL ID_HEX [AEM_HEX]."""
    schedules = installed_schedules()
    if schedule not in schedules:
        fail(f"unknown schedule {schedule!r}; installed: {', '.join(sorted(schedules))}")
    try:
        key = parse_hex(key_hex, "--key")
        metadata = parse_hex(metadata_hex, "--metadata") if metadata_hex is not None else None
        lines = [
            f"{d.interval} {d.identifier.hex()}" + (f" {d.metadata.hex()}" if metadata is not None else "")
            for d in schedules[schedule].derive(key, start, count, metadata)
        ]
    except ScheduleError as e:
        fail(str(e))
    click.echo("\n".join(lines))


def register(cli: click.Group) -> None:
    cli.add_command(schedule_group)
