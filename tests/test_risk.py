"""GAEN v2 risk scoring: buckets, weights, infectiousness, thresholds, the hook."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from bluezone.config import config_from_dict
from bluezone.hookspecs import hookimpl
from bluezone.matching.fixtures import deployment, new_signing_key
from bluezone.matching.risk import bucket, score_windows, window_score
from bluezone.matching.windows import effective_report_type, infectiousness
from bluezone.models import DailyRisk, ExposureWindow, Infectiousness, ReportType, ScanInstance, Tier

_, PEM = new_signing_key()
DAY = dt.date(2024, 5, 3)


def risk(**over):
    return config_from_dict(deployment(PEM, risk=over)).risk


def window(att: int, minutes: int, rt=ReportType.CONFIRMED_TEST, inf=Infectiousness.STANDARD, tier=Tier.F1, day=DAY):
    return ExposureWindow(day, rt, inf, tuple(ScanInstance(att, att, 60) for _ in range(minutes)), 0, tier)


def test_fifteen_minutes_with_all_weights_one_score_900():
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1})
    [daily] = score_windows([window(40, 15)], r)
    assert daily.score == 900 and daily.weighted_minutes == 15 and daily.exposed


def test_bucket_edges_are_inclusive():
    t = [50, 70, 90]
    assert [bucket(a, t) for a in (0, 50, 51, 70, 71, 90, 91)] == [
        "immediate", "immediate", "near", "near", "medium", "medium", "other"]


def test_bucket_weights_and_minimum_minutes():
    r = risk(estimator="buckets", attenuation_thresholds_db=[50, 70, 90],
             bucket_weights={"immediate": 1.0, "near": 1.0, "medium": 0.5, "other": 0.0})  # minimum 15 min
    [d] = score_windows([window(80, 20)], r)
    assert d.weighted_minutes == 10 and not d.exposed
    [d] = score_windows([window(80, 30)], r)
    assert d.weighted_minutes == 15 and d.exposed
    [d] = score_windows([window(95, 120)], r)
    assert d.score == 0 and not d.exposed


def test_report_type_and_infectiousness_weights_multiply():
    r = risk(report_type_weights={"confirmed_test": 2.0, "confirmed_clinical_diagnosis": 1.0,
                                  "self_report": 0.0, "recursive": 0.5},
             infectiousness_weights={"standard": 1.0, "high": 1.5})
    assert window_score(window(40, 10, inf=Infectiousness.HIGH), r) == 600 * 2.0 * 1.5
    assert window_score(window(40, 10, rt=ReportType.RECURSIVE, tier=Tier.F2), r) == 600 * 0.5


def test_days_and_tiers_are_scored_separately_sum_and_max():
    r = risk()
    other = DAY + dt.timedelta(days=1)
    ws = [window(40, 10), window(40, 8), window(40, 30, day=other), window(40, 20, rt=ReportType.RECURSIVE, tier=Tier.F2)]
    by = {(d.date, d.tier): d for d in score_windows(ws, r)}
    assert by[(DAY, Tier.F1)].weighted_minutes == 18 and by[(DAY, Tier.F1)].max_window_score == 600
    assert by[(other, Tier.F1)].exposed and by[(DAY, Tier.F2)].weighted_minutes == 20


def test_infectiousness_from_days_since_onset():
    r = risk()
    assert infectiousness(0, r) is Infectiousness.HIGH
    assert infectiousness(-3, r) is Infectiousness.STANDARD
    assert infectiousness(None, r) is Infectiousness.STANDARD
    r2 = risk(infectiousness_by_days_since_onset={"high": [0, 3], "standard": [-2, 7]},
              infectiousness_when_onset_unknown="none")
    assert infectiousness(9, r2) is Infectiousness.NONE and infectiousness(None, r2) is Infectiousness.NONE


def test_report_type_when_missing():
    assert effective_report_type(0, risk()) is ReportType.CONFIRMED_TEST
    assert effective_report_type(0, risk(report_type_when_missing="recursive")) is ReportType.RECURSIVE
    assert effective_report_type(2, risk(report_type_when_missing="recursive")) is ReportType.CONFIRMED_CLINICAL_DIAGNOSIS


def test_bad_risk_config_is_rejected_with_its_location():
    from bluezone.config import ConfigError

    with pytest.raises(ConfigError, match=r"\[risk\] infectiousness_when_onset_unknown"):
        risk(infectiousness_when_onset_unknown="maybe")


class StrictProvince:
    """A province's own scoring: any second of contact closer than 30 dB."""

    @hookimpl(tryfirst=True)
    def bluezone_score_exposure_windows(self, windows, config):
        return [DailyRisk(w.date, w.tier, 1.0, 1.0, 1.0, exposed=any(s.typical_attenuation_db < 30 for s in w.scan_instances))
                for w in windows]


