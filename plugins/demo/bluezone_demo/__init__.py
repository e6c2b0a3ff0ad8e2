"""``bluezone demo``: a simulated province day, end to end over real HTTP.

This plugin composes the others (BLE simulator, QR check-in, transports) as a
province deployment would. Its ``demo`` command replaces the core's placeholder,
which only says to install this plugin.
Imports stay inside the command so the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path

from bluezone import MessageCatalogue, hookimpl

#: This plugin's texts (gettext domain ``bluezone_demo``), added to the one catalogue.
CATALOGUE = MessageCatalogue("bluezone_demo", Path(__file__).parent / "locale")


@hookimpl
def bluezone_message_catalogues() -> list[MessageCatalogue]:
    return [CATALOGUE]


@hookimpl
def bluezone_register_commands(cli):
    from .cli import demo_command

    cli.add_command(demo_command)
