"""What ``bluezone status`` shows: the phone's own report, each warning and why.

Kept apart from the command so the JSON (``status --json``, which tests and
other programs read) and the text are built from the same facts:

* ``reported``: the phone's own report while its isolation lasts
  (:mod:`bluezone.own_report`), with dates and what to do;
  ``report_revoked_on``: when that report was withdrawn (revoked);
* ``alerts``: each warning with its state (``active``, ``upgraded``,
  ``withdrawn``) and ``why``: source, minutes weighted and unweighted,
  closeness in plain words, the report type behind it; for a venue, the
  venue's name and the hours of this phone's own visit (read from the
  visit the phone keeps sealed, never from the trace);
* ``information``: exposures kept without a warning because the phone had
  reported itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from . import own_report
from .i18n import N_, _, text
from .matching.explain import closeness_words, report_words, source_words
from .models import Exposure, Tier


def _hhmm(ts: int, zone: ZoneInfo | None) -> str:
    return dt.datetime.fromtimestamp(int(ts), zone).strftime("%H:%M")


def _visit_facts(store: Any, visit_id: str | None, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The venue's name and the hours of this phone's own visit."""
    if not visit_id:
        return {}
    visit = next((v for v in store.visits() if v.visit_id == visit_id), None)
    if visit is None:
        return {}
    try:
        title = json.loads(visit.data).get("title")
    except (ValueError, AttributeError):
        title = None
    until = visit.departure if visit.departure is not None else (visit.auto_checkout or visit.arrival)
    return {"venue": title if isinstance(title, str) else None,
            "visit_from": dt.datetime.fromtimestamp(visit.arrival, zone).isoformat(timespec="minutes"),
            "visit_until": dt.datetime.fromtimestamp(int(until), zone).isoformat(timespec="minutes"),
            "visit_hours": f"{_hhmm(visit.arrival, zone)}–{_hhmm(int(until), zone)}"}


def why(store: Any, exposure: Exposure | None, language: str, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The facts behind one exposure, with words in ``language`` and the
    visit's hours in ``zone`` (the deployment's; None: the machine's)."""
    if exposure is None:
        return {}
    d = exposure.details
    out: dict[str, Any] = {
        "source": exposure.source, "source_words": source_words(exposure.source, language),
        "minutes_weighted": round(exposure.minutes, 2),
        "minutes_unweighted": d.get("minutes_unweighted", round(exposure.minutes, 2)),
    }
    if exposure.source == "venue":
        out.update(_visit_facts(store, d.get("visit_id"), zone))
        out["report_types"] = []
        out["report_words"] = _("a venue trace published by the health authority").text(language)
        return out
    # keys from another province (docs/federation.md): only that, never which province
    out["from_another_province"] = d.get("origin") == "another_province"
    out["minutes_by_closeness"] = d.get("minutes_by_closeness", {})
    out["closeness"] = d.get("closeness")
    out["closeness_words"] = closeness_words(d.get("closeness"), d.get("attenuation_thresholds_db"), language)
    out["report_types"] = list(d.get("report_types", []))
    out["report_words"] = ", ".join(report_words(n, language) for n in out["report_types"])
    return out


def collect(store: Any, language: str, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """Everything ``status --json`` prints about reports, warnings and why."""
    exposures = {e.exposure_id: e for e in store.exposures()}
    alerts = store.alerts()
    alerted = {a.exposure_id for a in alerts}
    live = [a for a in alerts if a.state != "withdrawn"]
    current = own_report.current(store)
    withdrawn = own_report.revoked(store)
    return {
        "status": max((a.tier for a in live), default=Tier.NONE).label,
        "reported": current.as_json(language) if current is not None else None,
        # the day this phone's report was withdrawn (a "negative" code), while nothing was reported since
        "report_revoked_on": withdrawn.reported_on.isoformat() if withdrawn is not None else None,
        "alerts": [
            {"tier": a.tier.label, "source": a.source, "exposure_date": a.exposure_date.isoformat(),
             "isolate_until": a.isolate_until.isoformat(), "state": a.state, "message": a.message(language),
             "why": why(store, exposures.get(a.exposure_id), language, zone)} for a in alerts],
        "information": [
            {"tier": e.tier.label, "source": e.source, "exposure_date": e.date.isoformat(),
             "suppressed": e.details["suppressed"], "why": why(store, e, language, zone)}
            for e in exposures.values() if "suppressed" in e.details and e.exposure_id not in alerted],
    }


_LABELS = {
    "why": N_("Why: {reasons}"), "minutes": N_("{weighted} weighted minutes ({counted} minutes counted)"),
    "closeness": N_("closeness: {words}"), "report": N_("report: {words}"), "venue": N_("venue: {name}"),
    "hours": N_("you were there: {hours}"), "withdrawn": N_("WITHDRAWN"), "upgraded": N_("UPDATED"),
    "info": N_("Contacts kept for information only (you reported yourself)"),
}


def why_line(facts: dict[str, Any], language: str) -> str:
    """One line of plain words for a warning's ``why``."""
    if not facts:
        return ""
    parts = [facts["source_words"], _(_LABELS["minutes"], weighted=facts["minutes_weighted"],
                                      counted=facts["minutes_unweighted"]).text(language)]
    if facts.get("closeness_words"):
        parts.append(_(_LABELS["closeness"], words=facts["closeness_words"]).text(language))
    if facts.get("venue"):
        parts.append(_(_LABELS["venue"], name=facts["venue"]).text(language))
    if facts.get("visit_hours"):
        parts.append(_(_LABELS["hours"], hours=facts["visit_hours"]).text(language))
    if facts.get("report_words"):
        parts.append(_(_LABELS["report"], words=facts["report_words"]).text(language))
    return _(_LABELS["why"], reasons="; ".join(parts)).text(language)


def label(key: str, language: str) -> str:
    return text(_LABELS[key], language)
