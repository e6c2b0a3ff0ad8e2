"""The Corona-Warn-App fields of ``[risk]``: each one changes scoring, and
``config check`` refuses what cannot be meant (tests/test_risk_cwa.py runs
that app's own cases)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bluezone.config import RiskSettings, config_from_dict, load_config
from bluezone.matching.fixtures import deployment, new_signing_key
from bluezone.matching.pipeline import hook_scorer
from bluezone.matching.risk import score_windows
from bluezone.matching.windows import uploader_tier
from bluezone.models import ExposureWindow, Infectiousness, ReportType, RiskLevel, ScanInstance, Tier

_, PEM = new_signing_key()
DAY = dt.date(2024, 5, 3)
ROOT = Path(__file__).resolve().parent.parent
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
CWA = ROOT / "examples" / "risk" / "cwa-v2.toml"
CWA_OLD = ROOT / "examples" / "risk" / "cwa-v2-before-1.15.toml"


def risk(**over):
    # this file is about the bucket / Corona-Warn-App model, not the series estimators
    return config_from_dict(deployment(PEM, risk={"estimator": "buckets", **over})).risk


def unchecked(base, **over):
    """A risk dict handed to the scoring directly, as a plugin or a test may:
    a configuration file refuses a weight table given in part, the scoring
    itself still has to do something defined with one."""
    return {**base, **over}


def cwa_risk(path: Path = CWA, **over):
    return {**tomllib.loads(path.read_text())["risk"], **over}


def window(scans, rt=ReportType.CONFIRMED_TEST, inf=Infectiousness.STANDARD, tier=Tier.F1, day=DAY, cc=0):
    """``scans``: (typical dB, min dB, seconds) triples."""
    return ExposureWindow(day, rt, inf, tuple(ScanInstance(*s) for s in scans), cc, tier)


def test_negative_and_oversized_seconds_are_clamped_by_default():
    """Windows can come from outside the phone's own matching: one scan of 3000 s
    counts 300 (GAEN's cap), a negative one counts nothing."""
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1})
    [d] = score_windows([window([(40, 40, 3000), (40, 40, -86160), (40, 40, -1), (40, 40, 60)])], r)
    assert d.score == 360 and d.weighted_minutes == 6


def test_max_seconds_per_scan_is_configurable():
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1}, max_seconds_per_scan=3600)
    [d] = score_windows([window([(40, 40, 3000)])], r)
    assert d.score == 3000


def test_attenuation_chooses_typical_or_min():
    w = window([(70, 50, 300)] * 3)  # typical 70 dB ("other" by default, weight 0), strongest packet 50 dB
    assert not score_windows([w], risk())[0].exposed
    [d] = score_windows([w], risk(attenuation="min"))
    assert d.exposed and d.weighted_minutes == 15


def test_minutes_at_attenuation_filter_drops_short_windows():
    """CWA before 1.15: under 5 minutes below 79 dB is dropped, whatever its weight."""
    r = cwa_risk(CWA_OLD)
    short = window([(30, 30, 290)], inf=Infectiousness.HIGH)      # 4.8 min: dropped
    long = window([(30, 30, 300)], inf=Infectiousness.HIGH)       # 5 min: kept
    assert score_windows([short], r)[0].windows == ()
    [d] = score_windows([long], r)
    assert len(d.windows) == 1 and d.windows[0].transmission_risk_level == 8


def test_transmission_risk_level_filter_drops_levels_one_and_two():
    r = cwa_risk(CWA_OLD)
    # recursive (offset 0) + high (2) = level 2: dropped; self-report (2) + standard (1) = 3: kept
    assert score_windows([window([(30, 30, 300)] * 4, rt=ReportType.RECURSIVE, inf=Infectiousness.HIGH,
                                 tier=Tier.F2)], r)[0].windows == ()
    [d] = score_windows([window([(30, 30, 300)] * 4, rt=ReportType.SELF_REPORT)], r)
    assert d.windows[0].transmission_risk_level == 3


def test_value_per_transmission_risk_level_replaces_the_weight_product():
    r = cwa_risk()
    [d] = score_windows([window([(30, 70, 600)], rt=ReportType.CONFIRMED_TEST, inf=Infectiousness.HIGH)], r)
    # min 70 dB → weight 1.0; level 6 + 2 = 8 → 1.6; 10 minutes → 16 normalized minutes
    assert d.windows[0].transmission_risk_level == 8 and d.weighted_minutes == 16.0 and d.exposed


