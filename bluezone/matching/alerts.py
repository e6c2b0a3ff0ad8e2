"""Alerts: the words a person reads, in each deployment language.

One alert per exposure. It says which tier (F1: met a confirmed case; F2:
met an F1), on which date, how it was found (Bluetooth, or a source a plugin
words through ``bluezone_alert_sources``, e.g. a venue check-in) and what
to do: declare health, contact the local health station, and self-isolate
until a date (exposure date + ``[risk] isolation_days``). A LOW-risk
encounter (a deployment with ``[risk] day_risk_levels``, docs/risk.md) gets a
notice instead: met whom, when, low risk, no isolation, watch your health.

The texts come from the message catalogue; an alert stores each deployment
language's text when it is made (``Alert.messages``), so what a person was
told stays as it was, even after the catalogue changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..i18n import N_, SOURCE_LANGUAGE, Message, _, text
from ..models import Alert, Exposure, Tier
from .windows import risk_setting

#: The core's own exposure source; plugins word theirs through ``bluezone_alert_sources``.
_SOURCE = {"ble": N_("over Bluetooth")}
#: Added when the keys came from another province through the national gateway
#: (``details["origin"]``, docs/federation.md): never which province.
OTHER_PROVINCE = "another_province"
_OTHER_PROVINCE_TEXT = N_("The case reported in another province.")

# TRANSLATORS: how a date is written in an alert (a strftime pattern: %d day, %m month, %Y year).
DATE_FORMAT = N_("%Y-%m-%d")


def alert_sources(pm: Any) -> dict[str, str]:
    """``source -> msgid`` the plugins of ``pm`` add (sync hook), translated
    through the catalogue (the plugin's domain) when an alert is built; a
    source two plugins word differently is refused by name."""
    out: dict[str, str] = {}
    hook = getattr(getattr(pm, "hook", None), "bluezone_alert_sources", None)
    for result in (hook() if hook is not None else []):
        for source, words in (result or {}).items():
            if not isinstance(words, str):
                raise ValueError(f"bluezone_alert_sources: the source {source!r} must map to one English "
                                 "text marked with N_(), translated through the plugin's catalogue")
            if source in out and out[source] != words:
                raise ValueError(f"bluezone_alert_sources: two plugins word the source {source!r}")
            out[source] = words
    return out


def _templates(tier: Tier) -> str:
    if tier is Tier.F1:
        return N_("F1 WARNING: On {date} you were in close contact with a confirmed case (F0) {source}. "
                  "Please now: (1) declare your health; (2) contact your local health station; "
                  "(3) self-isolate at home until the end of {until}.")
    return N_("F2 WARNING: On {date} you were in close contact with an F1 (a close contact of a case) {source}. "
              "Please now: (1) declare your health; (2) contact your local health station; "
              "(3) self-isolate and watch your health at home until the end of {until}.")


#: LOW level (docs/risk.md): a notice without isolation advice, through the message catalogue.
_LOW_WHOM = {Tier.F1: N_("a confirmed case (F0)"), Tier.F2: N_("an F1 (a close contact of a case)")}


def _low_message(tier: Tier, date: str, source: str, language: str) -> str:
    return text(_("LOW-RISK ENCOUNTER: On {date} you were near {whom} {source}, but only briefly or at a "
                  "distance. Your risk is low: you do not need to isolate. Watch your health; if you get a "
                  "fever, a cough or shortness of breath, declare your health and contact your local "
                  "health station.", date=date, whom=text(_LOW_WHOM[tier], language), source=source),
                language)


def format_date(day: dt.date, language: str) -> str:
    """A date as people in ``language`` write it (the catalogue's pattern; no locale needed)."""
    try:
        return day.strftime(text(DATE_FORMAT, language))
    except ValueError:  # a broken pattern in a catalogue: the unambiguous form
        return day.isoformat()


def message(tier: Tier, source: str, exposure_date: dt.date, until: dt.date, language: str,
            sources: dict[str, str] | None = None, *, low: bool = False) -> str:
    """The alert's text in one language; ``low`` for a LOW-risk encounter (no isolation advice)."""
    words = (sources or {}).get(source) or _SOURCE.get(source, _SOURCE["ble"])
    source_words = text(words, language)
    if low:
        return _low_message(tier, format_date(exposure_date, language), source_words, language)
    return Message(_templates(tier), {"date": format_date(exposure_date, language),
                                      "until": format_date(until, language),
                                      "source": source_words}).text(language)


def build_alert(exposure: Exposure, risk: dict[str, Any], languages: list[str], now: int,
                sources: dict[str, str] | None = None) -> Alert:
    """The alert for an exposure, with a message in every deployment language
    (and English, the catalogue's source language, as the fallback); ``sources``
    is :func:`alert_sources` of the plugin set, wording sources the core does not know."""
    # a LOW-risk encounter advises no isolation: "until" is the day itself
    until = exposure.date if exposure.low else (
        exposure.date + dt.timedelta(days=int(risk_setting(risk, "isolation_days"))))
    langs = list(dict.fromkeys([*languages, SOURCE_LANGUAGE]))
    return Alert(
        exposure_id=exposure.exposure_id, tier=exposure.tier, source=exposure.source,
        exposure_date=exposure.date, created_at=now, isolate_until=until,
        messages={lang: message(exposure.tier, exposure.source, exposure.date, until, lang, sources,
                                low=exposure.low)
                  + (" " + text(_OTHER_PROVINCE_TEXT, lang) if exposure.details.get("origin") == OTHER_PROVINCE else "")
                  for lang in langs},
    )
