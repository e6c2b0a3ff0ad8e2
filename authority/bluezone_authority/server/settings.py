"""The ``[server]`` section of the deployment TOML, as a typed object.

Only the authority runs a server; devices ignore this section. The schema is
claimed through ``bluezone_config_schema`` (see :mod:`bluezone_authority.server.plugin`),
so ``bluezone config check`` validates it like every other section.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The health-authority server (bluezone serve).",
    "properties": {
        "host": {"type": "string", "default": "127.0.0.1"},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535, "default": 8452},
        "database": {"type": "string", "default": "bluezone-server.db"},
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
    },
    "additionalProperties": False,
    "default": {},
}


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8452
    database: Path = Path("bluezone-server.db")
    export_dir: Path = Path("exports")
    signing_key: Path | None = None
    secrets_file: Path = Path("bluezone-server.secrets")
    batch_minutes: int = 60
    min_batch_keys: int = 1000
    pad_random_keys: int = 100
    embargo_hours: float = 2
    max_body_bytes: int = 65536
    declaration_max_bytes: int = 49152
    declaration_quota_count: int = 500000
    declaration_quota_bytes: int = 4294967296
    short_code_minutes: int = 15
    long_code_hours: int = 24
    token_hours: int = 24
    certificate_minutes: int = 15
    one_time_token_hours: int = 24
    verify_per_client_per_minute: int = 10
    verify_failures_per_minute: int = 30
    uploads_per_client_per_minute: int = 10
    declarations_per_client_per_minute: int = 10
    decoys_per_client_per_minute: int = 60
    trusted_proxies: tuple[str, ...] = ()
    header_timeout_seconds: float = 20
    body_timeout_seconds: float = 30
    recursive_reports: bool = False
    retention_minutes: int = 60
    retention_days: int = 14
    region: str = "452"
    key_id: str = "452"
    key_version: str = "v1"

    def __post_init__(self) -> None:
        # a TOML list becomes a tuple (hashable, frozen); a bad CIDR stops the start
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        from .ratelimit import parse_networks

        parse_networks(self.trusted_proxies)

    @classmethod
    def from_config(cls, config: Any) -> "ServerSettings":
        """Settings from a loaded :class:`bluezone.config.Config`; paths are
        relative to the TOML file; the export key id is the first of
        ``[authority] export_keys`` (else the region)."""
        s = dict(config.section("server"))
        for name in SERVER_SCHEMA["properties"]:
            default = SERVER_SCHEMA["properties"][name].get("default")
            if name not in s and "default" in SERVER_SCHEMA["properties"][name]:
                s[name] = default
        for name in ("database", "export_dir", "secrets_file", "signing_key"):
            if s.get(name):
                s[name] = config.resolve_path(s[name])
        keys = config.data["authority"].get("export_keys") or []
        key_id = keys[0]["key_id"] if keys else config.region
        key_version = keys[0].get("key_version", "v1") if keys else "v1"
        return cls(**s, retention_days=config.retention_days, region=config.region,
                   key_id=key_id, key_version=key_version)
