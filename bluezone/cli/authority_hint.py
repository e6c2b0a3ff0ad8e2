"""``bluezone serve`` and ``bluezone authority`` on an install without the authority.

Both come from the ``bluezone-authority`` distribution (``authority/``),
whose commands plugin replaces these placeholders. The core keeps hidden
placeholders so that a phone, or a server where the authority was not
installed, answers with what to install instead of "No such command".
"""

from __future__ import annotations

import click

from .common import fail

INSTALL_HINT = (
    "'bluezone {name}' is part of bluezone-authority, which is not installed (or its "
    "'authority-commands' plugin is disabled); install it with 'pip install -e authority' "
    "in the repository / 'bluezone {name}' thuộc bluezone-authority, chưa được cài (hoặc plugin "
    "'authority-commands' đang bị tắt); hãy cài bằng 'pip install -e authority' trong kho mã nguồn"
)


def _placeholder(name: str) -> click.Command:
    @click.command(name, hidden=True, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def command() -> None:
        fail(INSTALL_HINT.format(name=name))

    return command


def register(cli: click.Group) -> None:
    for name in ("serve", "authority"):
        cli.add_command(_placeholder(name))
