"""The authority's commands, added to ``bluezone`` through the
``bluezone_register_commands`` hook: ``bluezone serve`` and ``bluezone
authority ...`` (keys, tokens, codes, portal staff, exports, purge and the
sealed-declaration tools). A phone without this distribution has none of them."""

from __future__ import annotations

from typing import Any

import click

from bluezone.hookspecs import hookimpl


@hookimpl
def bluezone_message_catalogues() -> list[Any]:
    """The authority's domain, for the commands' texts (also returned by the server and portal)."""
    from ..messages import catalogues

    return catalogues()


@hookimpl
def bluezone_register_commands(cli: click.Group) -> None:
    from . import authority_cmd, db_cmd, declarations_cmd, gateway_cmd, serve_cmd

    serve_cmd.register(cli)
    authority_cmd.register(cli)  # makes the 'authority' group
    cli.commands["authority"].add_command(declarations_cmd.declarations_group)  # type: ignore[attr-defined]
    gateway_cmd.register(cli, cli.commands["authority"])  # type: ignore[arg-type]  # 'gateway' and 'authority federate'
    cli.commands["authority"].add_command(db_cmd.db_group)  # type: ignore[attr-defined]
