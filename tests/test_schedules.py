"""Key schedule properties (hypothesis) and the `bluezone schedule derive` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.models import INTERVALS_PER_DAY, ExposureKey
from bluezone.schedules import KeySchedule, dp3t_lowcost, gaen

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
keys16 = st.binary(min_size=16, max_size=16)
keys32 = st.binary(min_size=32, max_size=32)
intervals = st.integers(min_value=0, max_value=2**31)


def test_both_schedules_follow_the_protocol():
    """What the protocol promises, checked by behaviour (an isinstance check of a
    Protocol only looks for the names): the key has the declared length, its
    identifiers have the declared length, distinct, in time order from the key's start."""
    for schedule in (gaen.SCHEDULE, dp3t_lowcost.SCHEDULE):
        assert isinstance(schedule, KeySchedule)
        key = schedule.new_key(1_700_000_000)
        assert len(key.key_data) == schedule.key_length
        derived = list(schedule.derive(key.key_data, key.rolling_start_interval_number, 3))
        intervals = [d.interval for d in derived]
        assert intervals[0] == key.rolling_start_interval_number and intervals == sorted(set(intervals))
        assert {len(d.identifier) for d in derived} == {schedule.identifier_length}
        assert len({d.identifier for d in derived}) == 3


@settings(max_examples=60)
@given(tek=keys16, start=intervals, split=st.integers(0, 20), count=st.integers(1, 20))
def test_gaen_derive_is_consistent_over_any_split(tek, start, split, count):
    whole = [d.identifier for d in gaen.SCHEDULE.derive(tek, start, split + count)]
    later = [d.identifier for d in gaen.SCHEDULE.derive(tek, start + split, count)]
    assert whole[split:] == later
    assert len(set(whole)) == len(whole)  # distinct identifiers in every interval


@settings(max_examples=60)
@given(tek=keys16, start=st.integers(0, 2**24), offset=st.integers(0, 143), tx=st.integers(-128, 127))
def test_gaen_broadcast_is_found_by_matching_and_metadata_round_trips(tek, start, offset, tx):
    key = ExposureKey(tek, start, INTERVALS_PER_DAY)
    sent = gaen.SCHEDULE.broadcast(tek, start, start + offset, gaen.make_metadata(tx))
    by_interval = {d.interval: d.identifier for d in gaen.SCHEDULE.identifiers(key)}
    assert by_interval[start + offset] == sent.identifier
    plain = gaen.SCHEDULE.decrypt_metadata(tek, sent.identifier, sent.metadata)
    assert gaen.read_tx_power(plain) == tx and plain[0] == 0x40


def test_gaen_new_key_runs_to_the_end_of_the_utc_day():
    now = 1_795_000_000
    key = gaen.SCHEDULE.new_key(now)
    assert key.rolling_start_interval_number == now // 600
    assert key.end_interval_number % INTERVALS_PER_DAY == 0
    assert key.problems() == []


@settings(max_examples=25)
@given(sk=keys32, extra=st.integers(1, 10))
def test_dp3t_derive_crosses_days_along_the_key_chain(sk, extra):
    day = 20_000 * INTERVALS_PER_DAY
    ids = [d.identifier for d in dp3t_lowcost.SCHEDULE.derive(sk, day, 96 + extra)]
    assert ids[:96] == dp3t_lowcost.ephids(sk)
    assert ids[96:] == dp3t_lowcost.ephids(dp3t_lowcost.next_key(sk))[:extra]


@settings(max_examples=25)
@given(sk=keys32)
def test_dp3t_broadcast_order_is_a_shuffle_of_the_days_ephids(sk):
    day = 20_000 * INTERVALS_PER_DAY
    sent = [dp3t_lowcost.SCHEDULE.broadcast(sk, day, day + i, b"").identifier
            for i in range(0, INTERVALS_PER_DAY)]
    distinct = list(dict.fromkeys(sent))
    assert len(distinct) == 96
    assert set(distinct) == set(dp3t_lowcost.ephids(sk))
    assert distinct != dp3t_lowcost.ephids(sk)  # not generation order


def test_dp3t_identifiers_cover_the_day_at_epoch_starts():
    sk = bytes(range(32))
    key = ExposureKey(sk, 20_000 * INTERVALS_PER_DAY, INTERVALS_PER_DAY)
    derived = list(dp3t_lowcost.SCHEDULE.identifiers(key))
    assert len(derived) == 96
    assert [d.interval - key.rolling_start_interval_number for d in derived[:4]] == [0, 1, 3, 4]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True)


def test_cli_derive_prints_the_vector_rows(gaen_vector):
    out = run("schedule", "derive", "gaen", "--key", gaen_vector["tek"], "--start",
              str(gaen_vector["start_interval"]), "--count", "4", "--metadata", gaen_vector["metadata"])
    assert out.returncode == 0
    assert out.stdout.splitlines() == [f"{r['interval']} {r['rpi']} {r['aem']}" for r in gaen_vector["rows"]]


def test_cli_derive_dp3t_vector(dp3t_vector):
    out = run("schedule", "derive", "dp3t-lowcost", "--key", dp3t_vector["key1"], "--start", "0", "--count", "3")
    assert out.returncode == 0
    assert [line.split()[1] for line in out.stdout.splitlines()] == list(dp3t_vector["ephids_key1"].values())


def test_cli_derive_errors_are_one_line_with_exit_2():
    cases = [
        ("gaen", "--key", "xyz", "--start", "1"),
        ("gaen", "--key", "00" * 15, "--start", "1"),
        ("rot13", "--key", "00" * 16, "--start", "1"),
        ("gaen", "--key", "00" * 16, "--start", "1", "--metadata", "4008"),
    ]
    for case in cases:
        out = run("schedule", "derive", *case)
        assert out.returncode == 2, case
        assert out.stderr.count("\n") == 1 and out.stderr.startswith("Lỗi / Error: "), out.stderr
        assert out.stdout == ""
