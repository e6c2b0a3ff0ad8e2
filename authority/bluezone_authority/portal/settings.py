"""The ``[portal]`` section of the deployment TOML, as a typed object.

The portal is part of the authority server (``bluezone serve``); devices
ignore this section. Defaults follow common guidance for staff web apps:
sessions end after 30 idle minutes and at the latest after 8 hours, and an
account locks for 15 minutes after 5 wrong passwords in a row.
"""

from __future__ import annotations

from typing import Any

from bluezone.config import CORE_SCHEMA
from bluezone.i18n import DEFAULT_LANGUAGES, _, active_languages
from bluezone.settings import FROM_SCHEMA, build, section_settings

PORTAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The health-authority web portal served by bluezone serve under /portal/.",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "session_idle_minutes": {"type": "integer", "minimum": 1, "maximum": 720, "default": 30},
        "session_max_hours": {"type": "integer", "minimum": 1, "maximum": 24, "default": 8},
        "lockout_failures": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
        "lockout_minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 15},
        "login_per_client_per_minute": {"type": "integer", "minimum": 1, "default": 20},
        "login_in_flight_per_account": {"type": "integer", "minimum": 1, "maximum": 16, "default": 2,
                                        "description": "password checks running at once for one account"},
        "login_max_pending": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 8,
                              "description": "password checks running or queued in total; beyond: 429, no hash"},
        "secure_cookies": {"enum": ["auto", "always", "never"], "default": "auto",
                           "description": "auto: Secure when the request came over https; 'always' behind a TLS proxy"},
        "default_language": {"type": "string", "pattern": "^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*$",
                             "description": "the portal's language for a browser that asks for none of the "
                                            "deployment's languages; one of [deployment] languages "
                                            "(default: the first of them)"},
    },
    "additionalProperties": False,
    "default": {},
}


@section_settings(PORTAL_SCHEMA)  # defaults: the schema's
class PortalSettings:
    enabled: bool = FROM_SCHEMA
    session_idle_minutes: int = FROM_SCHEMA
    session_max_hours: int = FROM_SCHEMA
    lockout_failures: int = FROM_SCHEMA
    lockout_minutes: int = FROM_SCHEMA
    login_per_client_per_minute: int = FROM_SCHEMA
    login_in_flight_per_account: int = FROM_SCHEMA
    login_max_pending: int = FROM_SCHEMA
    secure_cookies: str = FROM_SCHEMA
    default_language: str | None = FROM_SCHEMA
    timezone: str = CORE_SCHEMA["deployment"]["properties"]["timezone"]["default"]
    #: the deployment's languages: the portal offers these (``[deployment] languages``)
    languages: tuple[str, ...] = DEFAULT_LANGUAGES

    @property
    def language(self) -> str:
        """The language of a request that asks for none of :attr:`languages`."""
        return self.default_language or self.languages[0]

    @classmethod
    def from_config(cls, config: Any) -> "PortalSettings":
        """Settings from a loaded :class:`bluezone.config.Config` (``None``: defaults)."""
        if config is None:
            return build(cls, {"languages": tuple(active_languages())})
        values = {k: v for k, v in config.section("portal").items() if k in PORTAL_SCHEMA["properties"]}
        deployment = config.data.get("deployment", {})
        languages = tuple(deployment.get("languages") or active_languages())
        settings = cls(**values, timezone=deployment.get("timezone", cls.timezone), languages=languages)
        if settings.default_language is not None and settings.default_language not in languages:
            raise ValueError(_("[portal] default_language '{language}' is not one of [deployment] languages "
                               "({languages})", language=settings.default_language, languages=", ".join(languages)))
        return settings
