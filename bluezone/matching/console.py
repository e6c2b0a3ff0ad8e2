"""Built-in plugin ``alerts-console``: print alerts on the terminal.

The reference client's sink; phones would add a notification sink and an
SMS gateway might add another, each through ``bluezone_deliver_alert``.
"""

from __future__ import annotations

import click

from ..hookspecs import hookimpl


@hookimpl
def bluezone_deliver_alert(alert, language, config):
    click.echo(f"[{alert.tier.name}] {alert.message(language)}")
