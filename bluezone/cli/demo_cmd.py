"""``bluezone demo`` when the demo plugin is not installed.

The demo is the ``bluezone-demo`` plugin (``plugins/demo``): a simulated
province day over real HTTP that composes the other plugins. It registers
its own ``demo`` command, which replaces this one. The core keeps only this
placeholder, so the command exists on every install and says how to get the
real thing instead of running a second, smaller matcher of its own.
"""

from __future__ import annotations

import click

from .common import fail

INSTALL_HINT = (
    "the demo is the bluezone-demo plugin, which is not installed (or is disabled); install it with "
    "'pip install -e plugins/demo' (or run 'make demo' in the repository) / "
    "bản trình diễn là plugin bluezone-demo, chưa được cài (hoặc đang bị tắt); hãy cài bằng "
    "'pip install -e plugins/demo' (hoặc chạy 'make demo' trong kho mã nguồn)"
)


@click.command("demo", context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               add_help_option=False)
def demo_command() -> None:
    """A simulated province day (needs the bluezone-demo plugin)."""
    fail(INSTALL_HINT)


def register(cli: click.Group) -> None:
    cli.add_command(demo_command)