def test_scoring_is_a_hook_a_province_can_replace():
    config = config_from_dict(deployment(PEM))
    default = config.pm.hook.bluezone_score_exposure_windows(windows=[window(20, 2)], config=config)
    assert not default[0].exposed
    config.pm.register(StrictProvince(), "strict-province")
    replaced = config.pm.hook.bluezone_score_exposure_windows(windows=[window(20, 2)], config=config)
    assert replaced[0].exposed


def test_dropped_windows_score_zero_and_the_none_tier_never_warns():
    """Found by mutation testing (docs/testing.md): a window a filter drops
    scores 0 (alone and as its day's strongest window), and windows of no tier
    are scored but never warn, however close and long."""
    r = risk(minutes_at_attenuation_filters=[{
        "attenuation_range": {"min": 0, "max": 73, "min_exclusive": False, "max_exclusive": True},
        "drop_if_minutes_in_range": {"min": 0, "max": 10, "min_exclusive": False, "max_exclusive": True}}])
    short = window(40, 5)  # five minutes close: dropped by the filter
    assert window_score(short, r) == 0.0
    [day] = score_windows([short], r)
    assert (day.score, day.max_window_score, day.exposed) == (0, 0, False)
    # with the buckets and with the schema's default series estimator (kalman), which score apart
    for estimator in ("buckets", "kalman"):
        every = risk(estimator=estimator, bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1})
        [day] = score_windows([window(40, 60, tier=Tier.NONE)], every)
        assert day.score == 3600 and not day.exposed and not day.low


def series(attenuations: list[int]) -> ExposureWindow:
    """A window of one-minute scans at these attenuations."""
    return ExposureWindow(DAY, ReportType.CONFIRMED_TEST, Infectiousness.STANDARD,
                          tuple(ScanInstance(a, a, 60) for a in attenuations), 0, Tier.F1)


def test_the_deployments_estimator_decides_which_seconds_count_as_close():
    """``[risk] estimator`` picks how a window's close seconds are counted,
    and so who is warned: ten minutes at 50 dB then ten at 90 dB are ten
    close minutes in the buckets (58/63/68 dB, weights 1/1/0/0), twenty to
    the median and the quantile (the window's typical level is close), and
    eight to the schema's default, the Kalman smoother (the minutes around
    the step blur). Only the median's and the quantile's reach the 15
    minutes that warn. The name ``buckets`` is compared by value: a
    deployment file's ``estimator = "buckets"`` is a string parsed from TOML."""
    w = series([50] * 10 + [90] * 10)
    minutes = {}
    for name in ("buckets", "median", "quantile", "kalman"):
        [day] = score_windows([w], risk(estimator=name))
        minutes[name] = (day.weighted_minutes, day.exposed)
    assert minutes == {"buckets": (10, False), "median": (20, True), "quantile": (20, True), "kalman": (8, False)}
    [default] = score_windows([w], risk())
    assert (default.weighted_minutes, default.exposed) == (8, False)
    from_file = tomllib.loads('estimator = "buckets"')
    [day] = score_windows([w], risk(**from_file))
    assert (day.weighted_minutes, day.exposed) == (10, False)
