"""``bluezone demo``: a simulated province day, end to end over real HTTP.

This plugin composes the others (BLE simulator, QR check-in, transports) as a
province deployment would. Its ``demo`` command replaces the core's placeholder,
which only says to install this plugin.
Imports stay inside the command so the CLI starts fast.
"""

from __future__ import annotations

from bluezone import hookimpl


@hookimpl
def bluezone_register_commands(cli):
    from .cli import demo_command

    cli.add_command(demo_command)
