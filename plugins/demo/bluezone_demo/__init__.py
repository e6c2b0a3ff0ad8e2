"""``bluezone demo``: a simulated province day, end to end over real HTTP.

This plugin composes the others (BLE simulator, QR check-in, transports) as a
province deployment would, and replaces the core's two-phone demo command.
Imports stay inside the command so the CLI starts fast.
"""

from __future__ import annotations

from bluezone.hookspecs import hookimpl


@hookimpl
def bluezone_register_commands(cli):
    from .cli import demo_command

    cli.add_command(demo_command)
