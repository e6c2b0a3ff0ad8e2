"""The portal as a built-in plugin: it claims ``[portal]`` and mounts itself
on the authority server through ``bluezone_server_routes``, exactly as a
province's own plugin would add pages."""

from __future__ import annotations

from typing import Any

from bluezone import hookimpl

from .settings import PortalSettings


@hookimpl
def bluezone_config_schema() -> dict[str, Any]:
    return {"portal": PortalSettings}


@hookimpl
def bluezone_server_routes(app: Any, config: Any) -> None:
    from .app import mount

    mount(app, config)


@hookimpl
def bluezone_message_catalogues() -> list[Any]:
    """The authority's domain (the same one the server and commands return)."""
    from ..messages import catalogues

    return catalogues()
