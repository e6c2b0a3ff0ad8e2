"""Commands whose distribution is not installed answer with what to install.

``serve`` and ``authority`` come from ``bluezone-authority`` (``authority/``),
``trace`` from ``bluezone-ble``, and the check-in commands from
``bluezone-qr-checkin``: each registers its commands through
``bluezone_register_commands``, which replaces the hidden placeholder of the
same name here. Without the distribution (or with its plugin disabled), a phone
or a server answers in one line, in both languages, what to install or enable,
instead of click's bare "No such command".
"""

from __future__ import annotations

import click

from ..i18n import N_, Message
from .common import fail
from .i18n_click import Command

#: command -> (distribution, its folder in the repository, the plugin that adds the command)
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "serve": ("bluezone-authority", "authority", "authority-commands"),
    "authority": ("bluezone-authority", "authority", "authority-commands"),
    "trace": ("bluezone-ble", "plugins/ble", "ble"),
    "checkin": ("bluezone-qr-checkin", "plugins/qr_checkin", "qr-checkin"),
    "checkout": ("bluezone-qr-checkin", "plugins/qr_checkin", "qr-checkin"),
    "visits": ("bluezone-qr-checkin", "plugins/qr_checkin", "qr-checkin"),
    "venue": ("bluezone-qr-checkin", "plugins/qr_checkin", "qr-checkin"),
}

INSTALL_HINT = N_("'bluezone {name}' is part of {dist}, which is not installed (or its '{plugin}' plugin is "
                  "disabled); install it with 'pip install -e {folder}' in the repository")


def _placeholder(name: str) -> click.Command:
    dist, folder, plugin = PROVIDERS[name]

    @click.command(name, cls=Command, hidden=True, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def command() -> None:
        fail(Message(INSTALL_HINT, {"name": name, "dist": dist, "folder": folder, "plugin": plugin}))

    return command


def register(cli: click.Group) -> None:
    for name in PROVIDERS:
        cli.add_command(_placeholder(name))
