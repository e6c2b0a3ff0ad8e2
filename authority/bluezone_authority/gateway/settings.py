"""The gateway's TOML file (``bluezone gateway --config FILE``), ``[gateway]``.

The gateway is its own deployment (the operator's, not a province's), so it
reads a small file of its own rather than a province's deployment TOML.
Paths are relative to the file. ``database`` is a file path (SQLite, the
default ``gateway.db``) or a ``postgresql://`` URL, as the key server's
``[server] database``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS = {"host": str, "port": int, "database": str, "ca": str, "cert": str, "key": str,
        "retention_days": int, "max_body_bytes": int}


class GatewayConfigError(ValueError):
    """A one-line reason the file cannot be used."""


def database_location(base: Path, value: str) -> Path | str:
    """A ``postgresql://`` URL as it is; a file path relative to the config's folder."""
    return value if value.startswith(("postgresql://", "postgres://")) else base / value


@dataclass(frozen=True)
class GatewaySettings:
    #: a SQLite file, or a PostgreSQL URL (str)
    database: Path | str
    ca: Path
    cert: Path
    key: Path
    host: str = "127.0.0.1"
    port: int = 8453
    #: EFGS keeps batches 14 days; a key older than that matches nothing anyway
    retention_days: int = 14
    max_body_bytes: int = 64 * 1024 * 1024

    @classmethod
    def load(cls, path: Path) -> "GatewaySettings":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise GatewayConfigError(f"{path}: {e}") from None
        section: Any = data.get("gateway")
        if not isinstance(section, dict):
            raise GatewayConfigError(f"{path}: no [gateway] section")
        for name, value in section.items():
            kind = KEYS.get(name)
            if kind is None:
                raise GatewayConfigError(f"{path}: [gateway] has no setting {name!r}")
            if not isinstance(value, kind) or isinstance(value, bool):
                raise GatewayConfigError(f"{path}: [gateway] {name} must be {kind.__name__}")
        for name in ("ca", "cert", "key"):
            if name not in section:
                raise GatewayConfigError(f"{path}: [gateway] {name} is required (a PEM file)")
        base = path.parent
        paths = {n: base / section[n] for n in ("ca", "cert", "key")}
        return cls(database=database_location(base, section.get("database", "gateway.db")), host=section.get("host", cls.host),
                   port=section.get("port", cls.port), retention_days=section.get("retention_days", cls.retention_days),
                   max_body_bytes=section.get("max_body_bytes", cls.max_body_bytes), **paths)
