"""Series estimators behind the default scoring (``[risk] estimator``)."""

import datetime as dt
import tomllib
from fractions import Fraction

import pytest

from bluezone.config import ConfigError, config_from_dict, section_defaults
from bluezone.matching.estimators import SERIES, close_seconds, rts_smooth, weighted_quantile
from bluezone.matching.risk import score_windows
from bluezone.models import ExposureWindow, Infectiousness, ReportType, ScanInstance, Tier

DAY = dt.date(2023, 11, 15)


def window(attenuations, seconds=300):
    return ExposureWindow(DAY, ReportType.CONFIRMED_TEST, Infectiousness.STANDARD,
                          tuple(ScanInstance(a, a, seconds) for a in attenuations), 0, Tier.F1)


def risk(**kw):
    return {**section_defaults("risk"), **kw}


# one contact, 6 scans × 5 min: steadily at 66 dB (about 3 m away, heard well)
# with one reflection at 48 dB and one at 60 dB
FAR_WITH_SPIKES = [66, 48, 66, 60, 66, 67]
# a close contact whose body turns away half the time: 55, 72, 56, 73, 55, 57
CLOSE_WITH_BODY_LOSS = [55, 72, 56, 73, 55, 57]


def test_buckets_count_single_loud_scans_but_the_median_does_not():
    far = [window(FAR_WITH_SPIKES)]
    assert score_windows(far, risk(estimator="buckets"))[0].weighted_minutes == 10  # two loud scans × 5 min
    assert score_windows(far, risk(estimator="median", estimator_threshold_db=63))[0].weighted_minutes == 0


def test_the_median_counts_a_close_contact_whole():
    close = [window(CLOSE_WITH_BODY_LOSS)]
    assert score_windows(close, risk(estimator="buckets"))[0].exposed is True  # 4 × 5 min at ≤ 63
    d = score_windows(close, risk(estimator="median", estimator_threshold_db=60))[0]
    assert d.weighted_minutes == 30 and d.exposed


def test_the_kalman_smoother_removes_single_spikes():
    smooth = rts_smooth([66, 66, 66, 40, 66, 66, 66])
    assert min(smooth) > 60  # one scan 26 dB louder moves the estimate a few dB only
    assert close_seconds("kalman", window([66, 66, 66, 40, 66, 66, 66]).scan_instances, 60) == 0
    assert close_seconds("kalman", window([55, 56, 54, 55, 57, 55]).scan_instances, 60) == 1800
    # it follows a real change: first half near, second half far
    near_then_far = window([52, 53, 52, 53, 52, 75, 76, 75, 76, 75]).scan_instances
    assert 1200 <= close_seconds("kalman", near_then_far, 63) <= 1800


def test_weighted_quantile():
    assert weighted_quantile([(50, 60), (70, 240)], 0.5) == 70
    assert weighted_quantile([(50, 60), (70, 240)], 0.2) == 50
    assert weighted_quantile([], 0.5) is None


def test_dropped_windows_stay_dropped_and_days_need_the_minimum():
    self_report = ExposureWindow(DAY, ReportType.SELF_REPORT, Infectiousness.STANDARD,
                                 tuple(ScanInstance(50, 50, 300) for _ in range(6)), 0, Tier.F1)
    r = risk(estimator="median", estimator_threshold_db=63)  # self-reports weigh 0 by default
    assert score_windows([self_report], r)[0].exposed is False
    short = window([50, 50], seconds=300)  # 10 minutes only
    assert score_windows([short], r)[0].exposed is False


MINIMAL = {"deployment": {"name": "Test", "region": "452"}, "authority": {"url": "https://authority.example"}}


def test_the_setting_is_validated():
    # the default is the estimator chosen on the simulator (docs/simulator.md)
    assert config_from_dict(MINIMAL).risk["estimator"] == "kalman"
    assert config_from_dict(MINIMAL).risk["estimator_threshold_db"] == 60
    assert config_from_dict({**MINIMAL, "risk": {"estimator": "median"}}).risk["estimator"] == "median"
    with pytest.raises(ConfigError, match="estimator"):
        config_from_dict({**MINIMAL, "risk": {"estimator": "guess"}})


# -- what the mutation run asked of the estimators (#18) ------------------------------------

def scans(*pairs: tuple[int, int], infectiousness: Infectiousness = Infectiousness.STANDARD,
          report_type: ReportType = ReportType.CONFIRMED_TEST, date: dt.date = DAY,
          tier: Tier = Tier.F1) -> ExposureWindow:
    """A window of ``(attenuation, seconds since the last scan)`` scans."""
    return ExposureWindow(date, report_type, infectiousness,
                          tuple(ScanInstance(a, a, s) for a, s in pairs), 0, tier)


