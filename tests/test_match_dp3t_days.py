"""dp3t-lowcost keys matched at the edges of their day, through the real matcher.

Why this file: a dp3t-lowcost phone broadcasts its day's 96 EphIDs in a
random order, so the matcher cannot use an EphID's slot to know when it was
sent; it accepts a sighting anywhere in the key's UTC day, widened by the
±2 h tolerance. That day span is computed twice — by the fast path
(``dp3t_block``) and by ``generic_deriver`` for any third-party schedule that
also shuffles — and until these tests neither was checked at its edges: a
span starting or ending at the wrong interval, or a day computed from a key
whose start is not midnight, still passed every other test. Each case below
is a real EphID of a real key, sighted at a time on or just past an edge, and
the test asserts exactly which sightings match, with which interval.
"""

from __future__ import annotations

import os

import pytest

from bluezone.matching.derive import deriver_for, generic_deriver
from bluezone.matching.fixtures import background_sightings
from bluezone.matching.index import SightingIndex
from bluezone.matching.matcher import match_rows
from bluezone.models import INTERVALS_PER_DAY, ReportType, Sighting
from bluezone.schedules.dp3t_lowcost import SCHEDULE as DP3T
from bluezone.schedules.dp3t_lowcost import ephids, epoch_interval, next_key

DAY = 2_833_056  # the interval of a UTC midnight
TOLERANCE = DP3T.match_tolerance_intervals  # 12 intervals, 2 h

DERIVERS = {"fast-path": deriver_for(DP3T), "generic": generic_deriver(DP3T)}


def _row(sk: bytes, start: int) -> tuple:
    return (sk, start, INTERVALS_PER_DAY, int(ReportType.CONFIRMED_TEST), 0, 0)


def _seen(ephid: bytes, interval: int, second: int = 0) -> Sighting:
    return Sighting(ephid, interval * 600 + second, -60)


def test_the_two_derivers_are_the_fast_path_and_the_generic_one():
    assert DERIVERS["fast-path"] is not DERIVERS["generic"]
    assert DERIVERS["fast-path"].__name__ == "dp3t_block"


@pytest.mark.parametrize("derive", DERIVERS.values(), ids=DERIVERS.keys())
@pytest.mark.parametrize("start_offset", [0, 1, 77, 143], ids=lambda o: f"start+{o}")
def test_a_day_key_matches_anywhere_in_its_day_and_two_hours_either_side(derive, start_offset):
    """The day's first and last EphIDs, each sighted on both sides of each
    edge of the span [midnight - 2 h, next midnight + 2 h).

    A key published with a start that is not midnight (start+1, +77, +143)
    still covers its whole UTC day: the schedule derives from the day the
    start falls in, and so must the span."""
    sk = os.urandom(32)
    ids = ephids(sk)
    first, last = ids[0], ids[-1]
    expected = {
        # (EphID, seen interval, second) -> the interval reported for the match, or None
        (first, DAY, 0): DAY,  # the first second of the day
        (last, DAY + INTERVALS_PER_DAY - 1, 599): epoch_interval(DAY, 95),  # its last second
        (first, DAY - TOLERANCE, 0): DAY,  # 2 h before midnight
        (first, DAY - TOLERANCE - 1, 599): None,  # one second earlier
        (last, DAY + INTERVALS_PER_DAY + TOLERANCE - 1, 599): epoch_interval(DAY, 95),  # past midnight, 2 h on
        (last, DAY + INTERVALS_PER_DAY + TOLERANCE, 0): None,  # one second later
        # the day's last EphID seen at its first second: the order is random, so it counts
        (last, DAY, 0): epoch_interval(DAY, 95),
    }
    sightings = [_seen(e, i, s) for e, i, s in expected] + background_sightings(3000, (DAY - 1) * 600, 3)
    index = SightingIndex.build(sightings)
    matches = match_rows([_row(sk, DAY + start_offset)], index, derive, tolerance=TOLERANCE)
    got = {(m.identifier, m.sighting.time // 600, m.sighting.time % 600): m.interval for m in matches}
    assert got == {k: v for k, v in expected.items() if v is not None}
    assert epoch_interval(DAY, 95) == DAY + 142  # the last epoch starts in the day's 143rd interval


@pytest.mark.parametrize("derive", DERIVERS.values(), ids=DERIVERS.keys())
def test_keys_of_two_days_either_side_of_midnight_each_claim_their_own_sightings(derive):
    """The chained keys of two days (SK_{t+1} = SHA-256(SK_t)), with sightings
    around the midnight between them: each EphID matches its own day's key
    only, and the intervals reported are those of its own day's epochs."""
    sk1 = os.urandom(32)
    sk2 = next_key(sk1)
    late = ephids(sk1)[95]  # day 1's last epoch
    early = ephids(sk2)[0]  # day 2's first epoch
    midnight = DAY + INTERVALS_PER_DAY
    sightings = [
        _seen(late, midnight - 1, 599),  # broadcast before midnight
        _seen(late, midnight + 5),  # a phone whose clock or record lags: still day 1's key
        _seen(early, midnight - 3),  # a phone slightly ahead: still day 2's key
        _seen(early, midnight, 0),
    ]
    index = SightingIndex.build(sightings + background_sightings(3000, (DAY - 1) * 600, 3))
    rows = [_row(sk1, DAY), _row(sk2, midnight)]
    matches = match_rows(rows, index, derive, tolerance=TOLERANCE)
    got = sorted((m.key[1], m.identifier, m.interval, m.sighting.time) for m in matches)
    assert got == sorted([
        (DAY, late, DAY + 142, (midnight - 1) * 600 + 599),
        (DAY, late, DAY + 142, (midnight + 5) * 600),
        (midnight, early, midnight, (midnight - 3) * 600),
        (midnight, early, midnight, midnight * 600),
    ])


def test_the_fast_path_and_the_generic_deriver_give_the_same_block_for_any_start():
    sk = os.urandom(32)
    for offset in (0, 1, 77, 143):
        assert DERIVERS["fast-path"](sk, DAY + offset, 144) == DERIVERS["generic"](sk, DAY + offset, 144)


def test_the_cheap_aes_context_is_found_on_the_installed_cryptography():
    """``derive`` probes ``cryptography``'s Rust context constructor at import
    and falls back to the public API when it is missing or disagrees. Both give
    the same bytes, so only speed is at stake (a fifth of a key's cost): this
    pins that the probe picks the cheap one on the release installed, so an
    upgrade that loses it, or a probe that always falls back, is noticed here
    rather than as a slower sync."""
    from bluezone.matching import derive

    assert derive._ecb_encryptor is not derive._public_ecb_encryptor
    key, data = os.urandom(32), os.urandom(64)
    assert derive._ecb_encryptor(key).update(data) == derive._public_ecb_encryptor(key).update(data)