def test_low_level_day_is_not_an_exposure_but_is_marked_low():
    r = cwa_risk()
    [d] = score_windows([window([(30, 70, 300)], rt=ReportType.CONFIRMED_TEST)], r)  # 5 min × 1.4 = 7
    assert (d.weighted_minutes, d.low, d.exposed, d.level) == (7.0, True, False, RiskLevel.LOW)


def test_day_rounding_is_half_up():
    base = {"bucket_weights": {"immediate": 1, "near": 1, "medium": 1, "other": 1}}
    w = window([(40, 40, 290), (40, 40, 280), (40, 40, 300)])  # 870 s = 14.5 min
    assert not score_windows([w], risk(**base))[0].exposed
    [d] = score_windows([w], risk(**base, daily_rounding_decimals=0))
    assert d.weighted_minutes == 15 and d.exposed


def test_self_reports_count_only_when_the_deployment_says_so():
    assert uploader_tier(ReportType.SELF_REPORT, risk()) is None
    assert uploader_tier(ReportType.SELF_REPORT, risk(count_self_reports=True)) is Tier.F0
    assert uploader_tier(ReportType.RECURSIVE, risk(count_self_reports=True)) is Tier.F1


def test_defaults_keep_todays_scores():
    """Bucket edges are inclusive, weights multiply; the same numbers as before the new fields."""
    r = risk(attenuation_thresholds_db=[50, 70, 90],
             bucket_weights={"immediate": 1.0, "near": 0.5, "medium": 0.25, "other": 0.0},
             report_type_weights={"confirmed_test": 2.0, "confirmed_clinical_diagnosis": 1.0,
                                  "self_report": 0.0, "recursive": 0.5},
             infectiousness_weights={"standard": 1.0, "high": 1.5})
    w = window([(50, 50, 60), (51, 51, 60), (70, 70, 60), (71, 71, 60), (90, 90, 60), (91, 91, 60)],
               inf=Infectiousness.HIGH)
    [d] = score_windows([w], r)
    assert d.score == (60 + 30 + 30 + 15 + 15) * 2.0 * 1.5 and d.windows[0].level is RiskLevel.NONE
    assert not d.low


def test_the_phone_hook_scores_with_the_cwa_file():
    config = load_config(CWA)
    [d] = hook_scorer(config)([window([(30, 70, 300)])])
    assert d.low and not d.exposed


@pytest.mark.parametrize("path", [CWA, CWA_OLD], ids=["cwa-v2", "cwa-v2-before-1.15"])
def test_example_files_pass_config_check(path):
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


BAD = [
    # values without the encoding that gives levels
    ('transmission_risk_values = [ { level = 1, value = 1.0 } ]',
     "[risk]: transmission_risk_values needs transmission_risk_level_encoding"),
    # a range that holds nothing
    ('day_risk_levels = [ { normalized_minutes_range = { min = 9, max = 9, max_exclusive = true }, level = "high" } ]',
     "day_risk_levels[0].normalized_minutes_range: the range [9, 9] holds no value"),
    # a level the model does not have
    ('window_risk_levels = [ { normalized_minutes_range = { min = 0, max = 9 }, level = "medium" } ]',
     "[risk] window_risk_levels[0].level"),
    ('attenuation = "mean"', "[risk] attenuation"),
]


@pytest.mark.parametrize("line, expected", BAD, ids=["values-without-encoding", "empty-range", "bad-level",
                                                    "bad-attenuation"])
def test_config_check_refuses_with_one_line_each(tmp_path, line, expected):
    text = ('[deployment]\nname = "T"\nregion = "452"\n\n[risk]\n' + line +
            '\n\n[authority]\nurl = "https://authority.example.invalid"\n')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert expected in out.stderr, out.stderr
    assert f"{path}:6: " in out.stderr, out.stderr  # the line of the offending setting
    assert path.read_text() == text  # nothing rewritten


#: An encoding whose levels are easy to read: confirmed 1, clinical 2, self 3, recursive 4; high +10.
ENCODING = {"report_type_offset_confirmed_test": 1, "report_type_offset_confirmed_clinical_diagnosis": 2,
            "report_type_offset_self_report": 3, "report_type_offset_recursive": 4,
            "infectiousness_offset_standard": 0, "infectiousness_offset_high": 10}


