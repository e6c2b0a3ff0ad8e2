"""The matching pipeline: the one place index → derive → match → windows →
score are put together, and what its callers can plug in between."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from bluezone.matching import pipeline
from bluezone.matching.fixtures import background_sightings, contact_sightings
from bluezone.models import ExposureKey, ReportType, interval_number
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore

REPO = Path(__file__).resolve().parent.parent
DAY0 = 2_833_056 * 600  # 2023-11-13 00:00 UTC
RISK = {
    "attenuation_thresholds_db": [58, 63, 68],
    "bucket_weights": {"immediate": 1.0, "near": 1.0, "medium": 0.0, "other": 0.0},
    "report_type_weights": {"confirmed_test": 1.0, "confirmed_clinical_diagnosis": 1.0, "self_report": 0.0,
                            "recursive": 1.0},
    "infectiousness_weights": {"standard": 1.0, "high": 1.0},
    "minimum_minutes_per_day": 15,
}

#: The steps' entry points; wiring them is the pipeline's job alone.
STEPS = {"match_all", "match_rows", "iter_matches", "deriver_for", "build_windows", "score_windows"}
#: Modules allowed to name them: the pipeline, the modules defining them, and
#: the default scorer plugin (it implements the score step's hook).
ALLOWED = {"bluezone/matching/pipeline.py", "bluezone/matching/matcher.py", "bluezone/matching/derive.py",
           "bluezone/matching/windows.py", "bluezone/matching/risk.py", "bluezone/matching/risk_gaen.py"}


def _production_modules():
    yield from (REPO / "bluezone").rglob("*.py")
    for package in (REPO / "plugins").glob("*/*/__init__.py"):
        if package.parent.name != "tests":
            yield from package.parent.rglob("*.py")


def test_only_the_pipeline_wires_the_matching_steps():
    offenders = []
    for path in _production_modules():
        rel = path.relative_to(REPO).as_posix()
        if rel in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            offenders += [f"{rel}:{node.lineno} {n}" for n in names if n in STEPS]
    assert offenders == [], "use bluezone.matching.pipeline.run instead"


def test_the_second_matcher_and_the_toy_demo_are_gone():
    assert not (REPO / "bluezone" / "demo.py").exists()
    evaluation = (REPO / "plugins" / "ble" / "bluezone_ble" / "evaluation.py").read_text()
    assert "pipeline.run(" in evaluation and "schedule.identifiers(" not in evaluation


def _met(store, minutes, rssi, start_hour=10):
    key = ExposureKey(os.urandom(16), interval_number(DAY0 + 86400), 144, 2, ReportType.CONFIRMED_TEST, 1)
    store.add_sightings(contact_sightings(GAEN, key, DAY0 + 86400 + start_hour * 3600, minutes, rssi=rssi,
                                          tx_power=-10))
    return key


def test_run_matches_windows_and_scores_with_each_scorer(tmp_path):
    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(300, DAY0, 3))
        near = _met(store, 20, rssi=-60)  # attenuation 50 dB: immediate
        stranger = ExposureKey(os.urandom(16), interval_number(DAY0 + 86400), 144)
        keys = pipeline.KeyBatch.from_keys([near, stranger])
        # 50 dB is "other" (weight 0) for the buckets, and not close for the default estimator
        strict = dict(RISK, attenuation_thresholds_db=[40, 45, 48], estimator_threshold_db=45)
        result = pipeline.run(store, GAEN, keys, RISK, [pipeline.default_scorer(RISK),
                                                         pipeline.default_scorer(strict)])
        assert {m.key[0] for m in result.matches} == {near.key_data}
        assert len(result.windows) == 1 and len(result.windows[0].scan_instances) == 20
        [default], [stricter] = result.daily
        assert default.exposed and default.weighted_minutes == 20.0
        assert not stricter.exposed and stricter.weighted_minutes == 0.0
        import dataclasses

        import pytest
        with pytest.raises(dataclasses.FrozenInstanceError):  # what the callers read is what was found
            result.daily = []  # type: ignore[misc]


def test_keep_and_accumulate_run_between_the_steps(tmp_path):
    with DeviceStore(tmp_path / "d.db") as store:
        a = _met(store, 10, rssi=-60, start_hour=9)
        b = _met(store, 10, rssi=-60, start_hour=14)
        earlier: list = []
        result = pipeline.run(store, GAEN, pipeline.KeyBatch.from_keys([a, b]), RISK,
                              [pipeline.default_scorer(RISK)],
                              keep=lambda ms: [m for m in ms if m.key[0] == b.key_data],
                              accumulate=lambda ws: ws + earlier)
        [[day]] = result.daily
        assert day.weighted_minutes == 10.0 and not day.exposed  # a was dropped by keep
        earlier.extend(result.windows)  # what an earlier batch left, as the keys feed stores it
        again = pipeline.run(store, GAEN, pipeline.KeyBatch.from_keys([b]), RISK, [pipeline.default_scorer(RISK)],
                             accumulate=lambda ws: ws + earlier)
        [[day]] = again.daily
        assert day.weighted_minutes == 20.0 and day.exposed  # minutes add up over batches


def test_the_phone_calibration_correction_moves_attenuation(tmp_path):
    with DeviceStore(tmp_path / "d.db") as store:
        key = _met(store, 20, rssi=-60)  # 50 dB uncorrected
        store.set_meta(pipeline.RSSI_CORRECTION_META, "-12")  # this phone reads 12 dB low: 62 dB
        [window] = pipeline.run(store, GAEN, pipeline.KeyBatch.from_keys([key]), RISK, []).windows
        assert {s.typical_attenuation_db for s in window.scan_instances} == {62}


def test_nothing_matched_runs_no_scorer(tmp_path):
    def never(windows):
        raise AssertionError("scored nothing")

    with DeviceStore(tmp_path / "d.db") as store:
        store.add_sightings(background_sightings(100, DAY0, 2))
        stranger = ExposureKey(os.urandom(16), interval_number(DAY0), 144)
        result = pipeline.run(store, GAEN, pipeline.KeyBatch.from_keys([stranger]), RISK, [never])
        assert (result.matches, result.windows, result.daily) == ([], [], [[]])


def test_bluezone_demo_without_the_plugin_says_how_to_install_it():
    bluezone = Path(sys.executable).with_name("bluezone")
    installed = any(ep.name == "demo" for ep in entry_points(group="bluezone"))
    env = dict(os.environ, BLUEZONE_DISABLE_PLUGINS="demo" if installed else "")  # switched off, or absent
    out = subprocess.run([str(bluezone), "demo", "--citizens", "3"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    [line] = out.stderr.splitlines()
    assert "bluezone-demo" in line and "pip install -e plugins/demo" in line and "hãy cài" in line


def test_keys_never_exported_are_one_report_type_with_risk_0_in_a_fixed_batch():
    """The simulator's keys: as its docstring promises, and not changed after
    the matcher's workers were forked with it."""
    import dataclasses

    import pytest

    from bluezone.matching.pipeline import KeyBatch

    key = ExposureKey(os.urandom(16), 2_833_056, 144)
    batch = KeyBatch.from_keys([key], ReportType.RECURSIVE, 3)
    assert batch.count == 1
    assert list(batch.rows_between(0, 1)) == [(key.key_data, 2_833_056, 144, int(ReportType.RECURSIVE), 3, 0)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.count = 2  # type: ignore[misc]
