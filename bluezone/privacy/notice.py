"""The ``[privacy]`` section and the processing notice built from it.

The notice is what Vietnam's Personal Data Protection Law (91/2025/QH15)
and its Decree 356/2025/NĐ-CP ask a controller to tell the person before
processing: for each purpose, which data, who receives it, how long it is
kept, and who is responsible and how to reach them. The purposes, data and
recipients follow from what the software does, so they are written here;
who the controller is, how to reach them and the notice's version come from
the deployment file, so each province states its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..i18n import Message, _, text
from ..settings import FROM_SCHEMA, section_settings

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The processing notice: who is responsible for the data and how to reach them.",
    "properties": {
        "notice_version": {"type": "string", "minLength": 1, "maxLength": 32, "default": "1",
                           "description": "recorded with every consent; raise it when the notice changes"},
        "controller": {"type": "string", "minLength": 1, "maxLength": 200,
                       "description": "who decides the purposes (e.g. the provincial health department)"},
        "controller_address": {"type": "string", "maxLength": 300},
        "contact_email": {"type": "string", "maxLength": 200},
        "contact_phone": {"type": "string", "maxLength": 50},
        "protection_contact": {"type": "string", "maxLength": 200,
                               "description": "the person or unit in charge of personal-data protection"},
        "processors": {"type": "array", "items": {"type": "string", "maxLength": 200}, "default": [],
                       "description": "others who process data for the controller (hosting, CDN, NCOVI...)"},
        "hosts_in_country": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 253},
                             "default": [".vn"],
                             "description": "host names (or '.suffix'es) taken to be inside the country; "
                                            "'config check' warns about configured URLs elsewhere"},
    },
    "additionalProperties": False,
    "default": {},
}


@section_settings(SCHEMA)
class PrivacySettings:
    """``[privacy]``: the controller, its contact, the notice version and the in-country hosts."""

    notice_version: str = FROM_SCHEMA
    controller: str | None = FROM_SCHEMA
    controller_address: str | None = FROM_SCHEMA
    contact_email: str | None = FROM_SCHEMA
    contact_phone: str | None = FROM_SCHEMA
    protection_contact: str | None = FROM_SCHEMA
    processors: tuple[str, ...] = FROM_SCHEMA
    hosts_in_country: tuple[str, ...] = FROM_SCHEMA


@dataclass(frozen=True, slots=True)
class PurposeNotice:
    """What one purpose processes: texts shown in the reader's language."""

    purpose: str
    data: Message
    recipients: Message
    retention: Message


def purposes(retention_days: int) -> list[PurposeNotice]:
    """The notice's per-purpose part, from what the software actually does."""
    kept = _("{days} days on this phone, then deleted automatically", days=retention_days)
    return [
        PurposeNotice(
            "bluetooth",
            _("the rotating random Bluetooth identifiers of your phone and of phones nearby, with time and "
              "signal strength; your phone's daily keys"),
            _("nobody: only if you report with a health-authority code are your keys (never your contacts) "
              "sent to the health authority's server and published without your identity"),
            kept),
        PurposeNotice(
            "venues",
            _("the venues you check in at (from their QR code), arrival and departure times"),
            _("nobody: check-ins stay on this phone; matching against venue traces happens on it"),
            kept),
        PurposeNotice(
            "f2",
            _("published keys of F1 contacts matched against the identifiers recorded; results (day, tier) "
              "kept on this phone"),
            _("nobody"),
            kept),
        PurposeNotice(
            "declarations",
            _("the health declaration you fill in (health data: sensitive personal data)"),
            _("the health authority, sealed to its public key only; the server cannot read it"),
            _("the server keeps the sealed copy {days} days; a copy on this phone only if you choose, at most "
              "{days} days", days=retention_days)),
        PurposeNotice(
            "submitters",
            _("the declaration's content, in the national form"),
            _("the external submitter the province configures (for example NCOVI), only when you agree "
              "for that declaration"),
            _("as the receiving service's own rules say")),
    ]


def controller_lines(p: PrivacySettings, lang: str) -> list[tuple[str, str]]:
    """``(label, value)`` rows of the controller and its contacts, in ``lang``."""
    missing = text(_("(not set in the deployment file)"), lang)
    rows = [
        (text(_("Data controller"), lang), p.controller or missing),
        (text(_("Address"), lang), p.controller_address or missing),
        (text(_("Email"), lang), p.contact_email or missing),
        (text(_("Phone"), lang), p.contact_phone or missing),
        (text(_("Data-protection contact"), lang), p.protection_contact or missing),
    ]
    if p.processors:
        rows.append((text(_("Processors"), lang), "; ".join(p.processors)))
    rows.append((text(_("Notice version"), lang), p.notice_version))
    return rows


def notice_dict(p: PrivacySettings, retention_days: int, deployment: str,
                languages: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The whole notice as JSON-ready data, one text per language (``bluezone privacy --json``)."""
    from ..consent import DESCRIPTIONS

    return {
        "deployment": deployment,
        "notice_version": p.notice_version,
        "controller": {"name": p.controller, "address": p.controller_address, "email": p.contact_email,
                       "phone": p.contact_phone, "protection_contact": p.protection_contact,
                       "processors": list(p.processors)},
        "retention_days": retention_days,
        "purposes": [{"purpose": n.purpose, "description": _(DESCRIPTIONS[n.purpose]).texts(languages),
                      "data": n.data.texts(languages), "recipients": n.recipients.texts(languages),
                      "retention": n.retention.texts(languages)}
                     for n in purposes(retention_days)],
    }
