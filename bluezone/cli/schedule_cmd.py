"""``bluezone schedule``: inspect key schedules (identifiers from a key)."""

from __future__ import annotations

import click

from ..i18n import N_, _, text
from ..plugins import call_hook, collect_named, process_plugin_set
from ..schedules import ScheduleError, parse_hex
from .common import fail
from .i18n_click import Group


def installed_schedules() -> dict:
    """The key schedules of the process's active plugins."""
    return collect_named(call_hook(process_plugin_set().pm.hook.bluezone_key_schedules), "key schedule")


@click.group("schedule", cls=Group, help=N_("Key schedules: turn daily keys into broadcast identifiers."))
def schedule_group() -> None:
    pass


@schedule_group.command("list", help=N_("List installed key schedules."))
def list_schedules() -> None:
    for name, s in sorted(installed_schedules().items()):
        click.echo(text(_("{name}\tkey {key} bytes, identifier {identifier} bytes", name=name, key=s.key_length,
                         identifier=s.identifier_length)))


@schedule_group.command("derive", help=N_("Print one line per identifier: INTERVAL ID_HEX [AEM_HEX]."))
@click.argument("schedule")
@click.option("--key", "key_hex", required=True, help=N_("The daily key, hex."))
@click.option("--start", "start", required=True, type=int,
              help=N_("First interval (GAEN ENIN = unix_time // 600)."))
@click.option("--count", default=144, show_default=True, type=click.IntRange(0, 100_000),
              help=N_("How many identifiers."))
@click.option("--metadata", "metadata_hex", default=None, help=N_("Metadata to encrypt, hex (gaen: 4 bytes)."))
def derive(schedule: str, key_hex: str, start: int, count: int, metadata_hex: str | None) -> None:
    schedules = installed_schedules()
    if schedule not in schedules:
        fail(_("unknown schedule {name!r}; installed: {names}", name=schedule, names=", ".join(sorted(schedules))))
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
