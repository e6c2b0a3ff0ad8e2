"""On-device matching of published venue traces (feed ``venue-traces``).

For every trace, the phone tries the records of the visits that overlap the
traced window; a record opens only with the ``sk_id`` of its own venue and
hour. On success it checks the stay against the window and opens the
authority's notice id with the venue's notification key. A trace whose venue
the phone never visited opens nothing and teaches it nothing.

The result is an :class:`~bluezone.models.Exposure` with tier F1 and source
``venue``; it enters the same alerting pipeline as BLE matches. The exposure
carries no venue identity: only the visit's local id, dates and minutes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bluezone import BadBatch, Exposure, PublishedBatch, Tier, utc_date
from bluezone.i18n import _

from . import checkin, notices, records
from .ibe import load_secret_key
from .mcl import CryptoFormatError
from .proto import crowdnotifier_pb2 as pb

FEED = "venue-traces"
log = logging.getLogger(__name__)


class TraceBatchError(BadBatch):
    """A downloaded venue-trace batch that is malformed or not signed by the authority."""


def parse_batch(payload: bytes) -> pb.TraceBatch:
    batch = pb.TraceBatch()
    try:
        batch.ParseFromString(payload)
    except Exception:
        raise TraceBatchError(_("Not a venue-trace batch")) from None
    if batch.version != 3:
        raise TraceBatchError(_("Unsupported venue-trace batch version {version}", version=batch.version))
    return batch


def open_signed_batch(data: bytes, public_keys: list[dict[str, str]] | None) -> pb.TraceBatch:
    """Verify a feed file's signature (bluezone.feeds) and parse its TraceBatch."""
    from bluezone import FeedError, open_payload

    try:
        signed = open_payload(data, public_keys)
    except FeedError as e:
        raise TraceBatchError(_("Venue-trace batch refused: {reason}", reason=e)) from None
    return parse_batch(signed.payload)


@dataclass(frozen=True, slots=True)
class VenueMatch:
    visit_id: str
    match: records.TraceMatch


def match_traces(traces: list[pb.Trace], store: Any) -> list[VenueMatch]:
    """Every (visit, trace) pair whose record opens and whose times overlap."""
    visits = [(v, checkin.VisitData.from_bytes(v.data)) for v in store.visits(checkin.SOURCE)]
    found: list[VenueMatch] = []
    for trace in traces:
        try:
            sk = load_secret_key(bytes(trace.secretKeyForIdentity))
        except CryptoFormatError as e:
            log.warning("skipping a malformed trace: %s", e)
            continue
        for visit, data in visits:
            if checkin.planned_departure(visit) < trace.startTime or visit.arrival > trace.endTime:
                continue
            for raw in data.records:
                try:
                    hit = records.match_record(trace, sk, records.record_from_json(raw))
                except CryptoFormatError as e:
                    log.warning("skipping a record: %s", e)
                    continue
                if hit is not None:
                    found.append(VenueMatch(visit.visit_id, hit))
                    break
    return found


def exposures_from(found: list[VenueMatch]) -> list[Exposure]:
    """One exposure per visit and day (the pipeline keys exposures by day)."""
    out: dict[tuple[str, Any], Exposure] = {}
    for m in found:
        day = utc_date(m.match.overlap_start)
        key = (m.visit_id, day)
        if key in out:
            out[key].minutes = max(out[key].minutes, m.match.minutes)
            continue
        out[key] = Exposure(tier=Tier.F1, source="venue", date=day, score=1.0, minutes=m.match.minutes,
                            details={"visit_id": m.visit_id, "overlap_start": m.match.overlap_start,
                                     "overlap_end": m.match.overlap_end})
    return list(out.values())


def match_batch(batch: PublishedBatch, store: Any, public_keys: list[dict[str, str]] | None) -> list[Exposure]:
    """The ``venue-traces`` feed's ``match`` work for one batch.

    The visit remembers the trace's notice *id* only; the text shown for it
    comes from the phone's own catalogue (:func:`.notices.render`). The
    trace's free-text ``message`` is never stored or shown. With consent to
    venues withdrawn, nothing is matched (the batch is still verified)."""
    from bluezone import consent_allowed

    traces = list(open_signed_batch(batch.payload, public_keys).traces)
    if not consent_allowed(store, "venues"):
        return []
    checkin.close_expired(store)
    found = match_traces(traces, store)
    with store.transaction():
        for m in found:
            checkin.add_notice(store, m.visit_id, {"notice": notices.decode(m.match.country_data)
                                                   or notices.DEFAULT_NOTICE,
                                                   "start": m.match.overlap_start, "end": m.match.overlap_end})
    return exposures_from(found)
