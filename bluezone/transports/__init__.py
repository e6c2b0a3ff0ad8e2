"""The core's default transports, offered by URL scheme through ``bluezone_transports``.

A default plugin: shipped inside the ``bluezone`` distribution and
registered through its entry points like any third-party plugin, so a
deployment may still replace or disable it.

* ``http`` / ``https`` — :class:`HttpTransport` (aiohttp client): uploads,
  incremental feed download with ETag / If-None-Match, retries with
  exponential backoff, timeouts;
* ``file`` — :class:`FileTransport`: a published export directory (a CDN
  mirror, a USB stick), download only;

The ``loopback`` transport (an in-process authority server, for tests and
demos) needs the server, so it ships with ``bluezone-authority``
(:mod:`bluezone_authority.loopback`).

The deployment picks one with ``[authority] url``; ``[transport]`` tunes it.
"""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from ..settings import FROM_SCHEMA, section_settings
from .file import FileTransport
from .http import HttpTransport

TRANSPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "How devices reach the authority (see docs/transports.md).",
    "properties": {
        "download_url": {"type": "string", "pattern": "^(https?|file)://",
                         "description": "feeds from a CDN or mirror instead of the authority URL"},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 30},
        "retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 4},
        "backoff_seconds": {"type": "number", "minimum": 0, "default": 0.5},
        "max_backoff_seconds": {"type": "number", "minimum": 0, "default": 30},
    },
    "additionalProperties": False,
    "default": {},
}


@section_settings(TRANSPORT_SCHEMA)
class TransportSettings:
    """``[transport]``: how the http transport reaches the authority."""

    download_url: str | None = FROM_SCHEMA
    timeout_seconds: float = FROM_SCHEMA
    retries: int = FROM_SCHEMA
    backoff_seconds: float = FROM_SCHEMA
    max_backoff_seconds: float = FROM_SCHEMA


@hookimpl
def bluezone_config_schema() -> dict[str, Any]:
    return {"transport": TransportSettings}


@hookimpl
def bluezone_transports() -> dict[str, Any]:
    return {"http": HttpTransport.from_config, "https": HttpTransport.from_config,
            "file": FileTransport.from_config}


__all__ = ["TransportSettings", "FileTransport", "HttpTransport"]