def posterior_mean(values: list[int], process_var: Fraction, noise_var: Fraction) -> list[Fraction]:
    """The exact posterior mean of a random walk seen through noisy scans, found
    without any filter: it minimises sum((z_k - x_k)² / noise) + sum((x_k+1 - x_k)² / process),
    a tridiagonal system solved in fractions (the Kalman filter starts from the
    first scan as if nothing was known before it, which is this flat prior)."""
    n, r = len(values), noise_var / process_var
    diag = [1 + r * ((k > 0) + (k < n - 1)) for k in range(n)]
    rhs = [Fraction(v) for v in values]
    for k in range(1, n):  # forward elimination (the off-diagonals are all -r)
        m = -r / diag[k - 1]
        diag[k] += m * r
        rhs[k] -= m * rhs[k - 1]
    x = [Fraction(0)] * n
    for k in range(n - 1, -1, -1):
        x[k] = (rhs[k] + r * (x[k + 1] if k < n - 1 else 0)) / diag[k]
    return x


@pytest.mark.parametrize("values", [
    [58],  # a window of one scan
    [50, 70],
    [66, 66, 66, 40, 66, 66, 66],
    [52, 53, 52, 53, 52, 75, 76, 75, 76, 75],
    [61, 48, 70, 55, 59, 80, 62, 57],
])
def test_the_kalman_smoother_gives_the_random_walks_posterior_mean(values):
    """Every smoothed scan, the first and the last included, is the exact
    posterior mean of the model the module states (walk 4 dB², noise 36 dB²):
    a filter step, a smoothing step or a variance off by a little moves some
    scan's estimate, and so which seconds count as close near the threshold."""
    want = posterior_mean(values, Fraction(4), Fraction(36))
    assert rts_smooth(values) == pytest.approx([float(x) for x in want], abs=1e-9)
    # the variances given in place of the defaults are the ones used
    other = posterior_mean(values, Fraction(1), Fraction(100))
    assert rts_smooth(values, process_var=1.0, noise_var=100.0) == pytest.approx([float(x) for x in other], abs=1e-9)
    assert rts_smooth([]) == []


def test_the_kalman_smoother_decides_closeness_at_the_threshold():
    """A window of one scan at the threshold is close (smoothing a single scan
    leaves it as it is); a steady series at the threshold is close throughout
    (``<=``, as the buckets' thresholds are inclusive)."""
    assert close_seconds("kalman", scans((60, 300)).scan_instances, 60) == 300
    assert close_seconds("kalman", scans((61, 300)).scan_instances, 60) == 0
    assert close_seconds("kalman", window([60, 60, 60]).scan_instances, 60) == 900


def test_the_median_and_the_quartile_count_a_window_at_the_threshold():
    """Half the time at 60 dB and half at 70 dB: the median is 60 (the lower of
    the two middle values, where half of the seconds are reached), so at a
    60 dB threshold the whole window counts; 59 seconds at 60 dB are short of
    half of 120 and make the median 70; and the lower quartile only needs a
    quarter of the seconds at 60 dB."""
    half = scans((70, 60), (60, 60)).scan_instances
    assert close_seconds("median", half, 60) == 120
    assert close_seconds("median", half, 59) == 0  # at most the threshold, not below the level
    short = scans((70, 61), (60, 59)).scan_instances
    assert close_seconds("median", short, 60) == 0
    assert close_seconds("quantile", short, 60) == 120
    quarter = scans((60, 30), (70, 90)).scan_instances  # exactly a quarter at 60 dB
    assert close_seconds("quantile", quarter, 60) == 120
    assert close_seconds("median", quarter, 60) == 0
    assert close_seconds("quantile", scans((60, 29), (70, 91)).scan_instances, 60) == 0


def test_weighted_quantile_reaches_its_share_of_the_seconds_exactly():
    assert weighted_quantile([(70, 60), (50, 60)], 0.5) == 50  # the order given does not matter
    assert weighted_quantile([(50, 59), (70, 61)], 0.5) == 70
    assert weighted_quantile([(50, 60), (70, 60)], 0.5) == 50
    assert weighted_quantile([(50, 1)], 0.5) == 50  # one second is a series
    assert weighted_quantile([(50, 0), (60, 0)], 0.5) is None  # no seconds, no level


def test_a_single_second_can_make_the_day():
    """Close seconds add up over a day's windows to the very second: 899
    close seconds do not reach 15 minutes, one more (a window of a single
    one-second scan) does."""
    almost = scans((50, 300), (50, 300), (50, 299))
    for kind in SERIES:
        r = risk(estimator=kind)
        [day] = score_windows([almost], r)
        assert (day.score, day.exposed) == (899, False)
        [day] = score_windows([almost, scans((50, 1))], r)
        assert (day.score, day.weighted_minutes, day.exposed) == (900, 15, True)
        assert day.max_window_score == 899


