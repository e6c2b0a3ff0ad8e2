"""The matching pipeline: the one place its steps are put together.

Published keys reach a warning through five steps, each its own module::

    sightings ─► index ─┐
                        ├─► match ─► (keep) ─► windows ─► (accumulate) ─► score ─► daily risks
    keys ─► derive ─────┘

1. **index** (:mod:`.index`): the device's own sightings (identifiers and
   times only), indexed once per open store and kept current as sightings
   are added or purged (:func:`sighting_index`);
2. **derive** (:mod:`.derive`): the identifiers each published key broadcast,
   through the deployment's key schedule;
3. **match** (:mod:`.matcher`): the streaming join of 2 and 1, within the
   schedule's tolerance, on several cores for large batches;
4. **windows** (:mod:`.windows`): TX power check, attenuation with this
   phone's RSSI correction (:func:`rssi_correction`), GAEN v2 exposure
   windows;
5. **score** (:mod:`.risk` by default, or a plugin's
   ``bluezone_score_exposure_windows``): windows to daily risks.

Two places use it, with the same steps in the same order: the ``keys`` feed
(:mod:`.plugin`), on every sync, and the BLE plugin's evaluation on the radio
simulator. They differ only in what they pass in:

* ``keep`` runs between match and windows. The ``keys`` feed drops there
  what this store already counted (:func:`.once.uncounted`: each published
  key and interval counts once, whatever file brings it).
* ``accumulate`` runs between windows and score. The ``keys`` feed stores
  the batch's new windows there and returns every window of the same days,
  so exposure minutes add up over batches.
* ``scorers``: the ``keys`` feed scores through the hook
  (:func:`hook_scorer`); the evaluation scores one set of windows with each
  of its threshold rules (:func:`default_scorer`), so the matching work is
  done once per pair.

Nothing else wires these steps together (a test checks that no other module
of the core or of the first-party plugins imports them), so a change to
matching reaches the phone and the evaluation alike.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import DailyRisk, ExposureKey, ExposureWindow, ReportType
from .derive import deriver_for
from .index import SightingIndex
from .matcher import KeyRow, Match, RowSource, match_all
from .risk import score_windows
from .windows import build_windows, window_from_json

#: Store meta key holding this phone's RSSI correction in dB (written by the
#: BLE plugin's calibration; 0 when absent).
RSSI_CORRECTION_META = "rssi_correction_db"

#: Windows in, daily risks out (one per day and tier).
Scorer = Callable[[list[ExposureWindow]], list[DailyRisk]]

_INDEXES: "weakref.WeakKeyDictionary[Any, SightingIndex]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class KeyBatch:
    """Published keys as the matcher reads them: ``count`` rows, of which
    ``rows_between(a, b)`` yields rows ``a..b`` (a worker process reads only
    its own slice, so a large export is never copied whole)."""

    count: int
    rows_between: RowSource

    @classmethod
    def from_rows(cls, rows: Sequence[KeyRow]) -> "KeyBatch":
        return cls(len(rows), lambda a, b: rows[a:b])

    @classmethod
    def from_keys(cls, keys: Iterable[ExposureKey], report_type: ReportType = ReportType.CONFIRMED_TEST,
                  days_since_onset: int | None = None) -> "KeyBatch":
        """Keys that were never in an export (the simulator's evaluation):
        one report type for all, transmission risk 0."""
        return cls.from_rows([(k.key_data, k.rolling_start_interval_number, k.rolling_period,
                               int(report_type), days_since_onset, 0) for k in keys])


@dataclass(frozen=True, slots=True)
class Result:
    """What one run found: the matches kept, the batch's own windows, and the
    daily risks of each scorer (in the order the scorers were given)."""

    matches: list[Match]
    windows: list[ExposureWindow]
    daily: list[list[DailyRisk]]


def sighting_index(store: Any, identifier_length: int) -> SightingIndex:
    """The store's index, built once per open store and kept current: reused
    while nothing was written, extended by the sightings added since (a
    ``sync --watch`` that runs for days), rebuilt after a purge."""
    index = _INDEXES.get(store)
    if index is None or index.identifier_length != identifier_length:
        index = SightingIndex.from_store(store, identifier_length)
    else:
        index = index.refreshed(store)
    _INDEXES[store] = index
    return index


def stored_windows(store: Any, days: Iterable[str]) -> list[ExposureWindow]:
    """Every exposure window ``store`` keeps for these ISO days, from every batch
    so far (without keys): what the phone scores for those days. Reports (the
    demo) score them again to show weighted minutes below the threshold too."""
    return [window_from_json(text) for _day, _tier, text in store.exposure_windows(days)]


def rssi_correction(store: Any) -> float:
    """This phone's calibration correction in dB (0 when never calibrated)."""
    return float(store.get_meta(RSSI_CORRECTION_META, "0") or 0)


def default_scorer(risk: dict[str, Any]) -> Scorer:
    """GAEN v2 scoring with a ``[risk]`` section, without plugins."""
    return lambda windows: score_windows(windows, risk)


def hook_scorer(config: Any) -> Scorer:
    """Scoring through ``bluezone_score_exposure_windows`` (first result
    wins; sync only, so it is called directly)."""
    return lambda windows: config.pm.hook.bluezone_score_exposure_windows(windows=windows, config=config) or []


def run(
    store: Any, schedule: Any, keys: KeyBatch, risk: dict[str, Any], scorers: Sequence[Scorer], *,
    keep: Callable[[list[Match]], list[Match]] | None = None,
    accumulate: Callable[[list[ExposureWindow]], list[ExposureWindow]] | None = None,
    workers: int | None = None,
) -> Result:
    """Match ``keys`` against ``store``'s sightings and score what they add.

    ``risk`` decides which keys count and how (report type, infectiousness)
    while windows are built; each scorer then turns the windows into daily
    risks. With nothing matched (or nothing kept) no window is built and no
    scorer runs. ``workers`` as in :func:`.matcher.match_all`.
    """
    index = sighting_index(store, schedule.identifier_length)
    matches = match_all(keys.rows_between, keys.count, index, deriver_for(schedule),
                        schedule.match_tolerance_intervals, workers)
    if keep is not None:
        matches = keep(matches)
    if not matches:
        return Result([], [], [[] for _ in scorers])
    windows, _dropped = build_windows(matches, schedule, risk, rssi_correction(store))
    if not windows:
        return Result(matches, [], [[] for _ in scorers])
    scored = accumulate(windows) if accumulate is not None else windows
    return Result(matches, windows, [score(scored) for score in scorers])
