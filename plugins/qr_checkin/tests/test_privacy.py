"""docs/privacy.md rule 6 and the issue's privacy list, as tests."""

from __future__ import annotations

import sqlite3

import nacl.exceptions
import nacl.public
import nacl.secret
import pytest

from bluezone_qr_checkin import checkin, derive, ibe, kiosk, records, tracing
from bluezone_qr_checkin import venue as vmod
from bluezone_qr_checkin.mcl import Fr, load_fr
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb
from qr_helpers import T0, Clock, authority, make_venue, open_store


def _code(created) -> pb.QRCodeTrace:
    code = pb.QRCodeTrace()
    code.ParseFromString(created.tracing_code)
    return code


def _visit_records(info):
    return records.encrypt_visit(info, T0, T0 + 1800)


def test_the_venue_alone_cannot_decrypt_visitor_records():
    ha = authority()
    created, info = make_venue(ha)
    code = _code(created)
    [rec] = _visit_records(info)
    ident = derive.identity(created.payload, derive.affected_hours(T0, T0)[0])
    owner_key = ibe.key_derive(load_fr(code.masterSecretKeyLocation), ident)  # everything the owner has
    assert ibe.decrypt(ident, owner_key, rec) is None


def test_the_authority_alone_cannot_trace_a_venue():
    ha = authority()
    created, info = make_venue(ha)
    [rec] = _visit_records(info)
    ident = derive.identity(created.payload, derive.affected_hours(T0, T0)[0])
    msk_ha = Fr.deserialize(nacl.public.SealedBox(ha).decrypt(_code(created).cipherTextHealthAuthority))
    assert ibe.decrypt(ident, ibe.key_derive(msk_ha, ident), rec) is None
    # and the authority cannot forge the owner's part: a random partial key is refused
    upload = tracing.owner_pretraces(_code(created), T0 - 600, T0)
    upload.preTraces[0].preTrace.partialSecretKeyForIdentityOfLocation = \
        ibe.key_derive(Fr.random(), ident).serialize()
    with pytest.raises(tracing.TraceError, match="does not complete"):
        tracing.authority_traces(upload, bytes(ha), "x")


def test_the_sealed_authority_part_needs_the_authority_key():
    ha, other = authority(), authority()
    created, _ = make_venue(ha)
    with pytest.raises(nacl.exceptions.CryptoError):
        nacl.public.SealedBox(other).decrypt(_code(created).cipherTextHealthAuthority)
    with pytest.raises(tracing.TraceError, match="does not open"):
        tracing.authority_traces(tracing.owner_pretraces(_code(created), T0 - 600, T0), bytes(other), "x")


