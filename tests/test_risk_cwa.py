"""The Corona-Warn-App's own risk-calculation test cases, scored from examples/risk/cwa-v2.toml.

Every case of tests/vectors/cwa/ goes through ``bluezone_score_exposure_windows``
(the first-result hook the phone's sync calls, answered by the built-in
``risk-gaen`` plugin) with the deployment loaded from the example file, and the
CWA's expected aggregate is compared field by field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tomllib
from pathlib import Path

import pytest

from bluezone.config import config_from_dict, load_config
from bluezone.matching.fixtures import deployment, new_signing_key
from bluezone.matching.pipeline import hook_scorer
from bluezone.matching.risk import summarize
from bluezone.matching.windows import uploader_tier
from bluezone.models import ExposureWindow, Infectiousness, ReportType, RiskLevel, ScanInstance

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "tests" / "vectors" / "cwa" / "exposure-windows-risk-calculation.json").read_text())
CASES = VECTORS["testCases"]
EXAMPLE = ROOT / "examples" / "risk" / "cwa-v2.toml"
TODAY = dt.date(2024, 5, 20)  # the cases give ages in days; any day works


@pytest.fixture(scope="module")
def config():
    return load_config(EXAMPLE)


def windows_of(case: dict, risk: dict) -> list[ExposureWindow]:
    out = []
    for w in case["exposureWindows"]:
        rt = ReportType(w["reportType"])
        if uploader_tier(rt, risk) is None:
            continue  # a key that warns nobody makes no window (build_windows drops it)
        out.append(ExposureWindow(
            TODAY - dt.timedelta(days=w["ageInDays"]), rt, Infectiousness(w["infectiousness"]),
            tuple(ScanInstance(s["typicalAttenuation"], s["minAttenuation"], s["secondsSinceLastScan"])
                  for s in w["scanInstances"]),
            w["calibrationConfidence"], uploader_tier(rt, risk).exposed_tier(),  # type: ignore[union-attr]
        ))
    return out


def _day(age: int | None) -> dt.date | None:
    return None if age is None else TODAY - dt.timedelta(days=age)


def test_all_29_cases_are_here():
    assert len(CASES) == 29


@pytest.mark.parametrize("case", CASES, ids=[c["description"][:70] for c in CASES])
def test_cwa_case_through_the_phone_scoring_hook(case, config):
    daily = hook_scorer(config)(windows_of(case, config.risk))
    got = summarize(daily)
    assert {
        "total": int(got.total_level), "low_day": got.most_recent_low_day, "high_day": got.most_recent_high_day,
        "low_days": got.days_low, "high_days": got.days_high,
        "low_encounters": got.encounters_low, "high_encounters": got.encounters_high,
    } == {
        "total": case["expTotalRiskLevel"],
        "low_day": _day(case["expAgeOfMostRecentDateWithLowRisk"]),
        "high_day": _day(case["expAgeOfMostRecentDateWithHighRisk"]),
        "low_days": case["expNumberOfDaysWithLowRisk"], "high_days": case["expNumberOfDaysWithHighRisk"],
        "low_encounters": case["expTotalMinimumDistinctEncountersWithLowRisk"],
        "high_encounters": case["expTotalMinimumDistinctEncountersWithHighRisk"],
    }
    # the phone's alerting reads the same rows: HIGH days warn, LOW days notify
    assert sorted(d.date for d in daily if d.exposed) == sorted(
        d.date for d in daily if d.level is RiskLevel.HIGH)


def _cwa_range(r: dict) -> dict:
    return {"min": r["min"], "max": r["max"], "min_exclusive": r.get("minExclusive", False),
            "max_exclusive": r.get("maxExclusive", False)}


def test_example_file_states_the_configuration_the_cases_were_written_for():
    c = VECTORS["defaultRiskCalculationConfiguration"]
    risk = tomllib.loads(EXAMPLE.read_text())["risk"]
    level = {1: "low", 2: "high"}
    assert risk["minutes_at_attenuation_filters"] == c["minutesAtAttenuationFilters"] == []
    assert risk["transmission_risk_level_filters"] == c["trlFilters"] == []
    assert [{"attenuation_range": _cwa_range(w["attenuationRange"]), "weight": w["weight"]}
            for w in c["minutesAtAttenuationWeights"]] == [
        {"attenuation_range": {"min_exclusive": False, "max_exclusive": False, **w["attenuation_range"]},
         "weight": w["weight"]} for w in risk["minutes_at_attenuation_weights"]]
    for ours, theirs in (("window_risk_levels", "normalizedTimePerEWToRiskLevelMapping"),
                         ("day_risk_levels", "normalizedTimePerDayToRiskLevelMapping")):
        assert [{"normalized_minutes_range": {"min_exclusive": False, "max_exclusive": False,
                                              **m["normalized_minutes_range"]}, "level": m["level"]}
                for m in risk[ours]] == [
            {"normalized_minutes_range": _cwa_range(m["normalizedTimeRange"]), "level": level[m["riskLevel"]]}
            for m in c[theirs]]
    enc = c["trlEncoding"]
    assert risk["transmission_risk_level_encoding"] == {
        "infectiousness_offset_standard": enc["infectiousnessOffsetStandard"],
        "infectiousness_offset_high": enc["infectiousnessOffsetHigh"],
        "report_type_offset_recursive": enc["reportTypeOffsetRecursive"],
        "report_type_offset_self_report": enc["reportTypeOffsetSelfReport"],
        "report_type_offset_confirmed_clinical_diagnosis": enc["reportTypeOffsetConfirmedClinicalDiagnosis"],
        "report_type_offset_confirmed_test": enc["reportTypeOffsetConfirmedTest"],
    }
    assert [(v["level"], v["value"]) for v in risk["transmission_risk_values"]] == [
        (m["transmissionRiskLevel"], m["transmissionRiskValue"]) for m in c["transmissionRiskValueMapping"]]


def test_per_window_results_of_the_threshold_case(config):
    """The cases give no per-window expectations; the last one (EXPOSUREAPP-12211)
    is worked by hand from the CWA's algorithm: clinical diagnosis (offset 4) +
    high infectiousness (2) = level 6, value 1.2; min attenuations 73/72/70 dB
    weigh 0.1/1.0/1.0; 30 s, 240 s, 180 s weighted → 0.6, 4.8, 3.6 normalized
    minutes, each LOW; the day's 9.0 (after rounding 8.999…) is HIGH."""
    [case] = [c for c in CASES if c["description"].startswith("EXPOSUREAPP-12211")]
    [day] = hook_scorer(config)(windows_of(case, config.risk))
    assert [(w.transmission_risk_level, w.calibration_confidence, w.level) for w in day.windows] == [
        (6, 3, RiskLevel.LOW)] * 3
    assert [w.normalized_minutes for w in day.windows] == pytest.approx([0.6, 4.8, 3.6])
    assert day.weighted_minutes == 9.0 and day.exposed and day.level is RiskLevel.HIGH


