"""Exposure windows at their edges: real GAEN keys, real encrypted metadata,
the real matcher, then :func:`bluezone.matching.windows.build_windows`.

Why: the sync and pipeline tests build windows from ordinary contacts, where
the TX power is well inside its range, every scan is weaker than the sender
and the keys are all ones that warn. A mutation run showed that the edges
were unpinned: a TX power of exactly −50 or +20 dBm, attenuation floored at
0, a sighting without a scan interval, the 30-minute cut, several keys in one
batch of which the first warns nobody, and the key a window comes from. Each
test here puts one such edge through the real code and checks the window,
or the drop count, exactly.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from bluezone.matching.derive import deriver_for, gaen_block
from bluezone.matching.index import SightingIndex
from bluezone.matching.matcher import Match, match_rows
from bluezone.matching.windows import build_windows, window_from_json, window_to_json
from bluezone.models import Infectiousness, ReportType, ScanInstance, Sighting, Tier
from bluezone.schedules.dp3t_lowcost import SCHEDULE as DP3T
from bluezone.schedules.gaen import SCHEDULE as GAEN

DAY = 2_833_056  # the interval of a UTC midnight
DATE = dt.date(2023, 11, 13)
RISK: dict = {}  # the [risk] section's defaults


def _tek() -> bytes:
    return os.urandom(16)


def _row(tek: bytes, report_type: ReportType = ReportType.CONFIRMED_TEST, dsos: int | None = 0,
         risk: int = 0) -> tuple:
    return (tek, DAY, 144, int(report_type), dsos, risk)


def _sighting(tek: bytes, seconds: int, *, tx: int = 0, rssi: int = -60, rssi_max: int | None = None,
              scan: int | None = 60, rpi_interval: int | None = None) -> Sighting:
    """What a phone records on hearing ``tek``'s RPI ``seconds`` after midnight
    (the RPI of that moment's interval unless ``rpi_interval`` says another),
    with the TX power ``tx`` inside the encrypted metadata (GAEN: byte 1)."""
    interval = DAY + seconds // 600 if rpi_interval is None else rpi_interval
    d = GAEN.broadcast(tek, DAY, interval, bytes([0x40, tx & 0xFF, 0, 0]))
    return Sighting(d.identifier, DAY * 600 + seconds, rssi, d.metadata, rssi_max=rssi_max,
                    seconds_since_last_scan=scan)


def _matches(rows: list[tuple], sightings: list[Sighting]) -> list[Match]:
    assert DATE == dt.datetime.fromtimestamp(DAY * 600, dt.timezone.utc).date()
    return match_rows(rows, SightingIndex.build(sightings), gaen_block)


@pytest.mark.parametrize("tx,kept", [(-51, False), (-50, True), (20, True), (21, False), (127, False),
                                     (-128, False)])
def test_tx_power_range_is_minus_50_to_plus_20_dbm_inclusive(tx, kept):
    """Each bound is kept, one dBm past it is dropped and counted once per
    sighting (two sightings here: the count is 2)."""
    tek = _tek()
    matches = _matches([_row(tek)], [_sighting(tek, 3600, tx=tx), _sighting(tek, 3900, tx=tx)])
    assert len(matches) == 2
    windows, dropped = build_windows(matches, GAEN, RISK)
    assert dropped == {"tx_power": 0 if kept else 2, "no_tier": 0, "not_infectious": 0}
    assert [len(w.scan_instances) for w in windows] == ([2] if kept else [])
    if kept:  # the signed byte is read as such: attenuation = tx - rssi
        assert windows[0].scan_instances[0].typical_attenuation_db == tx + 60


def test_attenuation_is_floored_at_zero_and_the_minimum_comes_from_the_strongest_packet():
    tek = _tek()
    sightings = [
        _sighting(tek, 3600, tx=-10, rssi=-5, rssi_max=-3),  # stronger than sent: both floored at 0
        _sighting(tek, 3700, tx=0, rssi=-60, rssi_max=3),  # strongest packet above 0 dBm: minimum 0
        _sighting(tek, 3800, tx=0, rssi=-60, rssi_max=-40),  # minimum 40, typical 60
        _sighting(tek, 3900, tx=0, rssi=-60),  # no strongest packet recorded: minimum = typical
    ]
    windows, dropped = build_windows(_matches([_row(tek)], sightings), GAEN, RISK)
    assert [w.scan_instances for w in windows] == [(
        ScanInstance(0, 0, 60), ScanInstance(60, 0, 60), ScanInstance(60, 40, 60), ScanInstance(60, 60, 60),
    )]
    # a calibration correction is added to the RSSI before the difference
    windows, _ = build_windows(_matches([_row(tek)], sightings[2:3]), GAEN, RISK, rssi_correction=-4.0)
    assert windows[0].scan_instances == (ScanInstance(64, 44, 60),)


def test_scan_seconds_are_clamped_to_0_300_and_taken_as_120_when_unknown():
    tek = _tek()
    sightings = [_sighting(tek, 3600 + 60 * i, scan=s) for i, s in enumerate([None, -5, 0, 300, 301])]
    windows, _ = build_windows(_matches([_row(tek)], sightings), GAEN, RISK)
    assert [s.seconds_since_last_scan for s in windows[0].scan_instances] == [120, 0, 0, 300, 300]


def test_a_window_is_cut_at_30_minutes_from_its_first_scan_and_at_midnight():
    """Scans at 1:00:00 and 1:29:59 share a window, 1:30:00 opens the next;
    the day's last RPI heard at 23:59:50 and again at 00:00:10 (within the
    matching tolerance) gives one window on each UTC date."""
    tek = _tek()
    sightings = [_sighting(tek, s) for s in (3600, 3600 + 1799, 3600 + 1800)]
    sightings += [_sighting(tek, 86_390), _sighting(tek, 86_410, rpi_interval=DAY + 143)]
    windows, _ = build_windows(_matches([_row(tek)], sightings), GAEN, RISK)
    assert [(w.date, len(w.scan_instances)) for w in windows] == [
        (DATE, 2), (DATE, 1), (DATE, 1), (DATE + dt.timedelta(days=1), 1)]
    assert all(w.origin == tek for w in windows)  # every window of the key, not only its last


def test_each_key_makes_its_own_windows_and_carries_its_own_bytes():
    """Two keys heard in the same minutes, with the same transmission risk:
    two windows, each tagged with its own key (the store uses that tag to find
    the windows a later revision of the key changes)."""
    a, b = _tek(), _tek()
    matches = _matches([_row(a), _row(b)], [_sighting(a, 3600), _sighting(b, 3630)])
    windows, _ = build_windows(matches, GAEN, RISK)
    assert sorted(w.origin for w in windows) == sorted([a, b])
    assert [len(w.scan_instances) for w in windows] == [1, 1]
    assert all(w.calibration_confidence == 0 and w.tier is Tier.F1 for w in windows)


def test_a_key_that_warns_nobody_does_not_stop_the_next_ones():
    """A revoked key and a key outside every infectiousness range, first in the
    batch, are dropped and counted; the keys after them still make windows."""
    revoked, late, good = _tek(), _tek(), _tek()
    rows = [_row(revoked, ReportType.REVOKED), _row(late, dsos=-14), _row(good, dsos=6)]
    late_risk = {"infectiousness_by_days_since_onset": {"high": [-2, 5], "standard": [-5, 10]}}
    sightings = [_sighting(revoked, 3600), _sighting(late, 3650), _sighting(late, 3700), _sighting(good, 3800)]
    matches = _matches(rows, sightings)
    assert {m.key[0] for m in matches} == {revoked, late, good}
    for order in ([revoked, good], [late, good]):
        ms = [m for m in matches if m.key[0] in order]
        ms.sort(key=lambda m: order.index(m.key[0]))
        windows, dropped = build_windows(ms, GAEN, late_risk)
        assert [w.origin for w in windows] == [good]
        assert windows[0].infectiousness is Infectiousness.STANDARD  # from dsos 6, not the report type's 1
        assert dropped == ({"tx_power": 0, "no_tier": 1, "not_infectious": 0} if order[0] is revoked
                           else {"tx_power": 0, "no_tier": 0, "not_infectious": 2})


@pytest.mark.parametrize("dsos,expected", [(-3, Infectiousness.STANDARD), (-2, Infectiousness.HIGH),
                                           (5, Infectiousness.HIGH), (6, Infectiousness.STANDARD),
                                           (None, Infectiousness.STANDARD)])
def test_infectiousness_comes_from_the_keys_days_since_onset(dsos, expected):
    tek = _tek()
    windows, _ = build_windows(_matches([_row(tek, dsos=dsos)], [_sighting(tek, 3600)]), GAEN, RISK)
    assert [w.infectiousness for w in windows] == [expected]


@pytest.mark.parametrize("count", [False, True])
def test_self_reports_warn_as_cases_only_where_the_deployment_says_so(count):
    """``count_self_reports`` lifts self-reports only: a recursive report
    stays F1 (its contacts F2) and a revocation still warns nobody."""
    own, recursive, revoked = _tek(), _tek(), _tek()
    rows = [_row(own, ReportType.SELF_REPORT), _row(recursive, ReportType.RECURSIVE),
            _row(revoked, ReportType.REVOKED)]
    matches = _matches(rows, [_sighting(own, 3600), _sighting(recursive, 3700), _sighting(revoked, 3800)])
    windows, dropped = build_windows(matches, GAEN, {"count_self_reports": count})
    got = sorted((w.report_type, w.tier) for w in windows)
    if count:
        assert got == [(ReportType.SELF_REPORT, Tier.F1), (ReportType.RECURSIVE, Tier.F2)]
        assert dropped["no_tier"] == 1
    else:
        assert got == [(ReportType.RECURSIVE, Tier.F2)] and dropped["no_tier"] == 2


def _dp3t_match(rssi: int, tx_power: int | None, metadata: bytes = b"") -> list[Match]:
    sk = os.urandom(32)
    ephid = DP3T.broadcast(sk, DAY, DAY + 60, b"").identifier
    sighting = Sighting(ephid, (DAY + 60) * 600, rssi, metadata, seconds_since_last_scan=60, tx_power=tx_power)
    return match_rows([(sk, DAY, 144, int(ReportType.CONFIRMED_TEST), 0, 0)], SightingIndex.build([sighting]),
                      deriver_for(DP3T))


def test_a_schedule_without_metadata_uses_the_advertised_tx_power_else_0_dbm():
    """dp3t-lowcost has no encrypted metadata: the TX power an advertisement
    carried is used, and without one attenuation is taken against 0 dBm."""
    windows, _ = build_windows(_dp3t_match(-60, None), DP3T, RISK)
    assert windows[0].scan_instances == (ScanInstance(60, 60, 60),)
    windows, _ = build_windows(_dp3t_match(-60, -12), DP3T, RISK)
    assert windows[0].scan_instances == (ScanInstance(48, 48, 60),)
    # stray service data next to an EphID is not metadata to decrypt
    windows, _ = build_windows(_dp3t_match(-60, None, metadata=b"\x01\x02\x03\x04"), DP3T, RISK)
    assert windows[0].scan_instances == (ScanInstance(60, 60, 60),)


def test_gaen_metadata_too_short_or_missing_is_dropped_and_two_bytes_are_enough():
    """The TX power is byte 1 of the decrypted metadata: an AEM cut to two
    bytes still carries it; one byte, or none (a GAEN sighting whose TX power
    cannot be checked), is dropped and counted, never a crash."""
    tek = _tek()
    whole = _sighting(tek, 3600, tx=-12)
    cases = {2: True, 1: False, 0: False}
    for length, kept in cases.items():
        cut = Sighting(whole.identifier, whole.time, whole.rssi, whole.metadata[:length],
                       seconds_since_last_scan=60)
        windows, dropped = build_windows(_matches([_row(tek)], [cut]), GAEN, RISK)
        assert [w.scan_instances for w in windows] == ([(ScanInstance(48, 48, 60),)] if kept else [])
        assert dropped["tx_power"] == (0 if kept else 1)


def test_matches_given_twice_make_the_windows_of_once_in_any_order():
    """A key listed in two feeds is matched twice; each sighting counts once,
    whatever order the matches come in (here the two lists interleaved)."""
    tek = _tek()
    sightings = [_sighting(tek, 3600 + 120 * i) for i in range(4)]
    once = _matches([_row(tek)], sightings)
    twice = _matches([_row(tek), _row(tek)], sightings)
    assert len(twice) == 8
    interleaved = sorted(twice, key=lambda m: m.sighting.time)
    assert build_windows(interleaved, GAEN, RISK) == build_windows(once, GAEN, RISK)
    assert len(build_windows(once, GAEN, RISK)[0][0].scan_instances) == 4


def test_a_window_stored_without_its_calibration_confidence_reads_as_0():
    tek = _tek()
    windows, _ = build_windows(_matches([_row(tek)], [_sighting(tek, 3600)]), GAEN, RISK)
    text = window_to_json(windows[0])
    assert window_from_json(text) == windows[0]
    assert window_from_json(text.replace(',"calibration_confidence":0', "")).calibration_confidence == 0


@pytest.mark.parametrize("dsos", [0, 1])
def test_a_range_the_deployment_leaves_out_covers_no_day(dsos):
    """``infectiousness_by_days_since_onset`` with only a ``standard`` range:
    no day is ``high`` (an absent range is empty, not day 0 or 1 alone)."""
    tek = _tek()
    risk = {"infectiousness_by_days_since_onset": {"standard": [-14, 14]}}
    windows, _ = build_windows(_matches([_row(tek, dsos=dsos)], [_sighting(tek, 3600)]), GAEN, risk)
    assert [w.infectiousness for w in windows] == [Infectiousness.STANDARD]
