"""The gateway's TOML file (``bluezone gateway --config FILE``), ``[gateway]``.

The gateway is its own deployment (the operator's, not a province's), so it
reads a small file of its own rather than a province's deployment TOML.
Paths are relative to the file. What the file may hold, and every check made
on it before it is used, is in :mod:`.config_check`.
``database`` is a file path (SQLite, the default ``gateway.db``) or a
``postgresql://`` URL, as the key server's ``[server] database``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


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
        """The settings of the file at ``path``; :class:`GatewayConfigError` (one line:
        the first problem, the count, and the command that lists them all) when
        :func:`.config_check.problems` finds any."""
        from bluezone.cli.common import problems_line

        from .config_check import problems

        found = problems(path)
        if found:
            raise GatewayConfigError(str(problems_line(found, str(path))))
        section = tomllib.loads(path.read_text(encoding="utf-8"))["gateway"]
        base = path.parent
        paths = {n: base / section[n] for n in ("ca", "cert", "key")}
        return cls(database=database_location(base, section.get("database", "gateway.db")), host=section.get("host", cls.host),
                   port=section.get("port", cls.port), retention_days=section.get("retention_days", cls.retention_days),
                   max_body_bytes=section.get("max_body_bytes", cls.max_body_bytes), **paths)
