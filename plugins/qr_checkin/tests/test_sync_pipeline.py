"""Venue traces through the whole device pipeline (bluezone.sync), not just the hook:
a signed batch becomes a persisted venue alert; a badly signed one is skipped."""

from __future__ import annotations

import base64

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.config import config_from_dict
from bluezone.feeds import sign_payload
from bluezone.models import PublishedBatch, Tier
from bluezone.sync import process_batches
from bluezone_qr_checkin import checkin, tracing
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb

from qr_helpers import T0, Clock, authority, make_venue, open_store


def _config(public_pem: str, ha) -> object:
    return config_from_dict({
        "deployment": {"name": "Gia Lai", "region": "452"},
        "plugins": {"disabled": ["alerts-console"], "allow_missing": ["alert sink"]},
        "authority": {"url": "https://authority.example.vn",
                      "export_keys": [{"key_id": "452", "public_key": public_pem}]},
        "qr_checkin": {"authority_public_key": base64.b64encode(bytes(ha.public_key)).decode()},
    })


def _batch(created, ha, signer, start: int, end: int, name: str) -> PublishedBatch:
    code = pb.QRCodeTrace()
    code.ParseFromString(created.tracing_code)
    result = tracing.authority_traces(tracing.owner_pretraces(code, start, end), bytes(ha), "Ca F0 / F0 case")
    payload = pb.TraceBatch(version=3, startTimestamp=start, endTimestamp=end, traces=result.traces)
    return PublishedBatch("venue-traces", name, sign_payload(payload.SerializeToString(), signer, key_id="452"),
                          start, end)


def test_signed_trace_batch_becomes_one_persisted_venue_alert(tmp_path):
    ha = authority()
    signer = ec.generate_private_key(ec.SECP256R1())
    pem = signer.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    config = _config(pem, ha)
    created, venue = make_venue(ha)
    clock = Clock()
    with open_store(tmp_path / "phone.db", clock) as store:
        checkin.check_in(store, venue)
        clock.t = T0 + 3600
        checkin.check_out(store)
        good = _batch(created, ha, signer, T0 - 3600, T0 + 3600, "1-2-1.zip")
        forged = _batch(created, ha, ec.generate_private_key(ec.SECP256R1()), T0 - 3600, T0 + 3600, "1-2-2.zip")

        stats = process_batches(store, config, [forged], now=T0 + 7200)
        assert stats.batches_failed == 1 and store.alerts() == [] and not store.batch_processed("venue-traces",
                                                                                              forged.content_id)
        stats = process_batches(store, config, [good, good], now=T0 + 7200)
        [alert] = store.alerts()
        assert (alert.tier, alert.source) == (Tier.F1, "venue")
        assert "địa điểm" in alert.message("vi") and "venue" in alert.message("en")
        assert stats.alerts_new == 1 and store.batch_processed("venue-traces", good.content_id)


def test_a_renamed_or_rebuilt_trace_batch_adds_no_alert_or_notice(tmp_path):
    """Venue traces go through the same content identity: a copy under another
    name is skipped, and a rebuilt batch for the same venue and window (new
    bytes, signed again) adds no second alert or notice."""
    ha = authority()
    signer = ec.generate_private_key(ec.SECP256R1())
    pem = signer.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    config = _config(pem, ha)
    created, venue = make_venue(ha)
    clock = Clock()
    with open_store(tmp_path / "phone.db", clock) as store:
        checkin.check_in(store, venue)
        clock.t = T0 + 3600
        checkin.check_out(store)
        good = _batch(created, ha, signer, T0 - 3600, T0 + 3600, "1-2-1.zip")
        assert process_batches(store, config, [good], now=T0 + 7200).alerts_new == 1
        renamed = PublishedBatch(good.feed, "1-2-77.zip", good.payload, good.start_timestamp, good.end_timestamp)
        rebuilt = _batch(created, ha, signer, T0 - 3600, T0 + 3600, "1-2-78.zip")
        assert rebuilt.payload != good.payload
        stats = process_batches(store, config, [renamed, rebuilt], now=T0 + 7200)
        assert (stats.batches_skipped, stats.batches_processed, stats.alerts_new) == (1, 1, 0)
        assert len(store.alerts()) == 1 and len(store.exposures()) == 1
        [visit] = store.visits(checkin.SOURCE)
        assert len(checkin.VisitData.from_bytes(visit.data).notices) == 1


def test_venue_traces_are_not_matched_once_venues_consent_is_withdrawn(tmp_path):
    """Withdrawn consent to venues stops the matching too (issue 19), even for
    visits still on the phone: the batch is verified and marked, nothing is
    matched, no alert or notice is kept; a new check-in is refused."""
    from bluezone.consent import record

    ha = authority()
    signer = ec.generate_private_key(ec.SECP256R1())
    pem = signer.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    config = _config(pem, ha)
    created, venue = make_venue(ha)
    clock = Clock()
    with open_store(tmp_path / "phone.db", clock) as store:
        checkin.check_in(store, venue)
        clock.t = T0 + 3600
        checkin.check_out(store)
        record(store, {"venues": False}, "1")
        stats = process_batches(store, config, [_batch(created, ha, signer, T0 - 3600, T0 + 3600, "1-2-1.zip")],
                                now=T0 + 7200)
        assert stats.batches_processed == 1 and store.alerts() == []
        with pytest.raises(checkin.CheckinError, match="bluezone consent give venues"):
            checkin.check_in(store, venue)
        assert len(store.visits()) == 1
