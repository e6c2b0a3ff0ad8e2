"""The server as a built-in plugin: it claims the ``[server]`` TOML section."""

from __future__ import annotations

from typing import Any

from bluezone import hookimpl

from .settings import ServerSettings


@hookimpl
def bluezone_config_schema() -> dict[str, Any]:
    from ..gateway.province import FederationSettings

    return {"server": ServerSettings, "federation": FederationSettings}


@hookimpl
def bluezone_config_files() -> dict[str, Any]:
    """The national gateway's own file (``[gateway]``) for ``bluezone config check``:
    the gateway is the federation's other half of this distribution."""
    from ..gateway.config_check import problems

    return {"gateway": problems}


@hookimpl
def bluezone_message_catalogues() -> list[Any]:
    """The authority's texts (server errors, portal, commands): one domain for the distribution."""
    from ..messages import catalogues

    return catalogues()
