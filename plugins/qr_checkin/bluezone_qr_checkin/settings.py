"""The ``[qr_checkin]`` section of the deployment TOML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluezone import FROM_SCHEMA, build_settings, decode_key32, section_settings
from bluezone.i18n import _

from . import notices as nt

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Venue QR check-in (CrowdNotifier v3).",
    "properties": {
        "url_base": {"type": "string", "pattern": "^https://",
                     "description": "start of the entry QR URL (the deployment's own web address; no "
                                    "default, so no poster points at a domain the deployment does not run); "
                                    "the payload rides in its #fragment"},
        "authority_public_key": {"type": "string", "description":
                                 "base64 X25519 public key of the health authority: venues seal its half of "
                                 "the master key to it, kiosks seal visitor-log entries to it"},
        "authority_secret_key_file": {"type": "string", "description":
                                      "server only: file with the base64 X25519 secret key"},
        "kiosk_public_key": {"type": "string", "description":
                             "base64 X25519 public key kiosks seal visitors' names and phones to; its secret "
                             "half is kept offline by the authority (never on the server) and must not be "
                             "the venue-tracing pair"},
        "default_stay_minutes": {"type": "integer", "minimum": 5, "maximum": 1440, "default": 120},
        "kiosk_retention_days": {"type": "integer", "minimum": 1, "maximum": 60, "default": 14},
        "notices": nt.SCHEMA,
        "trace_uploads_per_client_per_minute": {
            "type": "integer", "minimum": 1, "maximum": 10_000, "default": 10,
            "description": "server: venue-trace upload attempts one client may make per minute"},
        "trace_workers": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1,
                          "description": "server: venue traces verified at once (each in its own process)"},
        "trace_queue": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 4,
                        "description": "server: authorised uploads that may wait for a worker; more get 503"},
        "trace_executor": {"enum": ["process", "thread"], "default": "process",
                           "description": "server: where the pairing work runs; 'thread' keeps the GIL "
                                          "busy and is for measurements only"},
    },
    "additionalProperties": False,
    "default": {},
}


class SettingsError(ValueError):
    """A missing or malformed ``[qr_checkin]`` setting."""


def b64_key(text: str, what: str) -> bytes:
    return decode_key32(text, what, SettingsError)


@section_settings(SCHEMA)
class CheckinSection:
    """``[qr_checkin]`` as written in the deployment file, typed; the schema
    above is the one place its defaults live (``config.typed(CheckinSection)``)."""

    url_base: str | None = FROM_SCHEMA
    authority_public_key: str | None = FROM_SCHEMA
    authority_secret_key_file: str | None = FROM_SCHEMA
    kiosk_public_key: str | None = FROM_SCHEMA
    default_stay_minutes: int = FROM_SCHEMA
    kiosk_retention_days: int = FROM_SCHEMA
    notices: Mapping[str, Any] | None = FROM_SCHEMA
    trace_uploads_per_client_per_minute: int = FROM_SCHEMA
    trace_workers: int = FROM_SCHEMA
    trace_queue: int = FROM_SCHEMA
    trace_executor: str = FROM_SCHEMA

    def __post_init__(self) -> None:
        # a key that does not decode would only fail at the first venue or check-in:
        # refused here, so 'config check' (which builds every section) names it
        for name in ("authority_public_key", "kiosk_public_key"):
            value = getattr(self, name)
            if value is not None:
                b64_key(value, name)


@dataclass(frozen=True, slots=True)
class CheckinSettings:
    """What the plugin works with: the section's keys decoded (base64 keys to
    bytes, the secret key file resolved beside the deployment file, notices
    merged into the built-in catalogue). Built only from :class:`CheckinSection`,
    so it has no defaults of its own."""

    url_base: str | None
    authority_public_key: bytes | None
    authority_secret_key_file: Path | None
    kiosk_public_key: bytes | None
    default_stay_minutes: int
    kiosk_retention_days: int
    notices: dict[str, nt.Notice]
    trace_uploads_per_client_per_minute: int
    trace_workers: int
    trace_queue: int
    trace_executor: str

    @classmethod
    def defaults(cls) -> "CheckinSettings":
        """The settings of a deployment with an empty ``[qr_checkin]``."""
        return cls.from_section(build_settings(CheckinSection, {
            k: v["default"] for k, v in SCHEMA["properties"].items() if "default" in v}))

    @classmethod
    def from_config(cls, config: Any) -> "CheckinSettings":
        if config is None:
            return cls.defaults()
        return cls.from_section(config.typed(CheckinSection), config.resolve_path)

    @classmethod
    def from_section(cls, s: CheckinSection, resolve: Any = Path) -> "CheckinSettings":
        pk, kiosk = s.authority_public_key, s.kiosk_public_key
        if kiosk and pk and b64_key(kiosk, "[qr_checkin] kiosk_public_key") == b64_key(pk, "authority_public_key"):
            # the venue-tracing secret sits on the server: visitors' names must not open with it
            raise SettingsError(_("[qr_checkin] kiosk_public_key must be its own key pair, kept offline, not the "
                                  "venue-tracing authority_public_key (make one with 'bluezone authority "
                                  "declarations keygen kiosk-log.key')"))
        return cls(
            url_base=s.url_base,
            authority_public_key=b64_key(pk, "[qr_checkin] authority_public_key") if pk else None,
            authority_secret_key_file=resolve(s.authority_secret_key_file) if s.authority_secret_key_file else None,
            kiosk_public_key=b64_key(kiosk, "[qr_checkin] kiosk_public_key") if kiosk else None,
            default_stay_minutes=s.default_stay_minutes,
            kiosk_retention_days=s.kiosk_retention_days,
            notices=nt.catalogue(s.notices),
            trace_uploads_per_client_per_minute=s.trace_uploads_per_client_per_minute,
            trace_workers=s.trace_workers,
            trace_queue=s.trace_queue,
            trace_executor=s.trace_executor,
        )

    def require_url_base(self) -> str:
        """The start of poster URLs; only the deployment knows its web address."""
        if not self.url_base:
            raise SettingsError(_("Set [qr_checkin] url_base (the https:// address your posters point to) "
                                  "in the deployment file"))
        return self.url_base

    def require_public_key(self) -> bytes:
        if self.authority_public_key is None:
            raise SettingsError(_("Set [qr_checkin] authority_public_key (or pass --authority-key)"))
        return self.authority_public_key

    def require_kiosk_key(self) -> bytes:
        if self.kiosk_public_key is None:
            raise SettingsError(_("Set [qr_checkin] kiosk_public_key: the public half of a key pair the authority "
                                  "keeps offline (bluezone authority declarations keygen kiosk-log.key), or pass "
                                  "--kiosk-key"))
        return self.kiosk_public_key

    def authority_secret_key(self) -> bytes:
        if self.authority_secret_key_file is None:
            raise SettingsError(_("Set [qr_checkin] authority_secret_key_file on the server"))
        return b64_key(Path(self.authority_secret_key_file).read_text(), "the authority secret key file")
