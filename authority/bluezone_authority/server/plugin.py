"""The server as a built-in plugin: it claims the ``[server]`` TOML section."""

from __future__ import annotations

from typing import Any

from bluezone.hookspecs import hookimpl
from .settings import SERVER_SCHEMA


@hookimpl
def bluezone_config_schema() -> dict[str, dict[str, Any]]:
    return {"server": SERVER_SCHEMA}
