"""The evaluation's figures with their spread over seeds, for people to read.

One simulated run gives one precision and one recall, and the next seed
gives others: a figure without its spread overstates what we know, and a
figure without its source overstates the model. ``make bench``
(benchmarks/bench_ble_eval.py) writes ``evaluation_summary.json`` with the
default estimator's precision and recall per scenario over held-out seeds;
``bluezone trace --simulate`` and the demo quote it through
:func:`spread_lines`, together with the studies the radio model was fitted to.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from bluezone.i18n import Message, _

SUMMARY_FILE = "evaluation_summary.json"


def load_summary() -> dict[str, Any] | None:
    """The packaged summary, or ``None`` when it is missing or unreadable."""
    try:
        return json.loads(resources.files(__package__).joinpath(SUMMARY_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _pm(pair: list[float]) -> str:
    mean, sd = pair
    return f"{100 * mean:.0f} ± {100 * sd:.0f} %"


def spread_lines(scenarios: list[str] | None = None, summary: dict[str, Any] | None = None) -> list[Message]:
    """Lines saying the default estimator's precision and recall (mean ± sd
    over seeds) for ``scenarios`` (all when ``None``), and where the model's
    figures come from. Empty when no summary is packaged."""
    summary = summary if summary is not None else load_summary()
    if not summary:
        return []
    rule = summary["rules"]["default"]
    seeds = ", ".join(map(str, summary["seeds"]))
    lines = [_("Evaluation of the default estimator ({rule}) on the simulator, seeds {seeds}, {devices} phones, "
               "{hours} h each (mean ± spread over seeds):", rule=rule["name"], seeds=seeds,
               devices=summary["devices"], hours=summary["hours"])]
    for name, fig in rule["scenarios"].items():
        if scenarios is None or name in scenarios:
            lines.append(_("{scenario}: precision {precision}, recall {recall}", scenario=name,
                           precision=_pm(fig["precision"]), recall=_pm(fig["recall"])))
    lines.append(_("These figures come from a radio model fitted to {studies}; the other places' radio figures "
                   "are assumptions (docs/simulator.md).", studies="; ".join(summary["studies"])))
    return lines