def test_per_window_result_just_under_ten_minutes(config):
    """599 s at 30 dB (weight 0.8) from a level-6 key: 7.98… weighted minutes × 1.2 = 9.58 → HIGH window."""
    [day] = hook_scorer(config)(windows_of(CASES[0], config.risk))
    [w] = day.windows
    assert (w.transmission_risk_level, w.level) == (6, RiskLevel.HIGH)
    assert w.normalized_minutes == pytest.approx(599 * 0.8 / 60 * 1.2)


def test_todays_default_scoring_reproduces_only_4_cases():
    """Why the new fields exist: the defaults (kept for existing deployments)
    reproduce 4 of the 29 cases; the example file reproduces all of them."""
    _, pem = new_signing_key()
    default = config_from_dict(deployment(pem))
    agree = 0
    for case in CASES:
        got = summarize(hook_scorer(default)(windows_of(case, default.risk)))
        agree += (int(got.total_level), got.most_recent_low_day, got.most_recent_high_day, got.days_low,
                  got.days_high, got.encounters_low, got.encounters_high) == (
            case["expTotalRiskLevel"], _day(case["expAgeOfMostRecentDateWithLowRisk"]),
            _day(case["expAgeOfMostRecentDateWithHighRisk"]), case["expNumberOfDaysWithLowRisk"],
            case["expNumberOfDaysWithHighRisk"], case["expTotalMinimumDistinctEncountersWithLowRisk"],
            case["expTotalMinimumDistinctEncountersWithHighRisk"])
    assert agree == 4


def test_a_summary_is_a_value_that_cannot_be_altered(config):
    """The summary is what the phone decides a warning from; frozen, so nothing
    between scoring and the warning can change a level or a count, and
    hashable, so two summaries of the same days compare as one value."""
    case = next(c for c in CASES if c["expTotalRiskLevel"] == int(RiskLevel.HIGH))
    got = summarize(hook_scorer(config)(windows_of(case, config.risk)))
    again = summarize(hook_scorer(config)(windows_of(case, config.risk)))
    assert got.total_level is RiskLevel.HIGH
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.total_level = RiskLevel.LOW  # type: ignore[misc]
    assert got.total_level is RiskLevel.HIGH and {got, again} == {got}
