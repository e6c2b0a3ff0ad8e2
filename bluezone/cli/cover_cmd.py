"""``bluezone cover``: send the phone's cover traffic when it is due.

Decoy reports and decoy declarations run on their own random schedule
(:mod:`bluezone.cover`), not as part of ``bluezone sync``: a decoy that
always came right after the feed downloads would be told apart by its
place in the traffic. Run this from cron every few minutes, or keep it
running with ``--loop``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from ..i18n import N_, Message, _, text, use_languages
from .citizen_cmd import _open, config_option, store_option
from .common import with_store_errors
from .i18n_click import Command

#: The kinds of decoy, as they are named to the person.
KIND_NAMES = {"report": N_("report"), "declaration": N_("declaration")}


def _say(sent: list[str]) -> Message:
    """What one pass did, in the person's language (the caller picks it)."""
    if not sent:
        return _("No cover traffic is due yet.")
    return _("Sent cover traffic (carries no data): {kinds}.",
             kinds=", ".join(text(KIND_NAMES[k]) for k in sent))


async def _once(device: Any) -> Any:
    from ..cover import send_due

    try:
        return await send_due(device.store, device.transport())
    finally:
        if device._transport is not None:
            await device._transport.close()
            device._transport = None


@click.command("cover", cls=Command,
               help=N_("Send decoy reports and declarations when they are due (cover traffic)."))
@config_option
@store_option
@click.option("--loop", is_flag=True, help=N_("Keep running and send each decoy when it is due."))
@with_store_errors
def cover_command(config_path: str, store_path: str, loop: bool) -> None:
    device = _open(config_path, store_path)
    try:
        while True:
            result = asyncio.run(_once(device))
            with use_languages(device.language):
                click.echo(str(_say(result.sent)), err=True)
            if not loop:
                return
            asyncio.run(asyncio.sleep(max(1, result.next_due - device.store.now())))
    finally:
        device.store.close()


def register(cli: click.Group) -> None:
    cli.add_command(cover_command)