def test_a_stored_record_does_not_reveal_the_venue(tmp_path):
    ha = authority()
    created_a, a = make_venue(ha, name="Bệnh viện Đa khoa tỉnh Gia Lai", address="132 Tôn Thất Tùng, Pleiku")
    created_b, b = make_venue(ha, name="Quán B", address="Pleiku")
    ra, rb = records.encrypt_visit(a, T0, T0 + 1800), records.encrypt_visit(b, T0, T0 + 1800)
    # same shape whatever the venue: lengths depend on nothing venue-specific
    assert [tuple(map(len, (r.c1, r.c2, r.c3, r.nonce))) for r in ra] == \
        [tuple(map(len, (r.c1, r.c2, r.c3, r.nonce))) for r in rb]
    hour = derive.affected_hours(T0, T0)[0]
    secrets_of_a = [created_a.payload, a.description.encode(), a.address.encode(), a.master_public_key, a.seed,
                    derive.preid(created_a.payload), derive.identity(created_a.payload, hour),
                    derive.payload_keys(created_a.payload).notification_key]
    blob = b"".join(r.c1 + r.c2 + r.c3 + r.nonce for r in ra)
    assert not any(s in blob or s[:16] in blob for s in secrets_of_a)
    # the same visit encrypted twice is unlinkable (randomised)
    assert records.encrypt_visit(a, T0, T0 + 1800)[0].c1 != ra[0].c1
    # and on disk the whole visit (name included) is ciphertext
    with open_store(tmp_path / "d.db", Clock()) as store:
        checkin.check_in(store, a)
    raw = (tmp_path / "d.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("d.db-*") if p.is_file())
    assert "Bệnh viện".encode() not in raw and a.master_public_key[:16] not in raw


def test_a_published_trace_tells_nothing_to_non_visitors(tmp_path):
    ha = authority()
    created_a, a = make_venue(ha, name="Quán A")
    _, b = make_venue(ha, name="Quán B")
    result = tracing.authority_traces(tracing.owner_pretraces(_code(created_a), T0 - 3600, T0 + 3600),
                                      bytes(ha), "Ca F0 đã đến địa điểm này")
    from bluezone_qr_checkin.matching import match_traces

    clock = Clock()
    with open_store(tmp_path / "b.db", clock) as store:
        checkin.check_in(store, b)  # same time, other venue
        assert match_traces(result.traces, store) == []
    # the message is sealed with the venue's notification key, not readable from the trace
    for t in result.traces:
        # the whole message (two bytes such as "F0" turn up in random ciphertext about once in 700 runs)
        assert "Ca F0 đã đến địa điểm này".encode() not in t.encryptedAssociatedData
        with pytest.raises(nacl.exceptions.CryptoError):
            nacl.secret.SecretBox(derive.payload_keys(b.payload).notification_key).decrypt(
                t.encryptedAssociatedData, t.nonce)
    with open_store(tmp_path / "a.db", clock) as store:
        checkin.check_in(store, a)
        found = match_traces(result.traces, store)
        assert len(found) == 2 and len({m.visit_id for m in found}) == 1  # two traced hours, one visit


def test_a_visit_outside_the_traced_window_does_not_match(tmp_path):
    ha = authority()
    created, info = make_venue(ha)
    result = tracing.authority_traces(tracing.owner_pretraces(_code(created), T0 + 3 * 3600, T0 + 4 * 3600),
                                      bytes(ha), "x")
    from bluezone_qr_checkin.matching import match_traces

    with open_store(tmp_path / "d.db", Clock()) as store:
        checkin.check_in(store, info)
        checkin.check_out(store, now=T0 + 1200)
        assert match_traces(result.traces, store) == []


def test_old_visits_are_purged(tmp_path):
    _, info = make_venue(authority())
    clock = Clock()
    with open_store(tmp_path / "d.db", clock) as store:
        checkin.check_in(store, info)
        clock.t = T0 + 14 * 86_400 + 2 * 3600 + 1
        store.purge()
        assert store.visits("venue") == []
    clock.t = T0
    with open_store(tmp_path / "e.db", clock) as store:
        checkin.check_in(store, info)
    clock.t = T0 + 15 * 86_400
    with open_store(tmp_path / "e.db", clock) as store:  # purged on open
        assert store.visits("venue") == []


def test_kiosk_entries_are_sealed_and_expire(tmp_path):
    ha = authority()
    clock = Clock()
    with kiosk.VisitorLog(tmp_path / "log.db", bytes(ha.public_key), clock=clock) as log:
        log.record("Nguyễn Văn An", "0912 345 678")
        clock.t = T0 + 3600
        log.record("Trần Thị Bình", "+84 90 123 4567")
        sealed = log.sealed_between(T0 - 60, T0 + 60)
        assert len(sealed) == 1
        assert len({len(s) for s in log.sealed_between(T0, T0 + 3600)}) == 1  # no length hint
    raw = (tmp_path / "log.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("log.db-*"))
    assert "Nguyễn".encode() not in raw and b"0912" not in raw
    assert oct((tmp_path / "log.db").stat().st_mode & 0o777) == "0o600"
    [entry] = kiosk.open_entries(sealed, bytes(ha))
    assert (entry.name, entry.phone, entry.arrival) == ("Nguyễn Văn An", "0912 345 678", T0)
    with pytest.raises(nacl.exceptions.CryptoError):  # the venue (any other key) cannot read them back
        kiosk.open_entries(sealed, bytes(authority()))
    clock.t = T0 + 14 * 86_400 + 3600
    with kiosk.VisitorLog(tmp_path / "log.db", bytes(ha.public_key), clock=clock) as log:
        assert log.count() == 1  # the first entry expired on open
    with kiosk.VisitorLog(tmp_path / "log.db", bytes(ha.public_key), clock=clock) as log:
        with pytest.raises(kiosk.KioskError):
            log.record("", "0912345678")
        with pytest.raises(kiosk.KioskError):
            log.record("An", "call me")
        assert log.count() == 1


def test_a_running_kiosk_purges_on_schedule_and_the_purged_entries_leave_the_file(tmp_path):
    """The interactive kiosk stays open for weeks (it waits on its prompt):
    entries past retention go while it runs, from its background purge, and
    their sealed bytes are overwritten (secure_delete), not left in free
    space or in the WAL."""
    import time

    ha = authority()
    clock = Clock()
    path = tmp_path / "log.db"
    log = kiosk.VisitorLog(path, bytes(ha.public_key), clock=clock)
    try:
        for n in range(20):
            log.record(f"Khách {n}", f"0912 345 {n:03d}")
        old = log.sealed_between(T0, T0)
        assert len(old) == 20
        clock.t = T0 + 15 * 86_400
        log.record("Trần Thị Bình", "+84 90 123 4567")
        raw = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("log.db-*"))
        assert all(s in raw for s in old)  # still there: nothing purged since the kiosk started
        log.start_purging(every=0.05)
        deadline = time.monotonic() + 60
        while log.count() > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.count() == 1
    finally:
        log.close()
    raw = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("log.db-*"))
    assert [s for s in old if s[:32] in raw] == []


