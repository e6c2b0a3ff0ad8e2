"""Series estimators behind the default scoring (``[risk] estimator``)."""

import datetime as dt

import pytest

from bluezone.config import ConfigError, config_from_dict, section_defaults
from bluezone.matching.estimators import close_seconds, rts_smooth, weighted_quantile
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