def test_with_an_encoding_a_windows_score_is_its_weighted_seconds_times_its_levels_value():
    """The day's score (kept as the exposure's score) is Σ weighted seconds ×
    value, as the normalized minutes are Σ weighted minutes × value."""
    r = cwa_risk()
    [d] = score_windows([window([(30, 70, 600)], rt=ReportType.CONFIRMED_TEST, inf=Infectiousness.HIGH)], r)
    assert d.weighted_minutes == 16.0 and d.score == pytest.approx(600 * 1.6)
    assert d.max_window_score == pytest.approx(600 * 1.6)


def test_a_transmission_risk_level_without_a_value_is_worth_nothing():
    """``transmission_risk_values`` lists level 1 only: a clinical diagnosis
    (level 2) adds nothing to the day, and takes nothing away from it either."""
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1},
             transmission_risk_level_encoding=ENCODING, transmission_risk_values=[{"level": 1, "value": 1.0}])
    confirmed = window([(40, 40, 60)] * 16)
    clinical = window([(40, 40, 60)] * 10, rt=ReportType.CONFIRMED_CLINICAL_DIAGNOSIS)
    [alone] = score_windows([clinical], r)
    assert (alone.score, alone.weighted_minutes, alone.exposed) == (0, 0, False)
    [both] = score_windows([confirmed, clinical], r)
    assert (both.score, both.weighted_minutes, both.exposed) == (960, 16, True)


def test_a_level_given_two_values_is_refused_by_name():
    """What ``config check`` says (the settings refuse it when built; the
    subprocess tests above show the same line reaching the command)."""
    config = config_from_dict(deployment(PEM, risk={
        "transmission_risk_level_encoding": ENCODING,
        "transmission_risk_values": [{"level": 1, "value": 1.0}, {"level": 3, "value": 1.0}, {"level": 3, "value": 2.0}]}))
    with pytest.raises(ValueError, match="^transmission_risk_values: level 3 has two values$"):
        config.typed(RiskSettings)
    # several levels twice: the lowest is named (fixing one at a time, check names the next)
    values = [{"level": lv, "value": v} for lv in (5, 3, 1) for v in (1.0, 2.0)]
    config = config_from_dict(deployment(PEM, risk={"transmission_risk_level_encoding": ENCODING,
                                                    "transmission_risk_values": values}))
    with pytest.raises(ValueError, match="^transmission_risk_values: level 1 has two values$"):
        config.typed(RiskSettings)


EMPTY_RANGES = {
    "attenuation filter": ({"minutes_at_attenuation_filters": [
        {"attenuation_range": {"min": 79, "max": 79, "max_exclusive": True},
         "drop_if_minutes_in_range": {"min": 0, "max": 5, "max_exclusive": True}}]},
        r"minutes_at_attenuation_filters\[0\]\.attenuation_range: the range \[79, 79\] holds no value"),
    "level filter": ({"transmission_risk_level_encoding": ENCODING,
                      "transmission_risk_values": [{"level": 1, "value": 1.0}],
                      "transmission_risk_level_filters": [{"drop_if_trl_in_range": {"min": 3, "max": 1}}]},
                     r"transmission_risk_level_filters\[0\]\.drop_if_trl_in_range: the range \[3, 1\] holds no value"),
    "weight range": ({"minutes_at_attenuation_weights": [
        {"attenuation_range": {"min": 63, "max": 63, "min_exclusive": True}, "weight": 1.0}]},
        r"minutes_at_attenuation_weights\[0\]\.attenuation_range: the range \[63, 63\] holds no value"),
    "inverted day range": ({"day_risk_levels": [{"normalized_minutes_range": {"min": 9, "max": 5}, "level": "high"}]},
                           r"day_risk_levels\[0\]\.normalized_minutes_range: the range \[9, 5\] holds no value"),
}


@pytest.mark.parametrize("name", list(EMPTY_RANGES))
def test_a_range_that_holds_nothing_is_refused_by_its_place(name):
    """A filter range that holds nothing would never drop a window, and a
    range whose minimum is above its maximum holds nothing either: refused
    with where it is, wherever the range is."""
    section, expected = EMPTY_RANGES[name]
    config = config_from_dict(deployment(PEM, risk=section))
    with pytest.raises(ValueError, match=f"^{expected}$"):
        config.typed(RiskSettings)


def test_the_minutes_filter_drops_a_window_one_second_short_of_its_edge():
    """CWA before 1.15 drops under 5 minutes below 79 dB (``max = 5``,
    exclusive): 299 seconds are dropped, 300 kept, counted to the second."""
    r = cwa_risk(CWA_OLD)
    assert score_windows([window([(30, 30, 299)], inf=Infectiousness.HIGH)], r)[0].windows == ()
    assert len(score_windows([window([(30, 30, 300)], inf=Infectiousness.HIGH)], r)[0].windows) == 1


