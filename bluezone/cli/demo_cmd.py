"""``bluezone demo`` when the demo plugin is not installed.

The demo is the ``bluezone-demo`` plugin (``plugins/demo``): a simulated
province day over real HTTP that composes the other plugins. It registers
its own ``demo`` command, which replaces this one. The core keeps only this
placeholder, so the command exists on every install and says how to get the
real thing instead of running a second, smaller matcher of its own.
"""

from __future__ import annotations

import click

from ..i18n import N_, Message
from .common import fail
from .i18n_click import Command

INSTALL_HINT = N_("the demo is the bluezone-demo plugin, which is not installed (or is disabled); install it "
                  "with 'pip install -e plugins/demo' (or run 'make demo' in the repository)")


@click.command("demo", cls=Command, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               add_help_option=False, help=N_("A simulated province day (needs the bluezone-demo plugin)."))
def demo_command() -> None:
    fail(Message(INSTALL_HINT))


def register(cli: click.Group) -> None:
    cli.add_command(demo_command)
