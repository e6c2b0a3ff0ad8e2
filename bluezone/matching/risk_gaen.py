"""Built-in plugin ``risk-gaen``: the default GAEN v2 scoring, registered
through the ``bluezone`` entry-point group like any replacement would be.
Disable it with ``[plugins] disabled = ["risk-gaen"]`` to use another."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .risk import score_windows


@hookimpl(trylast=True)
def bluezone_score_exposure_windows(windows, config):
    return score_windows(windows, config.risk)
