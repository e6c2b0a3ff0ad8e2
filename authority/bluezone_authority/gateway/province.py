"""The ``[federation]`` section of a province server's TOML (docs/federation.md).

Present: the server uploads its shareable keys to the national gateway and
imports the other provinces' on a schedule. Absent: nothing leaves the
province. Paths are relative to the TOML file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bluezone.i18n import _
from bluezone.settings import FROM_SCHEMA, build, section_settings

_CODE = {"type": "string", "pattern": "^[A-Za-z0-9-]{1,16}$"}

FEDERATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Federation with other provinces through the national gateway (bluezone gateway).",
    "properties": {
        "gateway_url": {"type": "string", "description": "https://host:port of the gateway"},
        "origin": {**_CODE, "description": "this province's code (its client certificate's common name)"},
        "client_cert": {"type": "string", "description": "PEM client certificate issued by the gateway operator"},
        "client_key": {"type": "string", "description": "PEM key of the client certificate"},
        "ca": {"type": "string", "description": "PEM of the operator's CA (the gateway's certificate is checked "
                                                "against it only)"},
        "import_from": {"type": "array", "items": _CODE, "default": [],
                        "description": "provinces whose keys this province imports"},
        "signing_keys": {"type": "array", "default": [],
                         "items": {"type": "object", "required": ["origin", "public_key"],
                                   "properties": {"origin": _CODE, "public_key": {"type": "string"}},
                                   "additionalProperties": False},
                         "description": "the other provinces' public signing keys (PEM files)"},
        "relevant_to": {"type": "array", "items": _CODE, "default": [],
                        "description": "provinces the uploaded keys are relevant to (empty: all)"},
        "every_seconds": {"type": "number", "minimum": 0.2, "default": 600,
                          "description": "how often the server uploads and imports"},
        "include_recursive": {"type": "boolean", "default": False,
                              "description": "also upload F1 (RECURSIVE) keys"},
    },
    "required": ["gateway_url", "origin", "client_cert", "client_key", "ca"],
    "additionalProperties": False,
}


@section_settings(FEDERATION_SCHEMA)
class FederationSettings:
    gateway_url: str
    origin: str
    client_cert: Path
    client_key: Path
    ca: Path
    import_from: tuple[str, ...] = FROM_SCHEMA
    signing_keys: tuple[Any, ...] = FROM_SCHEMA
    relevant_to: tuple[str, ...] = FROM_SCHEMA
    every_seconds: float = FROM_SCHEMA
    include_recursive: bool = FROM_SCHEMA

    def __post_init__(self) -> None:
        for name in ("import_from", "signing_keys", "relevant_to"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("client_cert", "client_key", "ca"):
            object.__setattr__(self, name, Path(getattr(self, name)))

    @classmethod
    def from_config(cls, config: Any) -> "FederationSettings | None":
        """The section with paths resolved, or None when the province does not federate."""
        section = dict(config.section("federation") or {})
        if not section:
            return None
        for name in ("client_cert", "client_key", "ca"):
            section[name] = config.resolve_path(section[name])
        section["signing_keys"] = [{"origin": k["origin"], "public_key": str(config.resolve_path(k["public_key"]))}
                                   for k in section.get("signing_keys", [])]
        settings = build(cls, section)
        settings.check_files()
        return settings

    def check_files(self) -> None:
        """The certificate, its key, the CA and the other provinces' keys are
        what they should be, or ValueError naming the setting (``config check``
        reports it on its line; every command refuses the file in one line)."""
        from .config_check import client_tls_problems

        names = {"ca": "ca", "cert": "client_cert", "key": "client_key"}
        found = client_tls_problems(self.ca, self.client_cert, self.client_key)
        if found:
            role, problem = next(iter(found.items()))  # the CA first, then the certificate, then its key
            raise ValueError(str(_("[federation] {setting}: {problem}", setting=names[role], problem=problem)))
        try:
            self.public_keys()
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise ValueError(str(_("[federation] signing_keys: {problem}", problem=getattr(e, "strerror", None) or e))) \
                from None

    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Each other province's signing key, read from its PEM file."""
        from .config_check import read_pem

        out = {}
        for entry in self.signing_keys:
            data, problem = read_pem(Path(entry["public_key"]))  # not a FIFO, a device or a huge file
            if data is None:
                raise ValueError(str(problem))
            key = load_pem_public_key(data)
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError(f"{entry['public_key']}: not an EC P-256 public key")
            out[entry["origin"]] = key
        return out