@pytest.mark.parametrize("section", ["as written", "loaded"])
def test_phones_touching_at_0_db_weigh_as_the_closest_range(section):
    """Attenuation is floored at 0 dB (phones touching). The CWA file's first
    range is ``min = 0`` without ``min_exclusive``, which means inclusive
    whether the section was loaded (the schema fills the default in) or is
    given as written (an embedder's partial section): ten minutes at 0 dB
    weigh 0.8, × 1.4 (confirmed, standard) = 11.2 minutes, a HIGH day."""
    r = cwa_risk() if section == "as written" else load_config(CWA).risk
    [d] = score_windows([window([(0, 0, 60)] * 10)], r)
    assert d.weighted_minutes == 11.2 and d.exposed


def test_a_range_whose_minimum_is_exclusive_does_not_hold_it():
    """"More than 15 minutes" (``min = 15``, ``min_exclusive``) does not warn
    at exactly 15 minutes, and warns at 16."""
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1}, day_risk_levels=[
        {"normalized_minutes_range": {"min": 15, "max": 9999, "min_exclusive": True}, "level": "high"}])
    [d] = score_windows([window([(40, 40, 60)] * 15)], r)
    assert d.weighted_minutes == 15 and not d.exposed
    [d] = score_windows([window([(40, 40, 60)] * 16)], r)
    assert d.exposed


@pytest.mark.parametrize("left_out", ["standard", "high"])
def test_an_infectiousness_left_out_of_its_weights_multiplies_by_one(left_out):
    """Unlike a bucket, an infectiousness level that ``infectiousness_weights``
    leaves out is not weighted (× 1.0): its windows count in full."""
    inf = {"standard": Infectiousness.STANDARD, "high": Infectiousness.HIGH}[left_out]
    kept = next(k for k in ("standard", "high") if k != left_out)
    r = unchecked(risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1}),
                  infectiousness_weights={kept: 0.5})
    [d] = score_windows([window([(40, 40, 60)] * 16, inf=inf)], r)
    assert d.weighted_minutes == 16 and d.exposed


def test_transmission_risk_level_zero_is_a_level_of_its_own():
    """Offsets may add up to 0 (a recursive report of standard
    infectiousness here): that window takes level 0's value, not level 1's."""
    encoding = {**ENCODING, "report_type_offset_recursive": 0}
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1},
             transmission_risk_level_encoding=encoding,
             transmission_risk_values=[{"level": 0, "value": 0.5}, {"level": 1, "value": 1.0}])
    [d] = score_windows([window([(40, 40, 60)] * 20, rt=ReportType.RECURSIVE, tier=Tier.F2)], r)
    assert d.windows[0].transmission_risk_level == 0 and d.weighted_minutes == 10 and not d.exposed


def test_a_range_of_one_value_holds_it():
    """``{ min = 2, max = 2 }`` is not empty: ``config check`` accepts it, and
    as a transmission-risk-level filter it drops exactly level 2."""
    config = config_from_dict(deployment(PEM, risk={
        "estimator": "buckets", "bucket_weights": {"immediate": 1, "near": 1, "medium": 1, "other": 1},
        "transmission_risk_level_encoding": ENCODING,
        "transmission_risk_values": [{"level": lv, "value": 1.0} for lv in (1, 2, 3)],
        "transmission_risk_level_filters": [{"drop_if_trl_in_range": {"min": 2, "max": 2}}]}))
    assert config.typed(RiskSettings).transmission_risk_level_filters
    scans = [(40, 40, 60)] * 20
    assert score_windows([window(scans, rt=ReportType.CONFIRMED_CLINICAL_DIAGNOSIS)], config.risk)[0].windows == ()
    assert len(score_windows([window(scans)], config.risk)[0].windows) == 1  # level 1 kept


def test_window_levels_compare_a_windows_exact_minutes():
    """Without an encoding a window's minutes are its weighted seconds / 60,
    not rounded down: 9 min 45 s is above a 9.5-minute bound."""
    r = risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1}, window_risk_levels=[
        {"normalized_minutes_range": {"min": 0, "max": 9.5, "max_exclusive": True}, "level": "low"},
        {"normalized_minutes_range": {"min": 9.5, "max": 9999}, "level": "high"}])
    [d] = score_windows([window([(40, 40, 60)] * 9 + [(40, 40, 45)])], r)
    assert d.windows[0].normalized_minutes == 9.75 and d.windows[0].level is RiskLevel.HIGH


