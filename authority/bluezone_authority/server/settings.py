"""The ``[server]`` section of the deployment TOML, as a typed object.

Only the authority runs a server; devices ignore this section. The schema is
claimed through ``bluezone_config_schema`` (see :mod:`bluezone_authority.server.plugin`),
so ``bluezone config check`` validates it like every other section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluezone.config import CORE_SCHEMA
from bluezone.settings import FROM_SCHEMA, build, section_settings

SERVER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The health-authority server (bluezone serve).",
    "properties": {
        "host": {"type": "string", "default": "127.0.0.1"},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 8452},
        "database": {"type": "string", "default": "bluezone-server.db",
                     "description": "a SQLite file path, or a postgresql:// URL (docs/server.md, Databases)"},
        "export_dir": {"type": "string", "default": "exports",
                       "description": "published feeds, servable by any static web server or CDN"},
        "signing_key": {"type": "string", "description": "PEM file of the P-256 export signing key"},
        "secrets_file": {"type": "string", "default": "bluezone-server.secrets",
                         "description": "server secrets (code HMAC key, certificate key); created 0600"},
        "batch_minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 60},
        "min_batch_keys": {"type": "integer", "minimum": 0, "default": 1000},
        "pad_random_keys": {"type": "integer", "minimum": 0, "default": 100},
        "embargo_hours": {"type": "number", "minimum": 0, "default": 2},
        "max_body_bytes": {"type": "integer", "minimum": 8192, "default": 65536},
        "declaration_max_bytes": {"type": "integer", "minimum": 1024, "default": 49152},
        "declaration_quota_count": {"type": "integer", "minimum": 1, "default": 500000,
                                    "description": "most declarations stored within the retention window"},
        "declaration_quota_bytes": {"type": "integer", "minimum": 65536, "default": 4294967296,
                                    "description": "most bytes of declarations stored within the retention window"},
        "short_code_minutes": {"type": "integer", "minimum": 1, "maximum": 60, "default": 15},
        "long_code_hours": {"type": "integer", "minimum": 1, "maximum": 72, "default": 24},
        "token_hours": {"type": "integer", "minimum": 1, "maximum": 48, "default": 24},
        "certificate_minutes": {"type": "integer", "minimum": 1, "maximum": 60, "default": 15},
        "one_time_token_hours": {"type": "integer", "minimum": 1, "maximum": 168, "default": 24},
        "verify_per_client_per_minute": {"type": "integer", "minimum": 1, "default": 10},
        "verify_failures_per_minute": {"type": "integer", "minimum": 1, "default": 30,
                                       "description": "above this many failed redemptions a minute (all clients), "
                                                      "clients that failed are refused until clean for a minute"},
        "uploads_per_client_per_minute": {"type": "integer", "minimum": 1, "default": 10,
                                          "description": "certificate and publish requests per client"},
        "declarations_per_client_per_minute": {"type": "integer", "minimum": 1, "default": 10},
        "decoys_per_client_per_minute": {"type": "integer", "minimum": 1, "default": 60,
                                         "description": "POST /v1/decoy and X-Chaff requests per client"},
        "answer_floor_ms": {"type": "number", "minimum": 0, "maximum": 10000, "default": 50,
                            "description": "no device answer leaves sooner than this after its request arrived, "
                                           "so real and decoy answers take the same time"},
        "trusted_proxies": {"type": "array", "items": {"type": "string"}, "default": [],
                            "description": "CIDRs of reverse proxies whose X-Forwarded-For is believed"},
        "header_timeout_seconds": {"type": "number", "minimum": 0.1, "maximum": 3600, "default": 20,
                                   "description": "a connection must finish a request's headers this long after "
                                                  "it opened or after the previous answer (also the keep-alive)"},
        "body_timeout_seconds": {"type": "number", "minimum": 0.1, "maximum": 3600, "default": 30,
                                 "description": "a request body must arrive completely within this time"},
        "recursive_reports": {"type": "boolean", "default": False,
                              "description": "allow F1 (RECURSIVE) uploads so F1 contacts get F2 warnings (opt-in)"},
        "retention_minutes": {"type": "integer", "minimum": 1, "default": 60,
                              "description": "how often retention runs (besides on start)"},
        "workers": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1,
                    "description": "worker processes behind one port (bluezone serve --workers overrides)"},
        "events_poll_seconds": {"type": "number", "minimum": 0.05, "maximum": 60, "default": 1,
                                "description": "how often each worker looks for new batches to announce"},
        "events_heartbeat_seconds": {"type": "number", "minimum": 0.1, "maximum": 300, "default": 15,
                                     "description": "comment line sent on an idle event stream"},
        "events_max_clients": {"type": "integer", "minimum": 1, "default": 20000,
                               "description": "open event streams per worker; more are answered 503"},
    },
    "additionalProperties": False,
    "default": {},
}


_PATHS = ("database", "export_dir", "secrets_file", "signing_key")


def _is_url(value: Any) -> bool:
    """A database URL (postgresql://) is not a path to resolve."""
    return isinstance(value, str) and "://" in value


@section_settings(SERVER_SCHEMA)
class ServerSettings:
    """``[server]`` with paths resolved, plus what the server takes from
    other sections (retention, region, the export key's id). Defaults of
    ``[server]`` keys come from :data:`SERVER_SCHEMA`."""

    host: str = FROM_SCHEMA
    port: int = FROM_SCHEMA
    database: Path | str = FROM_SCHEMA  # a SQLite file, or a postgresql:// URL kept as text
    export_dir: Path = FROM_SCHEMA
    signing_key: Path | None = FROM_SCHEMA
    secrets_file: Path = FROM_SCHEMA
    batch_minutes: int = FROM_SCHEMA
    min_batch_keys: int = FROM_SCHEMA
    pad_random_keys: int = FROM_SCHEMA
    embargo_hours: float = FROM_SCHEMA
    max_body_bytes: int = FROM_SCHEMA
    declaration_max_bytes: int = FROM_SCHEMA
    declaration_quota_count: int = FROM_SCHEMA
    declaration_quota_bytes: int = FROM_SCHEMA
    short_code_minutes: int = FROM_SCHEMA
    long_code_hours: int = FROM_SCHEMA
    token_hours: int = FROM_SCHEMA
    certificate_minutes: int = FROM_SCHEMA
    one_time_token_hours: int = FROM_SCHEMA
    verify_per_client_per_minute: int = FROM_SCHEMA
    verify_failures_per_minute: int = FROM_SCHEMA
    uploads_per_client_per_minute: int = FROM_SCHEMA
    declarations_per_client_per_minute: int = FROM_SCHEMA
    decoys_per_client_per_minute: int = FROM_SCHEMA
    answer_floor_ms: float = FROM_SCHEMA
    trusted_proxies: tuple[str, ...] = FROM_SCHEMA
    header_timeout_seconds: float = FROM_SCHEMA
    body_timeout_seconds: float = FROM_SCHEMA
    recursive_reports: bool = FROM_SCHEMA
    retention_minutes: int = FROM_SCHEMA
    workers: int = FROM_SCHEMA
    events_poll_seconds: float = FROM_SCHEMA
    events_heartbeat_seconds: float = FROM_SCHEMA
    events_max_clients: int = FROM_SCHEMA
    # from other sections (see from_config)
    retention_days: int = CORE_SCHEMA["retention"]["properties"]["days"]["default"]
    region: str = "452"
    key_id: str = "452"
    key_version: str = "v1"

    def __post_init__(self) -> None:
        # a TOML list becomes a tuple (hashable, frozen); a bad CIDR stops the start
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        for name in _PATHS:  # schema defaults are strings
            value = getattr(self, name)
            if isinstance(value, str) and not _is_url(value):
                object.__setattr__(self, name, Path(value))
        from .ratelimit import parse_networks

        parse_networks(self.trusted_proxies)

    @classmethod
    def from_config(cls, config: Any) -> "ServerSettings":
        """Settings from a loaded :class:`bluezone.config.Config`; paths are
        relative to the TOML file; the export key id is the first of
        ``[authority] export_keys`` (else the region)."""
        s = {k: v for k, v in config.section("server").items() if k in SERVER_SCHEMA["properties"]}
        for name in _PATHS:
            if s.get(name) and not _is_url(s[name]):
                s[name] = config.resolve_path(s[name])
        keys = config.typed("authority").export_keys
        key_id = keys[0]["key_id"] if keys else config.region
        key_version = keys[0]["key_version"] if keys else cls.key_version
        return build(cls, {**s, "retention_days": config.retention_days, "region": config.region,
                           "key_id": key_id, "key_version": key_version})
