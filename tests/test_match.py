"""The matcher: vectors, ±2 h edges, both schedules, both cores, streaming."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.matching import matcher
from bluezone.matching.derive import deriver_for, fast_rpik, gaen_block, generic_deriver
from bluezone.matching.fixtures import background_sightings, contact_sightings
from bluezone.matching.index import SightingIndex
from bluezone.matching.matcher import iter_matches, match_rows
from bluezone.models import ExposureKey, ReportType, Sighting
from bluezone.schedules.dp3t_lowcost import SCHEDULE as DP3T
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.schedules.gaen import rpik

DAY0 = 2_833_056 * 600  # a UTC midnight


def row(key: ExposureKey) -> tuple:
    return (key.key_data, key.rolling_start_interval_number, key.rolling_period, int(key.report_type),
            key.days_since_onset_of_symptoms, key.transmission_risk_level)


def test_published_vector_rpi_that_was_seen_matches(gaen_vector):
    tek = bytes.fromhex(gaen_vector["tek"])
    start = gaen_vector["start_interval"]
    seen = gaen_vector["rows"][2]
    sighting = Sighting(bytes.fromhex(seen["rpi"]), seen["interval"] * 600 + 100, -60, bytes.fromhex(seen["aem"]))
    index = SightingIndex.build(background_sightings(2000, start * 600, 1) + [sighting])
    matches = match_rows([row(ExposureKey(tek, start, 144))], index, gaen_block)
    assert [(m.identifier.hex(), m.interval) for m in matches] == [(seen["rpi"], seen["interval"])]
    # and the AEM decrypts to the vector's metadata with the schedule
    assert GAEN.decrypt_metadata(tek, matches[0].identifier, sighting.metadata).hex() == gaen_vector["metadata"]


def test_fast_rpik_equals_the_schedules_hkdf(gaen_vector):
    tek = bytes.fromhex(gaen_vector["tek"])
    assert fast_rpik(tek).hex() == gaen_vector["rpik"] == rpik(tek).hex()


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.integers(0, 2**31 - 200), st.integers(1, 144))
def test_fast_gaen_block_equals_schedule_identifiers(tek, start, period):
    block, intervals, _ = gaen_block(tek, start, period)
    assert intervals is None and _ is None
    ids = list(GAEN.identifiers(ExposureKey(tek, start, period)))
    assert block == b"".join(d.identifier for d in ids)


@pytest.mark.parametrize("offset,matches", [(-14, False), (-13, False), (-12, True), (0, True), (12, True), (13, False),
                                            (14, False)])
@pytest.mark.parametrize("nth", [70, 71], ids=["even-interval", "odd-interval"])
def test_tolerance_edges_two_hours(offset, matches, nth):
    """A sighting of the RPI of interval i, recorded in interval i+offset.

    Both an even and an odd i: an interval's own span ends at i + 1, and a
    bit operation in its place (i | 1, i ^ 1) agrees with it on even i only,
    moving the +2 h edge by one interval on odd ones."""
    key = ExposureKey(os.urandom(16), DAY0 // 600, 144, report_type=ReportType.CONFIRMED_TEST)
    i = DAY0 // 600 + nth
    rpi = GAEN.broadcast(key.key_data, key.rolling_start_interval_number, i, bytes(4)).identifier
    seen_at = (i + offset) * 600 + (599 if offset > 0 else 0)
    index = SightingIndex.build([Sighting(rpi, seen_at, -60)])
    assert bool(match_rows([row(key)], index, gaen_block)) is matches


def test_unrelated_keys_do_not_match():
    index = SightingIndex.build(background_sightings(20_000, DAY0, 14))
    keys = [row(ExposureKey(os.urandom(16), DAY0 // 600 + 144 * (i % 14))) for i in range(3000)]
    assert match_rows(keys, index, gaen_block) == []


def test_dp3t_schedule_goes_through_its_own_identifiers():
    assert deriver_for(GAEN) is gaen_block
    d = deriver_for(DP3T)
    assert d is not gaen_block
    key = DP3T.new_key(DAY0 + 3600)
    sightings = contact_sightings(DP3T, key, DAY0 + 9 * 3600, 20)
    index = SightingIndex.build(sightings + background_sightings(5000, DAY0, 14))
    matches = match_rows([row(key)], index, d)
    assert len(matches) == len(sightings) == 20
    # EphIDs go out in random order: any sighting on the key's day matches
    assert all(m.sighting.time // 86400 == key.rolling_start_interval_number // 144 for m in matches)


def test_generic_deriver_matches_gaen_fast_path():
    tek = os.urandom(16)
    block, intervals, span = generic_deriver(GAEN)(tek, 2_833_000, 144)
    assert span is None
    assert block == gaen_block(tek, 2_833_000, 144)[0]
    assert intervals == list(range(2_833_000, 2_833_144))


def test_both_cores_give_the_same_matches(monkeypatch):
    monkeypatch.setattr(matcher, "PARALLEL_MIN_KEYS", 100)
    # 20 contacts (14 days, then a second one later on six of them), spread over the batch
    # so every slice holds one: a slice bound that skips rows (``i | step`` for ``i + step``
    # agrees on some slices only) loses a contact
    people = [ExposureKey(os.urandom(16), DAY0 // 600 + 144 * (d % 14), 144, 2, ReportType.CONFIRMED_TEST)
              for d in range(20)]
    sightings = [s for d, k in enumerate(people)
                 for s in contact_sightings(GAEN, k, DAY0 + (d % 14) * 86400 + 36000 + (d // 14) * 14400, 10)]
    index = SightingIndex.build(sightings + background_sightings(10_000, DAY0, 14))
    # 4,500 keys: more than CHUNK_KEYS slices of 256 for two workers, so the slice size is computed
    rows = [row(ExposureKey(os.urandom(16), DAY0 // 600 + 144 * (i % 14))) for i in range(4500)]
    for j, k in reversed(list(enumerate(people[:-1]))):
        rows.insert(j * 4500 // 19, row(k))  # the first row, then one every ~240 rows (a slice is 282)
    rows.append(row(people[-1]))  # the last slice counts too (a slice bound past it would drop it)
    one = match_rows(rows, index, gaen_block, workers=1)
    two = match_rows(rows, index, gaen_block, workers=2)
    default = match_rows(rows, index, gaen_block, workers=None)  # the pipeline's default: the CPU count
    assert len(one) == 200 and {m.key[0] for m in one} == {k.key_data for k in people}
    key = lambda m: (m.key[0], m.sighting.time)  # noqa: E731
    assert sorted(one, key=key) == sorted(two, key=key) == sorted(default, key=key)


def test_matching_streams_keys_chunk_by_chunk():
    """Published keys are consumed one chunk at a time, not all up front."""
    consumed = 0

    def keys():
        nonlocal consumed
        for i in itertools.count():
            consumed += 1
            yield row(ExposureKey(os.urandom(16), DAY0 // 600))
            if i == 10 * matcher.CHUNK_KEYS:
                return

    target = ExposureKey(os.urandom(16), DAY0 // 600)
    sightings = contact_sightings(GAEN, target, DAY0 + 600, 5)

    def with_target():
        yield row(target)
        yield from keys()

    it = iter_matches(with_target(), SightingIndex.build(sightings), gaen_block)
    first = next(it)
    assert first.key[0] == target.key_data
    assert consumed < 2 * matcher.CHUNK_KEYS


def test_index_keeps_only_the_schedules_identifier_length():
    index = SightingIndex.build([Sighting(b"x" * 16, DAY0, -60), Sighting(b"y" * 20, DAY0, -60)])
    assert len(index) == 1


def test_the_filter_never_loses_a_true_match():
    """Candidates are a superset: every identifier stored is found by the bitmap."""
    sightings = background_sightings(30_000, DAY0, 14, seed=7)
    index = SightingIndex.build(sightings)
    ids = list(index.by_id)
    found = index.candidates(b"".join(ids))
    assert len(found) == len(ids)


@pytest.mark.parametrize("gc_was_on", [True, False])
def test_matching_gives_back_the_garbage_collector_as_it_found_it(gc_was_on):
    """Matching pauses the cyclic GC for speed; the rest of the process (a
    long-running trace or portal) must get it back, or it never collects again."""
    import gc

    key = ExposureKey(os.urandom(16), DAY0 // 600, 144, 2, ReportType.CONFIRMED_TEST)
    index = SightingIndex.build(contact_sightings(GAEN, key, DAY0 + 600, 5))
    was = gc.isenabled()
    (gc.enable if gc_was_on else gc.disable)()
    try:
        assert len(match_rows([row(key)], index, gaen_block)) == 5
        assert gc.isenabled() is gc_was_on
    finally:
        (gc.enable if was else gc.disable)()


def test_a_match_is_a_fixed_value_with_a_whole_interval_number():
    """Interval numbers are integers everywhere (GAEN's ENIntervalNumber); a
    match is not changed after it is found."""
    import dataclasses

    key = ExposureKey(os.urandom(16), DAY0 // 600, 144, 2, ReportType.CONFIRMED_TEST)
    index = SightingIndex.build(contact_sightings(GAEN, key, DAY0 + 600, 5))
    found = match_rows([row(ExposureKey(os.urandom(16), DAY0 // 600)), row(key)], index, gaen_block)
    assert len(found) == 5 and all(type(m.interval) is int for m in found)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].interval = 0  # type: ignore[misc]