def test_a_minutes_filter_with_an_inclusive_bound_compares_exact_minutes():
    """"Drop at most 5 minutes below 79 dB": 5 min 30 s is more, and kept."""
    r = risk(minutes_at_attenuation_filters=[{"attenuation_range": {"min": 0, "max": 79},
                                              "drop_if_minutes_in_range": {"min": 0, "max": 5}}])
    assert score_windows([window([(30, 30, 300)])], r)[0].windows == ()
    assert len(score_windows([window([(30, 30, 300), (30, 30, 30)])], r)[0].windows) == 1


def test_a_report_type_left_out_of_its_weights_weighs_nothing():
    """As a bucket left out: a report type ``report_type_weights`` does not
    name counts nothing (here a clinical diagnosis), the others as weighted."""
    r = unchecked(risk(bucket_weights={"immediate": 1, "near": 1, "medium": 1, "other": 1}),
                  report_type_weights={"confirmed_test": 1.0, "recursive": 1.0})
    scans = [(40, 40, 60)] * 20
    [d] = score_windows([window(scans, rt=ReportType.CONFIRMED_CLINICAL_DIAGNOSIS)], r)
    assert (d.score, d.exposed) == (0, False)
    assert score_windows([window(scans)], r)[0].score == 1200


def test_an_attenuation_no_weight_range_holds_weighs_nothing():
    """The CWA's ranges end at 79 dB: ten minutes at 85 dB weigh 0 (no day
    level), and take nothing from ten minutes at 65 dB in the same window
    (weight 1.0 × 1.4: 14 minutes, a HIGH day)."""
    [d] = score_windows([window([(85, 85, 60)] * 10)], cwa_risk())
    assert (d.weighted_minutes, d.level) == (0, RiskLevel.NONE)
    [d] = score_windows([window([(65, 65, 60)] * 10 + [(85, 85, 60)] * 10)], cwa_risk())
    assert (d.weighted_minutes, d.level) == (14, RiskLevel.HIGH)


def test_with_no_minimum_any_weighed_second_warns_and_nothing_does_not():
    """``minimum_minutes_per_day = 0``: one second that weighs is a warning;
    a day whose windows weigh nothing is not."""
    r = risk(minimum_minutes_per_day=0)
    assert score_windows([window([(40, 40, 1)])], r)[0].exposed
    assert not score_windows([window([(95, 95, 60)] * 30)], r)[0].exposed


def test_the_days_minutes_follow_the_cwas_order_of_operations():
    """Weighted seconds / 60 × the value, summed per window, then rounded half
    up to 0.1: 21 scans of 5 s at 65 dB (weight 1.0), confirmed (1.4) are
    2.4499999… minutes in that order (2.4), not (105 × 1.4) / 60 = 2.45 (2.5)."""
    [d] = score_windows([window([(65, 65, 5)] * 21)], cwa_risk())
    assert d.weighted_minutes == 2.4 and d.windows[0].normalized_minutes == 1.4 * (105 / 60)


@pytest.mark.parametrize("left_out, attenuation", [("immediate", 40), ("near", 60), ("medium", 65), ("other", 95)])
def test_a_bucket_left_out_of_bucket_weights_weighs_nothing(left_out, attenuation):
    """A ``bucket_weights`` that does not name every bucket (handed to the
    scoring directly; a configuration file refuses it): twenty minutes in the
    one it leaves out (thresholds 58, 63, 68 dB) count nothing, as an
    attenuation no ``minutes_at_attenuation_weights`` range holds does."""
    every = {"immediate": 1, "near": 1, "medium": 1, "other": 1}
    w = window([(attenuation, attenuation, 60)] * 20)
    [d] = score_windows([w], unchecked(risk(), bucket_weights={k: v for k, v in every.items() if k != left_out}))
    assert (d.score, d.exposed) == (0, False)
    [d] = score_windows([w], risk(bucket_weights=every))
    assert (d.score, d.exposed) == (1200, True)


def test_attenuations_beyond_the_weight_table_are_weighed_by_their_range():
    """Whole-dB attenuations below 256 are weighed through a precomputed
    table; the rest (a sighting with an implausible RSSI, a window from outside
    the phone) must still be weighed by the ranges, not index past the table."""
    r = risk(bucket_weights={"immediate": 0, "near": 0, "medium": 0, "other": 0.5})
    for attenuation in (255, 256, 300):
        [d] = score_windows([window([(attenuation, attenuation, 60)] * 10)], r)
        assert d.score == 300 and d.weighted_minutes == 5, attenuation
