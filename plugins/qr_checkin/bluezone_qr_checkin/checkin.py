"""Citizen check-in: visits on the phone, and nowhere else.

A visit is one :class:`bluezone.models.Visit` in the device store (encrypted
at rest by the store). Its opaque ``data`` is :class:`VisitData`: what the
person saw (name, address, for their own diary), the exact QR payload (so
times can be edited and records re-encrypted) and the IBE records, one per
affected hour. Records are written at check-in for the planned stay (arrival
+ default stay), so a phone that is never opened again still has correct
records: the automatic checkout needs no code to run. Checkout and edits
re-encrypt them.

One venue at a time: checking in elsewhere ends the open visit at the new
arrival, in the same transaction.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from bluezone import Visit
from bluezone.i18n import _

from . import payload as qp
from . import records

SOURCE = "venue"
DEFAULT_STAY = 2 * 3600
MAX_STAY = 24 * 3600


class CheckinError(ValueError):
    """A check-in action that cannot be done; raised with a
    :class:`bluezone.i18n.Message`, so ``str()`` is in the deployment's languages."""


@dataclass
class VisitData:
    """The plugin's record inside ``Visit.data`` (JSON)."""

    payload: str  # base64url of the exact QR payload
    title: str
    address: str
    records: list[dict[str, str]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)  # matched traces' messages
    version: int = 1

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "VisitData":
        return cls(**json.loads(raw))

    def venue(self) -> qp.VenueInfo:
        return qp.parse_payload(qp.b64url_decode(self.payload), check_time=False)


def planned_departure(visit: Visit) -> int:
    """Departure if known, else the automatic checkout time."""
    return visit.departure if visit.departure is not None else int(visit.auto_checkout or visit.arrival)


def is_open(visit: Visit, now: int) -> bool:
    return visit.departure is None and (visit.auto_checkout or 0) > now


def close_expired(store: Any, now: int | None = None) -> int:
    """Apply automatic checkouts that are due; returns how many. The records
    were already written for this departure, so only the row changes."""
    now = store.now() if now is None else now
    closed = 0
    with store.transaction():
        for v in store.visits(SOURCE):
            if v.departure is None and v.auto_checkout is not None and v.auto_checkout <= now:
                store.save_visit(Visit(v.visit_id, v.source, v.arrival, v.auto_checkout, v.data, v.auto_checkout))
                closed += 1
    return closed


def current_visit(store: Any, now: int | None = None) -> Visit | None:
    now = store.now() if now is None else now
    close_expired(store, now)
    open_visits = [v for v in store.visits(SOURCE) if is_open(v, now)]
    return open_visits[-1] if open_visits else None


def _with_records(venue: qp.VenueInfo, arrival: int, departure: int, data: VisitData) -> VisitData:
    data.records = [records.record_to_json(r) for r in records.encrypt_visit(venue, arrival, departure)]
    return data


@dataclass(frozen=True, slots=True)
class CheckinResult:
    visit: Visit
    venue: qp.VenueInfo
    ended: Visit | None  # the previous visit this check-in ended, if any


def check_in(store: Any, venue: qp.VenueInfo, now: int | None = None,
             default_stay: int | None = None) -> CheckinResult:
    """Start a visit at ``venue`` now. The caller has already shown the venue's
    name and address and the person confirmed. Refused (:class:`CheckinError`,
    nothing stored) when the person withdrew consent to venue check-in."""
    from bluezone import ConsentWithdrawn, consent_allowed

    if not consent_allowed(store, "venues"):
        raise CheckinError(str(ConsentWithdrawn("venues")))
    now = store.now() if now is None else now
    stay = venue.default_stay_seconds or default_stay or DEFAULT_STAY
    stay = min(stay, MAX_STAY)
    data = _with_records(venue, now, now + stay,
                         VisitData(qp.b64url_encode(venue.payload), venue.title, venue.address))
    visit = Visit("v" + secrets.token_hex(12), SOURCE, now, None, data.to_bytes(), now + stay)
    ended = None
    with store.transaction():
        previous = current_visit(store, now)
        if previous is not None:
            ended = _set_times(store, previous, previous.arrival, max(now, previous.arrival + 1))
        store.save_visit(visit)
    return CheckinResult(visit, venue, ended)


def _set_times(store: Any, visit: Visit, arrival: int, departure: int) -> Visit:
    data = VisitData.from_bytes(visit.data)
    data = _with_records(data.venue(), arrival, departure, data)
    updated = Visit(visit.visit_id, visit.source, arrival, departure, data.to_bytes(), visit.auto_checkout)
    store.save_visit(updated)
    return updated


def check_out(store: Any, now: int | None = None) -> Visit:
    """End the open visit now."""
    now = store.now() if now is None else now
    with store.transaction():
        visit = current_visit(store, now)
        if visit is None:
            raise CheckinError(_("You are not checked in anywhere"))
        return _set_times(store, visit, visit.arrival, max(now, visit.arrival + 1))


def find_visit(store: Any, visit_id: str) -> Visit:
    for v in store.visits(SOURCE):
        if v.visit_id == visit_id:
            return v
    raise CheckinError(_("No visit {visit_id}", visit_id=visit_id))


def edit_times(store: Any, visit_id: str, arrival: int | None = None, departure: int | None = None,
               now: int | None = None) -> Visit:
    """Correct a visit's arrival and/or departure (people forget to check out)."""
    now = store.now() if now is None else now
    with store.transaction():
        visit = find_visit(store, visit_id)
        a = visit.arrival if arrival is None else int(arrival)
        d = planned_departure(visit) if departure is None else int(departure)
        if d <= a:
            raise CheckinError(_("Departure must be after arrival"))
        if d - a > MAX_STAY:
            raise CheckinError(_("A visit cannot be longer than 24 hours"))
        if a > now:
            raise CheckinError(_("Arrival cannot be in the future"))
        if a < now - store.retention_days * 86_400:
            raise CheckinError(_("Arrival is older than the retention window"))
        return _set_times(store, visit, a, d)


def add_notice(store: Any, visit_id: str, notice: dict[str, Any]) -> None:
    """Remember a matched trace's message in the (encrypted) visit, once."""
    visit = find_visit(store, visit_id)
    data = VisitData.from_bytes(visit.data)
    if notice not in data.notices:
        data.notices.append(notice)
        store.save_visit(Visit(visit.visit_id, visit.source, visit.arrival, visit.departure, data.to_bytes(),
                               visit.auto_checkout))
