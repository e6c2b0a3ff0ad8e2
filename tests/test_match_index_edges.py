"""The sighting index at its edges: appends after a purge, hits read in
chunks, a key of one identifier, and the filter's size and selectivity.

Why: the mutation run of ``bluezone/matching/index.py`` showed these
unpinned. A kept index whose stamp recorded the row count instead of the
largest row id still passed every test, because the row ids only drift away
from the count after a purge, and the tests appended at most once after one;
reading hits 499 at a time (dropping one in 500) passed because no test read
more than 500 rows of one index; and the bitmap filter could be sized 2 or
128 Mi buckets without any test noticing, although its size is what makes a
sync cheap (≈ 64 buckets per identifier: a random identifier passes with
probability ≈ 1/64) and what bounds its memory.
"""

from __future__ import annotations

import os
import random

import pytest

from bluezone.matching import pipeline
from bluezone.matching.derive import deriver_for, gaen_block
from bluezone.matching.fixtures import background_sightings, contact_sightings
from bluezone.matching.index import SightingIndex
from bluezone.matching.matcher import match_rows
from bluezone.models import ExposureKey, ReportType, Sighting
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore

DAY0 = 2_833_056 * 600  # a UTC midnight


def _row(key: ExposureKey) -> tuple:
    return (key.key_data, key.rolling_start_interval_number, key.rolling_period, int(key.report_type),
            key.days_since_onset_of_symptoms, key.transmission_risk_level)


def _key(day: int) -> ExposureKey:
    return ExposureKey(os.urandom(16), DAY0 // 600 + 144 * day, 144, 2, ReportType.CONFIRMED_TEST)


def _reference(store: DeviceStore, rows: list[tuple]) -> list:
    return match_rows(rows, SightingIndex.build(list(store.sightings())), deriver_for(GAEN))


def test_appends_after_a_purge_are_each_indexed_once(tmp_path):
    """After retention deletes the oldest rows, the row ids run ahead of the
    row count; two rounds of new meetings, each followed by a sync, must add
    each new sighting once (not again the rows between the count and the
    largest id)."""
    keys = [_key(d) for d in range(4)]
    rows = [_row(k) for k in keys] + [_row(_key(i % 4)) for i in range(300)]
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(1500, DAY0, 4, seed=11))
        store.add_sightings(contact_sightings(GAEN, keys[0], DAY0 + 8 * 3600, 6))
        pipeline.sighting_index(store, 16)
        with store.transaction() as conn:  # retention: the first day goes
            conn.execute("DELETE FROM sightings WHERE time < ?", [DAY0 + 86400])
        first = pipeline.sighting_index(store, 16)
        for day in (1, 2, 3):
            store.add_sightings(contact_sightings(GAEN, keys[day], DAY0 + day * 86400 + 9 * 3600, 6))
            index = pipeline.sighting_index(store, 16)
            assert index is first  # extended in place
            assert len(index) == store.sighting_count()
            got = match_rows(rows, index, deriver_for(GAEN))
            assert got == _reference(store, rows)
            assert len(got) == 6 * day


def test_a_store_backed_index_reads_more_than_500_sightings_whole(tmp_path):
    """Sightings are read by row id 500 at a time; 1,234 read in one call come
    back all, each the stored one."""
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(1234, DAY0, 2, seed=3))
        index = SightingIndex.from_store(store)
        got = index.sightings
        assert None not in got
        assert sorted((s.identifier, s.time) for s in got) == sorted(
            (s.identifier, s.time) for s in store.sightings())


def test_a_key_of_one_identifier_matches():
    """A key with a rolling period of 1 (one RPI: a phone that uploaded within
    ten minutes of a new key) is a query of one identifier."""
    key = ExposureKey(os.urandom(16), DAY0 // 600 + 50, 1, 2, ReportType.CONFIRMED_TEST)
    rpi = GAEN.broadcast(key.key_data, key.rolling_start_interval_number, DAY0 // 600 + 50, bytes(4)).identifier
    index = SightingIndex.build([Sighting(rpi, DAY0 + 50 * 600 + 30, -60)] + background_sightings(500, DAY0, 1))
    assert [m.identifier for m in match_rows([_row(key)], index, gaen_block)] == [rpi]


def test_an_in_memory_index_names_the_first_position_it_does_not_have():
    index = SightingIndex.build(background_sightings(3, DAY0, 1))
    with pytest.raises(KeyError) as raised:
        index.materialise([1, 7, 9])
    assert raised.value.args == (7,)


@pytest.mark.parametrize("n", [4096, 4100, 5000, 40_000])
def test_the_filter_has_64_to_128_buckets_per_identifier_and_passes_about_one_in_64(n):
    """The bitmap's size is its memory (one byte per bucket) and its
    selectivity: between 64 and 128 buckets per distinct identifier, so at
    most about 1/64 of random identifiers pass to the exact lookup. Seeded, so
    the count is the same on every run."""
    rng = random.Random(n)
    sightings = [Sighting(rng.randbytes(16), DAY0, -60) for _ in range(n)]
    index = SightingIndex.build(sightings)
    assert 64 * n <= len(index.bitmap) < 128 * n
    assert index.mask == len(index.bitmap) - 1
    queries = rng.randbytes(16 * 200_000)
    passed = len(index.candidates(queries))
    assert passed < 1.1 * 200_000 / 64  # at 64 buckets each, 1 - e^(-1/64) = 1.55 %
    # and every identifier of the index passes (the filter never drops a true match)
    assert len(index.candidates(b"".join(s.identifier for s in sightings))) == n


def test_identifiers_of_another_length_are_left_out_shorter_or_longer():
    index = SightingIndex.build([Sighting(b"x" * 16, DAY0, -60), Sighting(b"y" * 20, DAY0, -60),
                                 Sighting(b"z" * 8, DAY0, -60)])
    assert len(index) == 1 and index.identifiers == [b"x" * 16]


def test_sightings_stored_out_of_time_order_are_matched_in_time_order(tmp_path):
    """Two sightings of one RPI stored later-first (an import, a clock set
    back): matches come in time order, as from an index of objects."""
    key = _key(0)
    d = GAEN.broadcast(key.key_data, key.rolling_start_interval_number, DAY0 // 600 + 60, bytes(4))
    later = Sighting(d.identifier, DAY0 + 60 * 600 + 500, -60, d.metadata)
    earlier = Sighting(d.identifier, DAY0 + 60 * 600 + 100, -70, d.metadata)
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings([later])
        store.add_sightings([earlier])
        got = match_rows([_row(key)], SightingIndex.from_store(store), gaen_block)
        assert [m.sighting.time for m in got] == [earlier.time, later.time]
