"""The closeness words of "why" follow the attenuation the score weights.

``[risk] attenuation`` chooses which attenuation of a scan instance the risk
model weights: ``typical`` (the default) or ``min`` (as the Corona-Warn-App
does). A warning's explanation must describe the same one, or a person told
"medium distance" was in fact scored as "very close".
"""

from __future__ import annotations

import datetime as dt
import json

from bluezone.matching.explain import describe_windows
from bluezone.matching.windows import risk_setting
from bluezone.models import ExposureWindow, Infectiousness, ReportType, ScanInstance

T0, T1, T2 = risk_setting({}, "attenuation_thresholds_db")

#: Ten minutes whose typical attenuation is "medium" but whose closest moment was "very close".
WINDOW = ExposureWindow(dt.date(2026, 5, 20), ReportType.CONFIRMED_TEST, Infectiousness.HIGH,
                        tuple(ScanInstance(T1 + 1, T0 - 5, 300) for _ in range(2)))


def test_typical_attenuation_is_described_by_default():
    facts = describe_windows([WINDOW], {})
    assert facts["closeness"] == "medium"
    assert facts["minutes_by_closeness"] == {"medium": 10.0}


def test_min_attenuation_is_described_when_the_score_weights_it():
    facts = describe_windows([WINDOW], {"attenuation": "min"})
    assert facts["closeness"] == "immediate"
    assert facts["minutes_by_closeness"] == {"immediate": 10.0}
    assert facts["minutes_unweighted"] == 10.0


def test_minutes_keep_two_decimals_and_the_words_name_the_buckets_thresholds():
    """3 min 5 s is 3.08 minutes (not 3.1, 3.083 or 3); the words give the
    deployment's own dB thresholds, and the report type in words."""
    from bluezone.matching.explain import closeness_words, report_words, source_words

    window = ExposureWindow(dt.date(2026, 5, 20), ReportType.CONFIRMED_TEST, Infectiousness.HIGH,
                            (ScanInstance(T0 - 5, T0 - 5, 185),))
    facts = describe_windows([window], {})
    assert facts["minutes_unweighted"] == 3.08 and facts["minutes_by_closeness"] == {"immediate": 3.08}
    assert closeness_words(None, None, "en") == ""
    assert "50–60" in closeness_words("near", [50, 60, 70], "en")
    assert f"{T0}–{T1}" in closeness_words("near", None, "en")
    assert report_words("confirmed_test", "en") == "a case confirmed by a test"
    assert report_words("a_plugins_type", "en") == "a_plugins_type"
    assert source_words("ble", "en") == "Bluetooth" and source_words("flights", "en") == "flights"


def test_min_read_from_a_file_is_the_same_setting_as_the_literal():
    """A setting parsed from the deployment's file is a new string object, not
    the interned literal: it must still select the minimum attenuation."""
    parsed = json.loads('{"attenuation": "min"}')
    assert describe_windows([WINDOW], parsed)["closeness"] == "immediate"
