"""Citizen check-in on a real device store: records per hour, checkout, auto checkout, edits."""

from __future__ import annotations

import pytest

from bluezone_qr_checkin import checkin, derive, ibe, records
from bluezone_qr_checkin.mcl import Fr, load_fr
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb
from qr_helpers import T0, Clock, authority, make_venue, open_store


def _sk_for(created, ha, hour):
    """The full sk_id of a venue hour, computed as the two parties would together."""
    import nacl.public

    code = pb.QRCodeTrace()
    code.ParseFromString(created.tracing_code)
    msk_ha = Fr.deserialize(nacl.public.SealedBox(ha).decrypt(code.cipherTextHealthAuthority))
    ident = derive.identity(created.payload, hour)
    return ident, ibe.key_derive(load_fr(code.masterSecretKeyLocation) + msk_ha, ident)


def test_check_in_writes_one_record_per_hour_for_the_planned_stay(tmp_path):
    ha = authority()
    created, info = make_venue(ha, stay=2 * 3600)
    clock = Clock()
    with open_store(tmp_path / "d.db", clock) as store:
        result = checkin.check_in(store, info)
        v = result.visit
        assert v.departure is None and v.auto_checkout == T0 + 7200
        data = checkin.VisitData.from_bytes(v.data)
        assert data.title == info.description
        hours = derive.affected_hours(T0, T0 + 7200)
        assert len(data.records) == len(hours) == 3
        ident, sk = _sk_for(created, ha, hours[0])
        m = ibe.decrypt(ident, sk, records.record_from_json(data.records[0]))
        content = records.parse_plaintext(m)
        assert (content.arrival, content.departure) == (T0, T0 + 7200)


def test_checkout_reencrypts_with_the_real_departure(tmp_path):
    ha = authority()
    created, info = make_venue(ha)
    clock = Clock()
    with open_store(tmp_path / "d.db", clock) as store:
        checkin.check_in(store, info)
        clock.t = T0 + 1800
        v = checkin.check_out(store)
        assert v.departure == T0 + 1800
        data = checkin.VisitData.from_bytes(v.data)
        assert len(data.records) == 1
        ident, sk = _sk_for(created, ha, derive.affected_hours(T0, T0)[0])
        assert records.parse_plaintext(ibe.decrypt(ident, sk, records.record_from_json(data.records[0]))).departure \
            == T0 + 1800
        assert checkin.current_visit(store) is None
        with pytest.raises(checkin.CheckinError, match="not checked in"):
            checkin.check_out(store)


def test_automatic_checkout_after_the_default_stay(tmp_path):
    _, info = make_venue(authority(), stay=3600)
    clock = Clock()
    with open_store(tmp_path / "d.db", clock) as store:
        checkin.check_in(store, info)
        clock.t = T0 + 3599
        assert checkin.current_visit(store) is not None
        clock.t = T0 + 3600
        assert checkin.current_visit(store) is None
        [v] = store.visits("venue")
        assert v.departure == T0 + 3600


def test_one_venue_at_a_time(tmp_path):
    ha = authority()
    _, a = make_venue(ha, name="Quán A")
    _, b = make_venue(ha, name="Quán B")
    clock = Clock()
    with open_store(tmp_path / "d.db", clock) as store:
        checkin.check_in(store, a)
        clock.t = T0 + 600
        result = checkin.check_in(store, b)
        assert result.ended is not None and result.ended.departure == T0 + 600
        visits = store.visits("venue")
        assert len(visits) == 2
        open_now = [v for v in visits if checkin.is_open(v, clock.t)]
        assert [checkin.VisitData.from_bytes(v.data).title for v in open_now] == ["Quán B"]


def test_editing_times_and_refusing_bad_edits(tmp_path):
    ha = authority()
    created, info = make_venue(ha)
    clock = Clock(T0 + 4 * 3600)
    with open_store(tmp_path / "d.db", clock) as store:
        clock.t = T0
        v = checkin.check_in(store, info).visit
        clock.t = T0 + 4 * 3600
        edited = checkin.edit_times(store, v.visit_id, arrival=T0 - 1800, departure=T0 + 3 * 3600)
        assert (edited.arrival, edited.departure) == (T0 - 1800, T0 + 3 * 3600)
        data = checkin.VisitData.from_bytes(edited.data)
        assert len(data.records) == len(derive.affected_hours(T0 - 1800, T0 + 3 * 3600))
        before = store.visits("venue")
        for kw in ({"arrival": T0 + 5 * 3600}, {"departure": T0 - 3600},
                   {"arrival": T0 - 3600, "departure": T0 + 25 * 3600}):
            with pytest.raises(checkin.CheckinError):
                checkin.edit_times(store, v.visit_id, **kw)
        with pytest.raises(checkin.CheckinError):
            checkin.edit_times(store, "nope", arrival=T0)
        assert store.visits("venue") == before