def test_managed_variant_one_passphrase_many_rooms():
    ha = authority()
    passphrase = vmod.new_passphrase()
    org = vmod.Organisation.from_json(vmod.Organisation.create(passphrase, bytes(ha.public_key)).to_json())
    p1 = org.add_room(vmod.VenueSpec("Công ty ABC", "Pleiku", room="Phòng 101"), now=T0)
    p2 = org.add_room(vmod.VenueSpec("Công ty ABC", "Pleiku", room="Phòng 102"), now=T0)
    from bluezone_qr_checkin import payload as qp

    r1, r2 = qp.parse_payload(p1, now=T0), qp.parse_payload(p2, now=T0)
    assert r1.master_public_key == r2.master_public_key and r1.seed != r2.seed and r1.room == "Phòng 101"
    [rec1] = records.encrypt_visit(r1, T0, T0 + 600)
    code = vmod.load_tracing_code(org.tracing_code("Phòng 101", passphrase))
    result = tracing.authority_traces(tracing.owner_pretraces(code, T0 - 600, T0 + 600), bytes(ha), "x")
    assert any(records.match_record(t, ibe.load_secret_key(t.secretKeyForIdentity), rec1) for t in result.traces)
    # room 102's visitor is not touched by room 101's trace
    [rec2] = records.encrypt_visit(r2, T0, T0 + 600)
    assert not any(records.match_record(t, ibe.load_secret_key(t.secretKeyForIdentity), rec2)
                   for t in result.traces)
    # a wrong passphrase yields keys the authority refuses
    wrong = vmod.load_tracing_code(org.tracing_code("Phòng 101", "x" * 43))
    with pytest.raises(tracing.TraceError):
        tracing.authority_traces(tracing.owner_pretraces(wrong, T0 - 600, T0 + 600), bytes(ha), "x")