def test_series_seconds_are_clamped_as_the_risk_section_says():
    """A scan's seconds are clamped to [0, max_seconds_per_scan] as the
    buckets clamp them: a negative count from outside weighs nothing, not
    less than nothing, and a long gap counts the cap only."""
    w = scans((50, -1), (50, 600), (50, 100), (50, -300))
    for kind in SERIES:
        [day] = score_windows([w], risk(estimator=kind, max_seconds_per_scan=400))
        assert day.score == 500, kind
        # without a cap from the section, close_seconds takes the schema's default (300 s)
        assert close_seconds(kind, w.scan_instances, 60) == 400, kind
        assert close_seconds(kind, w.scan_instances, 60, cap=600) == 700, kind


def test_series_seconds_are_weighed_by_report_type_and_infectiousness_as_the_buckets():
    """A clinical diagnosis weighted 0.5 and high infectiousness weighted 1.5
    make 30 close minutes count 0.75 × 30, in the series estimators as in the
    buckets (all scans close, so the two agree)."""
    w = scans(*[(50, 300)] * 6, infectiousness=Infectiousness.HIGH,
              report_type=ReportType.CONFIRMED_CLINICAL_DIAGNOSIS)
    weights = {"report_type_weights": {"confirmed_test": 1.0, "confirmed_clinical_diagnosis": 0.5,
                                       "self_report": 0.0, "recursive": 1.0},
               "infectiousness_weights": {"standard": 1.0, "high": 1.5}}
    for kind in ("buckets", *SERIES):
        [day] = score_windows([w], risk(estimator=kind, **weights))
        assert (day.score, day.weighted_minutes, day.exposed) == (1350, 22.5, True), kind


def test_estimator_names_read_from_a_deployment_file_pick_their_estimator():
    """The names come from TOML (strings made at run time, not the module's
    own literals): each must still pick its own estimator. Ten minutes at
    50 dB then fifteen at 70 dB: the median is far (70 dB), the lower quartile
    close (50 dB), and the smoother's estimate falls below 60 dB in the first
    five minutes only."""
    w = window([50, 50, 70, 70, 70])
    got = {}
    for name in SERIES:
        r = risk(**tomllib.loads(f'estimator = "{name}"\nestimator_threshold_db = 60'))
        got[name] = score_windows([w], r)[0].score
    assert got == {"median": 0, "quantile": 1500, "kalman": 300}
    with pytest.raises(ValueError, match="unknown estimator 'guess'; choose one of: buckets, median, quantile, kalman"):
        close_seconds("guess", w.scan_instances, 60)
    with pytest.raises(ValueError, match="unknown estimator 'rts'"):  # sorts after "kalman"; still unknown
        close_seconds("rts", w.scan_instances, 60)


def test_a_day_whose_windows_are_all_dropped_keeps_its_row_and_warns_nobody():
    """``window_risk_levels = []`` (no range holds any window, which config
    check accepts, and is no Corona-Warn-App model since the list is empty)
    drops every window, in the series estimators as in the buckets: each day
    still has its row, with nothing counted, even with no minimum at all."""
    windows = [window([50] * 6), window([50] * 6), scans(*[(50, 300)] * 6, date=DAY + dt.timedelta(days=1))]
    for kind in ("buckets", *SERIES):
        days = score_windows(windows, risk(estimator=kind, window_risk_levels=[], minimum_minutes_per_day=0))
        assert [(d.date, d.score, d.max_window_score, d.exposed) for d in days] == [
            (DAY, 0, 0, False), (DAY + dt.timedelta(days=1), 0, 0, False)], kind


def test_with_no_minimum_a_close_second_warns_and_a_far_window_does_not():
    """``minimum_minutes_per_day = 0``: one close second is a warning; a day
    whose windows have no close second is not (a far contact, or a window
    whose close scans weigh 0), with every estimator as with the buckets."""
    for kind in ("buckets", *SERIES):
        r = risk(estimator=kind, minimum_minutes_per_day=0)
        assert score_windows([scans((50, 1))], r)[0].exposed, kind
        assert not score_windows([window([80] * 6)], r)[0].exposed, kind
        self_report = scans(*[(50, 300)] * 6, report_type=ReportType.SELF_REPORT)  # weighs 0 by default
        assert not score_windows([self_report], r)[0].exposed, kind


def test_a_fractional_minimum_is_reached_to_the_second():
    """``minimum_minutes_per_day`` is a number, not a whole count of minutes:
    14.5 minutes are 870 close seconds, and 869 fall short."""
    for kind in SERIES:
        r = risk(estimator=kind, minimum_minutes_per_day=14.5)
        assert score_windows([scans((50, 300), (50, 300), (50, 270))], r)[0].exposed, kind
        assert not score_windows([scans((50, 300), (50, 300), (50, 269))], r)[0].exposed, kind
