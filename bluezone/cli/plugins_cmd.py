"""``bluezone plugins``: what is installed."""

from __future__ import annotations

import click

from ..plugins import make_plugin_manager


@click.command("plugins")
def plugins_command() -> None:
    """List installed plugins and the hooks each implements."""
    pm = make_plugin_manager()
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda x: x[0]):
        if plugin is None:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        click.echo(f"{name}: {', '.join(hooks)}")


def register(cli: click.Group) -> None:
    cli.add_command(plugins_command)
