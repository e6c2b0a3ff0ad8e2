"""The sighting index a phone matches against: read cheaply from the store,
kept current across syncs, and giving exactly the matches of an index built
from every sighting object (what matching did before); and the dp3t-lowcost
fast path, equal to the schedule's own identifiers."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluezone.matching import matcher, pipeline
from bluezone.matching.derive import deriver_for, dp3t_block, generic_deriver
from bluezone.matching.fixtures import background_sightings, contact_sightings
from bluezone.matching.index import SightingIndex
from bluezone.matching.matcher import match_rows
from bluezone.models import ExposureKey, ReportType
from bluezone.schedules.dp3t_lowcost import SCHEDULE as DP3T
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore

DAY0 = 2_833_056 * 600  # a UTC midnight


def row(key: ExposureKey) -> tuple:
    return (key.key_data, key.rolling_start_interval_number, key.rolling_period, int(key.report_type),
            key.days_since_onset_of_symptoms, key.transmission_risk_level)


def gaen_key(day: int) -> ExposureKey:
    return ExposureKey(os.urandom(16), DAY0 // 600 + 144 * day, 144, 2, ReportType.CONFIRMED_TEST)


def published(contacts: list[ExposureKey], n: int = 600) -> list[tuple]:
    rows = [row(gaen_key(i % 6)) for i in range(n)]
    for i, k in enumerate(contacts):
        rows.insert((i * 97) % len(rows), row(k))
    return rows


def meet(store: DeviceStore, key: ExposureKey, day: int, hour: int, scans: int = 6) -> None:
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + day * 86400 + hour * 3600, scans))


def reference(store: DeviceStore, rows: list[tuple]) -> list:
    """Matches against every sighting read as an object, in time order: the
    index as it was built before it read only three columns."""
    return match_rows(rows, SightingIndex.build(list(store.sightings())), deriver_for(GAEN))


def test_store_index_gives_the_same_matches_and_reads_only_the_hits(tmp_path):
    contacts = [gaen_key(d) for d in range(4)]
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(3000, DAY0, 6, seed=5))
        for d, k in enumerate(contacts):
            meet(store, k, d, 9)
            meet(store, k, d, 9)  # two scans at the same times: ties keep row order
        rows = published(contacts)
        index = SightingIndex.from_store(store)
        got = match_rows(rows, index, deriver_for(GAEN))
        assert len(got) == 4 * 12
        assert got == reference(store, rows)
        # only the hit rows were read whole, not the 3,000 others
        assert len(index.objects) == len({id(m.sighting) for m in got}) == 48


def test_a_kept_index_follows_appends_purges_and_reused_row_ids(tmp_path):
    contacts = [gaen_key(d) for d in range(5)]
    rows = published(contacts)
    folder = tmp_path / "phone"
    folder.mkdir()
    with DeviceStore(folder / "d.db") as store:
        store.add_sightings(background_sightings(2000, DAY0, 6, seed=7))
        meet(store, contacts[0], 0, 8)
        files = sorted(p.name for p in folder.iterdir())
        first = pipeline.sighting_index(store, 16)
        assert pipeline.sighting_index(store, 16) is first  # nothing written: reused as is
        assert first.sighting(0) is first.sighting(0)

        meet(store, contacts[1], 1, 8)  # appended: extended in place
        meet(store, contacts[0], 0, 20)
        index = pipeline.sighting_index(store, 16)
        assert index is first and len(index) == store.sighting_count()
        assert match_rows(rows, index, deriver_for(GAEN)) == reference(store, rows)

        with store.transaction() as conn:  # retention: the first day goes
            conn.execute("DELETE FROM sightings WHERE time < ?", [DAY0 + 86400])
        index = pipeline.sighting_index(store, 16)
        assert index is not first and len(index) == store.sighting_count()
        got = match_rows(rows, index, deriver_for(GAEN))
        assert got == reference(store, rows) and {m.key[0] for m in got} == {contacts[1].key_data}

        # the newest rows deleted and as many new ones added reuse their row ids
        meet(store, contacts[1], 1, 15)
        before = pipeline.sighting_index(store, 16)
        newest = store.db.execute("SELECT MAX(id) FROM sightings").fetchone()[0]
        count = store.sighting_count()
        with store.transaction() as conn:
            conn.execute("DELETE FROM sightings WHERE id > ?", [newest - 6])
        meet(store, contacts[2], 2, 8)
        assert store.db.execute("SELECT MAX(id) FROM sightings").fetchone()[0] == newest
        assert store.sighting_count() == count
        index = pipeline.sighting_index(store, 16)
        got = match_rows(rows, index, deriver_for(GAEN))
        assert got == reference(store, rows) and contacts[2].key_data in {m.key[0] for m in got}
        assert index is not before

        with store.transaction() as conn:  # "privacy forget bluetooth", then new meetings
            conn.execute("DELETE FROM sightings")
        meet(store, contacts[3], 3, 8)
        meet(store, contacts[4], 4, 8)
        got = match_rows(rows, pipeline.sighting_index(store, 16), deriver_for(GAEN))
        assert {m.key[0] for m in got} == {contacts[3].key_data, contacts[4].key_data}
        assert got == reference(store, rows)
        # the index never reached the disk: the store's folder holds what it held
        assert sorted(p.name for p in folder.iterdir()) == files


def test_another_connections_writes_are_seen(tmp_path):
    key = gaen_key(2)
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(500, DAY0, 6, seed=2))
        first = pipeline.sighting_index(store, 16)
        with DeviceStore(tmp_path / "d.db", purge_on_open=False) as radio:  # the scanner's own connection
            meet(radio, key, 2, 14)
        got = match_rows([row(key)], pipeline.sighting_index(store, 16), deriver_for(GAEN))
        assert len(got) == 6 and pipeline.sighting_index(store, 16) is first


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sk=st.binary(min_size=32, max_size=32), start=st.integers(min_value=0, max_value=2**31 // 2))
def test_dp3t_fast_path_is_the_schedules_own_identifiers(sk, start):
    assert dp3t_block(sk, start, 144) == generic_deriver(DP3T)(sk, start, 144)


def test_dp3t_fast_path_matches_as_before_on_both_cores(monkeypatch):
    monkeypatch.setattr(matcher, "PARALLEL_MIN_KEYS", 100)
    assert deriver_for(DP3T) is dp3t_block
    people = [ExposureKey(os.urandom(32), DAY0 // 600 + 144 * d, 144, 2, ReportType.CONFIRMED_TEST) for d in range(4)]
    sightings = [s for d, k in enumerate(people) for s in contact_sightings(DP3T, k, DAY0 + d * 86400 + 36000, 8)]
    index = SightingIndex.build(sightings + background_sightings(5000, DAY0, 6, seed=11))
    rows = [row(ExposureKey(os.urandom(32), DAY0 // 600 + 144 * (i % 6))) for i in range(2000)]
    rows[50:50] = [row(k) for k in people[:2]]
    rows[1500:1500] = [row(k) for k in people[2:]]
    before = match_rows(rows, index, generic_deriver(DP3T), workers=1)
    assert len(before) == 32
    assert match_rows(rows, index, dp3t_block, workers=1) == before
    assert match_rows(rows, index, dp3t_block, workers=2) == before  # slices come back in order


@pytest.mark.parametrize("workers", [1, 2])
def test_store_backed_index_on_both_cores_reads_hits_in_the_parent(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(matcher, "PARALLEL_MIN_KEYS", 100)
    contacts = [gaen_key(d) for d in range(3)]
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(2000, DAY0, 6, seed=3))
        for d, k in enumerate(contacts):
            meet(store, k, d, 11)
        rows = published(contacts, 1500)
        got = match_rows(rows, SightingIndex.from_store(store), deriver_for(GAEN), workers=workers)
        assert got == reference(store, rows) and len(got) == 18


#: What happens to a phone's sightings between two syncs.
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("meet"), st.integers(0, 4), st.integers(0, 5), st.integers(0, 23)),  # contact, day, hour
    st.tuples(st.just("background"), st.integers(1, 40)),
    st.tuples(st.just("purge_before_day"), st.integers(0, 6)),
    st.tuples(st.just("drop_newest"), st.integers(1, 8)),
    st.tuples(st.just("forget")),
), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(ops=OPERATIONS)
def test_a_kept_index_always_matches_a_fresh_one(tmp_path, ops):
    contacts = [gaen_key(d) for d in range(5)]
    rows = published(contacts, 300)
    with DeviceStore(tmp_path / "h.db", purge_on_open=False) as store:
        with store.transaction() as conn:  # one store for every example: start empty
            conn.execute("DELETE FROM sightings")
        store.add_sightings(background_sightings(300, DAY0, 6, seed=1))
        pipeline.sighting_index(store, 16)
        for seed, op in enumerate(ops):
            if op[0] == "meet":
                meet(store, contacts[op[1]], op[2], op[3], scans=4)
            elif op[0] == "background":
                store.add_sightings(background_sightings(op[1], DAY0, 6, seed=seed + 100))
            else:
                with store.transaction() as conn:
                    if op[0] == "purge_before_day":
                        conn.execute("DELETE FROM sightings WHERE time < ?", [DAY0 + op[1] * 86400])
                    elif op[0] == "drop_newest":
                        conn.execute("DELETE FROM sightings WHERE id > (SELECT MAX(id) FROM sightings) - ?", [op[1]])
                    else:
                        conn.execute("DELETE FROM sightings")
            kept = pipeline.sighting_index(store, 16)
            assert len(kept) == store.sighting_count()
            assert match_rows(rows, kept, deriver_for(GAEN)) == reference(store, rows)
