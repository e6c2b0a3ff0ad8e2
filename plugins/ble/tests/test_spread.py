"""Figures quoted with their spread over seeds and their source."""

from bluezone.config import section_defaults
from bluezone_ble.spread import load_summary, spread_lines

SUMMARY = {
    "seeds": [21, 22], "devices": 30, "hours": 1, "studies": ["Study A (2020)"],
    "rules": {"default": {"name": "default: kalman <= 60 dB", "scenarios": {
        "office": {"precision": [0.61, 0.02], "recall": [0.57, 0.031], "f1": [0.59, 0.01]},
        "bus": {"precision": [0.64, 0.08], "recall": [0.42, 0.04], "f1": [0.5, 0.03]}}}},
}


def test_lines_give_mean_and_spread_and_the_source():
    lines = [str(x) for x in spread_lines(["bus"], SUMMARY)]
    assert "seeds 21, 22" in lines[0] and "30 phones" in lines[0]
    assert "bus: precision 64 ± 8 %, recall 42 ± 4 %" in lines[1]
    assert "fitted to Study A (2020)" in lines[-1]
    assert len(lines) == 3  # office left out
    assert len(spread_lines(None, SUMMARY)) == 4


def test_packaged_summary_is_of_the_shipped_default():
    """``make bench`` writes the summary; it must describe the estimator the
    core ships, over every scenario and several seeds."""
    summary = load_summary()
    assert summary is not None, "run make bench (benchmarks/bench_ble_eval.py) to write evaluation_summary.json"
    risk = section_defaults("risk")
    default = summary["rules"]["default"]
    assert default["name"] == f"default: {risk['estimator']} <= {risk['estimator_threshold_db']:g} dB"
    assert set(default["scenarios"]) == {"office", "market", "bus", "home"}
    assert len(summary["seeds"]) >= 3 and summary["studies"]
    # the chosen default beat the former rule on its worst scenario (held-out seeds)
    assert default["worst_f1"] > summary["rules"]["before"]["worst_f1"]
