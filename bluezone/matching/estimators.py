"""Close-contact estimators over a window's series of scans.

GAEN's bucket rule (:mod:`.risk`) looks at each scan instance on its own:
its attenuation picks a bucket and the bucket's weight scales its seconds.
One loud or quiet scan therefore counts as much as a steady run of them,
and body shadowing or a reflection makes single scans swing by 10 dB and
more. The estimators here look at the *series* of a window (up to 30
minutes of one published key's scans, in time order) instead, and decide
which of its seconds were close:

* ``median``: all of the window's seconds count when the duration-weighted
  median attenuation is at most the threshold (a contact is near or not as
  a whole; single outliers do not matter);
* ``quantile``: the same with the duration-weighted lower quartile, which
  leans towards the loudest scans (GAEN's ``minAttenuation`` idea, but
  robust to a single reflection);
* ``kalman``: a Kalman filter with Rauch–Tung–Striebel smoothing over the
  series (a random walk in attenuation seen through noisy scans, as the NHS
  app's risk scoring did), then the seconds whose smoothed attenuation is
  at most the threshold count.

A day's estimate is the sum over its windows; the day warns when it reaches
``minimum_minutes_per_day``, as with the buckets. Windows the bucket model
drops (a filter) are dropped here too, and a window's seconds are weighted
by its report type and infectiousness as there (a weight 0 drops it).
Which estimator a phone uses is ``[risk] estimator`` (``buckets`` is GAEN's
rule); the default was chosen on the simulator (docs/simulator.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import DailyRisk, ExposureWindow, ScanInstance, Tier
from .risk_model import RiskModel, _setting

#: Random-walk variance of the true attenuation per scan (dB²) and scan noise
#: variance (dB²) of the smoother: body turns and shadowing change the mean
#: slowly; single scans scatter by about 6 dB (docs/simulator.md).
KALMAN_PROCESS_VAR = 4.0
KALMAN_NOISE_VAR = 36.0


def _seconds(scan: ScanInstance, cap: int) -> int:
    given = scan.seconds_since_last_scan
    return 0 if given < 0 else min(given, cap)


def weighted_quantile(series: Sequence[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile of values weighted by durations: ``[(value, seconds)]``."""
    total = sum(s for _, s in series)
    if total <= 0:
        return None
    seen = 0.0
    for value, s in sorted(series):
        seen += s
        if seen >= q * total:
            return value
    return sorted(series)[-1][0]


def rts_smooth(values: Sequence[float], process_var: float = KALMAN_PROCESS_VAR,
               noise_var: float = KALMAN_NOISE_VAR) -> list[float]:
    """Kalman filter then Rauch–Tung–Striebel smoother of a scalar random walk."""
    if not values:
        return []
    xs, ps, xp, pp = [float(values[0])], [noise_var], [float(values[0])], [noise_var]
    for z in values[1:]:
        x_pred, p_pred = xs[-1], ps[-1] + process_var
        gain = p_pred / (p_pred + noise_var)
        xs.append(x_pred + gain * (z - x_pred))
        ps.append((1 - gain) * p_pred)
        xp.append(x_pred)
        pp.append(p_pred)
    smooth = xs[:]
    for k in range(len(values) - 2, -1, -1):
        c = ps[k] / pp[k + 1]
        smooth[k] = xs[k] + c * (smooth[k + 1] - xp[k + 1])
    return smooth


def close_seconds(kind: str, scans: Sequence[ScanInstance], threshold_db: float, cap: int = 300) -> float:
    """Seconds of one window's scans that ``kind`` judges close."""
    series = [(float(s.typical_attenuation_db), float(_seconds(s, cap))) for s in scans]
    if kind in ("median", "quantile"):
        level = weighted_quantile(series, 0.5 if kind == "median" else 0.25)
        return sum(s for _, s in series) if level is not None and level <= threshold_db else 0.0
    if kind == "kalman":
        smooth = rts_smooth([a for a, _ in series])
        return sum(s for (_, s), a in zip(series, smooth, strict=True) if a <= threshold_db)
    raise ValueError(f"unknown estimator {kind!r}; choose one of: buckets, {', '.join(SERIES)}")


SERIES = ("median", "quantile", "kalman")


@dataclass(frozen=True, slots=True)
class SeriesEstimator:
    """A series estimator with its threshold, as a scorer of windows."""

    kind: str
    threshold_db: float

    def score(self, windows: Iterable[ExposureWindow], risk: dict[str, Any]) -> list[DailyRisk]:
        model = RiskModel.from_risk(risk)
        minimum = float(_setting(risk, "minimum_minutes_per_day"))
        days: dict[tuple, list[float]] = defaultdict(list)
        for w in windows:
            key = (w.date, Tier(w.tier))
            days[key]  # the day exists even when every window is dropped
            if model.score_window(w) is None:
                continue
            rt, inf = model._legacy_multiplier(w)  # report type and infectiousness weights, as the buckets
            days[key].append(rt * inf * close_seconds(self.kind, w.scan_instances, self.threshold_db,
                                                      model.max_seconds_per_scan))
        out = []
        for (date, tier), secs in sorted(days.items()):
            total = sum(secs)
            out.append(DailyRisk(date, tier, total, max(secs, default=0.0), total / 60,
                                 exposed=tier is not Tier.NONE and total > 0 and total / 60 >= minimum))
        return out


def series_scorer(kind: str, threshold_db: float, risk: dict[str, Any]) -> Callable[[list[ExposureWindow]], list[DailyRisk]]:
    """A pipeline scorer (windows → daily risks) using a series estimator."""
    est = SeriesEstimator(kind, threshold_db)
    return lambda windows: est.score(windows, risk)
