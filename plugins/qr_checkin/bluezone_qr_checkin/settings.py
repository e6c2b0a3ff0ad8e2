"""The ``[qr_checkin]`` section of the deployment TOML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluezone import decode_key32
from bluezone.i18n import _

from . import notices as nt
from .payload import DEFAULT_URL_BASE

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Venue QR check-in (CrowdNotifier v3).",
    "properties": {
        "url_base": {"type": "string", "pattern": "^https://", "default": DEFAULT_URL_BASE,
                     "description": "start of the entry QR URL; the payload rides in its #fragment"},
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


@dataclass(frozen=True, slots=True)
class CheckinSettings:
    url_base: str = DEFAULT_URL_BASE
    authority_public_key: bytes | None = None
    authority_secret_key_file: Path | None = None
    kiosk_public_key: bytes | None = None
    default_stay_minutes: int = 120
    kiosk_retention_days: int = 14
    notices: dict[str, nt.Notice] = field(default_factory=nt.catalogue)
    trace_uploads_per_client_per_minute: int = 10
    trace_workers: int = 1
    trace_queue: int = 4
    trace_executor: str = "process"

    @classmethod
    def from_config(cls, config: Any) -> "CheckinSettings":
        if config is None:
            return cls()
        s = config.section("qr_checkin")
        pk = s.get("authority_public_key")
        sk_file = s.get("authority_secret_key_file")
        kiosk = s.get("kiosk_public_key")
        if kiosk and pk and b64_key(kiosk, "[qr_checkin] kiosk_public_key") == b64_key(pk, "authority_public_key"):
            # the venue-tracing secret sits on the server: visitors' names must not open with it
            raise SettingsError("[qr_checkin] kiosk_public_key must be its own key pair, kept offline, not the "
                                "venue-tracing authority_public_key (make one with 'bluezone authority "
                                "declarations keygen kiosk-log.key')")
        return cls(
            url_base=s.get("url_base", DEFAULT_URL_BASE),
            authority_public_key=b64_key(pk, "[qr_checkin] authority_public_key") if pk else None,
            authority_secret_key_file=config.resolve_path(sk_file) if sk_file else None,
            kiosk_public_key=b64_key(kiosk, "[qr_checkin] kiosk_public_key") if kiosk else None,
            default_stay_minutes=s.get("default_stay_minutes", 120),
            kiosk_retention_days=s.get("kiosk_retention_days", 14),
            notices=nt.catalogue(s.get("notices")),
            trace_uploads_per_client_per_minute=s.get("trace_uploads_per_client_per_minute", 10),
            trace_workers=s.get("trace_workers", 1),
            trace_queue=s.get("trace_queue", 4),
            trace_executor=s.get("trace_executor", "process"),
        )

    def require_public_key(self) -> bytes:
        if self.authority_public_key is None:
            raise SettingsError(_("Set [qr_checkin] authority_public_key (or pass --authority-key)"))
        return self.authority_public_key

    def require_kiosk_key(self) -> bytes:
        if self.kiosk_public_key is None:
            raise SettingsError("set [qr_checkin] kiosk_public_key: the public half of a key pair the authority "
                                "keeps offline (bluezone authority declarations keygen kiosk-log.key), or pass "
                                "--kiosk-key / đặt [qr_checkin] kiosk_public_key")
        return self.kiosk_public_key

    def authority_secret_key(self) -> bytes:
        if self.authority_secret_key_file is None:
            raise SettingsError(_("Set [qr_checkin] authority_secret_key_file on the server"))
        return b64_key(Path(self.authority_secret_key_file).read_text(), "the authority secret key file")
