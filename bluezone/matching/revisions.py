"""Revised keys change the warnings they caused, on the phone.

The authority may revise a published key (the Google key server's rules,
docs/server.md): a likely case (clinical diagnosis) becomes confirmed by a
test, or staff revoke a false positive. The key then comes back in a later
export with its new report type (in ``revised_keys``). On the phone:

1. every window the store keeps is tagged with a keyed hash of the key that
   made it (:func:`key_tag`, HMAC with the store's key, so the database
   alone does not say which published key this phone met);
2. a matched key whose tag has windows is a revision, not a new contact:
   its windows take the new report type (and the tier it implies), or are
   deleted when the key no longer warns (revoked);
3. each day it touched is scored again over all its windows; an exposure
   still reached is updated (and its alert marked ``upgraded`` when the
   report behind it is now a confirmed test), one no longer reached is
   removed and its alert ``withdrawn``, with words that say so; a day that
   now reaches the threshold is returned as a new exposure (an upgrade can
   warn for the first time).

Windows kept before this tagging existed carry no tag and cannot be revised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from ..i18n import N_, _
from ..models import DailyRisk, Exposure, ExposureWindow, ReportType, Tier
from .alerts import format_date
from .explain import describe_windows
from .matcher import Match
from .windows import effective_report_type, window_from_json, window_to_json

UPGRADED = "upgraded"
WITHDRAWN = "withdrawn"

_UPGRADE = N_("UPDATE: the person you met is now confirmed by a test. {warning}")
_WITHDRAWN = N_("WARNING WITHDRAWN ({tier}, {date}): the health authority revoked the report of the person you "
                "met (a false report). You need not isolate because of this contact.")


def key_tag(store: Any, feed: str, key_data: bytes) -> bytes:
    """The keyed tag under which a published key's windows are kept."""
    return store.contribution_tag(b"key\x00" + feed.encode() + b"\x00" + bytes(key_data))


def apply(store: Any, feed: str, matches: Sequence[Match], risk: dict[str, Any]) -> tuple[list[Match], set[str]]:
    """Apply the revisions ``matches`` carry: a matched key whose windows the
    store keeps, with another report type, changes those windows. Returns
    the matches for the usual path (all of them: ``once.uncounted`` drops
    what was counted) and the ISO days whose windows changed. Call inside
    the batch's transaction."""
    by_key: dict[bytes, list[Match]] = defaultdict(list)
    for m in matches:
        by_key[m.key[0]].append(m)
    fresh: list[Match] = []
    days: set[str] = set()
    for key_data, key_matches in by_key.items():
        # Every match goes on: intervals already counted are dropped by
        # ``once.uncounted``, new intervals of a known key still count.
        fresh.extend(key_matches)
        stored = store.windows_of_key(key_tag(store, feed, key_data))
        if not stored:
            continue
        new_type = effective_report_type(key_matches[0].key[3], risk)
        uploader = new_type.tier
        for window_id, day, _tier, text in stored:
            window = window_from_json(text)
            if window.report_type == new_type:
                continue  # the same key again: nothing changes
            days.add(day)
            if uploader is None:  # revoked (or a type that warns nobody): the windows go
                store.delete_window(window_id)
            else:
                tier = uploader.exposed_tier()
                store.rewrite_window(window_id, int(tier),
                                     window_to_json(dataclasses.replace(window, report_type=new_type, tier=tier)))
    return fresh, days


def _messages(alert: Any, state: str, tier: Tier, day: dt.date) -> dict[str, str]:
    langs = list(dict.fromkeys([*alert.messages, "vi", "en"]))
    if state == WITHDRAWN:
        return {lang: _(_WITHDRAWN, tier=tier.label, date=format_date(day, lang)).text(lang) for lang in langs}
    return {lang: _(_UPGRADE, warning=alert.message(lang)).text(lang) for lang in langs}


def rescore(store: Any, days: set[str], risk: dict[str, Any], score: Callable[[list[ExposureWindow]], list[DailyRisk]],
            source: str = "ble") -> list[Exposure]:
    """Score ``days`` again over all their windows and bring the stored
    exposures and alerts in line; returns exposures reached for the first time."""
    if not days:
        return []
    windows = [window_from_json(text) for _day, _tier, text in store.exposure_windows(days)]
    reached = {(r.date, r.tier): r for r in score(windows) if r.exposed and r.tier is not Tier.NONE}
    existing = {(e.date, e.tier): e for e in store.exposures() if e.source == source and e.date.isoformat() in days}
    alerts = {a.exposure_id: a for a in store.alerts()}
    new: list[Exposure] = []
    for day in sorted(days):
        date = dt.date.fromisoformat(day)
        for tier in (Tier.F1, Tier.F2):
            risk_of_day = reached.get((date, tier))
            before = existing.get((date, tier))
            if risk_of_day is not None:
                details = {"max_window_score": round(risk_of_day.max_window_score, 3),
                           **describe_windows([w for w in windows if w.date == date and w.tier is tier], risk)}
                exposure = Exposure(tier, source, date, round(risk_of_day.score, 3),
                                    round(risk_of_day.weighted_minutes, 2), details)
                if before is None:
                    new.append(exposure)
                    continue
                exposure.details = {**details, **({"suppressed": before.details["suppressed"]}
                                                  if "suppressed" in before.details else {})}
                store.replace_exposure(exposure)
                alert = alerts.get(exposure.exposure_id)
                confirmed = ReportType.CONFIRMED_TEST.name.lower()
                if (alert is not None and alert.state == "active" and confirmed in details["report_types"]
                        and confirmed not in before.details.get("report_types", [confirmed])):
                    store.change_alert(alert.exposure_id, UPGRADED, _messages(alert, UPGRADED, tier, date))
            elif before is not None:
                store.delete_exposure(before.exposure_id)
                alert = alerts.get(before.exposure_id)
                if alert is not None and alert.state != WITHDRAWN:
                    store.change_alert(alert.exposure_id, WITHDRAWN, _messages(alert, WITHDRAWN, tier, date))
    return new
