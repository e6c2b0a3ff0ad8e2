"""Evaluation of the close-contact rule on simulated data.

For every ordered pair of simulated phones (sender S, listener L) we ask:
had S been a confirmed case, would L's phone have warned? and compare the
answer with the simulator's ground truth (≥ 15 min within 2 m).

"Would have warned" is decided by the phone's own matching pipeline
(:mod:`bluezone.matching.pipeline`: index, derive, match, GAEN v2 exposure
windows, scoring), the same code a sync runs on a ``keys`` batch, with S's
keys as a confirmed-test report. The windows of a pair are built once and
scored with every threshold rule compared (:data:`RULES`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bluezone import ExposureKey, pipeline, section_defaults

from .sim.truth import GroundTruth

_RISK = section_defaults("risk")


@dataclass(frozen=True, slots=True)
class RiskRule:
    """The parts of ``[risk]`` that decide a BLE close contact."""

    # defaults: the core's [risk] schema
    name: str = "default"
    thresholds_db: tuple[int, int, int] = tuple(_RISK["attenuation_thresholds_db"])
    weights: tuple[float, float, float, float] = tuple(  # immediate, near, medium, other
        _RISK["bucket_weights"][k] for k in ("immediate", "near", "medium", "other"))
    minimum_minutes: float = float(_RISK["minimum_minutes_per_day"])
    #: ``[risk] attenuation``: which of a scan's attenuations the buckets use
    attenuation: str = "typical"
    #: ``[risk] estimator`` and its threshold: ``buckets`` or a series estimator
    estimator: str = "buckets"
    estimator_threshold_db: float = 63.0

    @classmethod
    def from_config(cls, risk: dict[str, Any], name: str = "deployment") -> "RiskRule":
        w = risk["bucket_weights"]
        return cls(name, tuple(risk["attenuation_thresholds_db"]),
                   (w["immediate"], w["near"], w["medium"], w["other"]), risk["minimum_minutes_per_day"],
                   risk.get("attenuation", "typical"), risk.get("estimator", "buckets"),
                   float(risk.get("estimator_threshold_db", 63.0)))

    def describe(self) -> str:
        """Short technical name of the rule: thresholds, or estimator and threshold."""
        if self.estimator != "buckets":
            return f"{self.estimator} ≤ {self.estimator_threshold_db:g} dB"
        prefix = "min-attenuation " if self.attenuation == "min" else ""
        return prefix + "buckets " + "/".join(map(str, self.thresholds_db)) + " dB"

    def to_risk(self) -> dict[str, Any]:
        """This rule as a core ``[risk]`` section: the schema's defaults with
        this rule's thresholds, bucket weights and minimum."""
        return {
            **section_defaults("risk"),
            "attenuation_thresholds_db": list(self.thresholds_db),
            "bucket_weights": dict(zip(("immediate", "near", "medium", "other"), self.weights, strict=True)),
            "minimum_minutes_per_day": self.minimum_minutes,
            "attenuation": self.attenuation,
            "estimator": self.estimator,
            "estimator_threshold_db": self.estimator_threshold_db,
        }


#: Threshold choices compared in the evaluation table (published sources listed in docs/simulator.md).
RULES: tuple[RiskRule, ...] = (
    RiskRule("buckets 58/63/68 (default before #16)", (58, 63, 68), (1.0, 1.0, 0.0, 0.0), 15),
    RiskRule("GAEN Apple thresholds 50/70/90", (50, 70, 90), (1.0, 1.0, 0.5, 0.0), 15),
    RiskRule("SwissCovid-like 50/55", (50, 55, 90), (1.0, 0.5, 0.0, 0.0), 15),
    RiskRule("CWA v2-like 63/73/79", (62, 72, 78), (0.8, 1.0, 0.1, 0.0), 13),
    RiskRule("strict 47/55", (47, 55, 70), (1.0, 0.5, 0.0, 0.0), 15),
    RiskRule("loose 60/70/80", (60, 70, 80), (1.0, 1.0, 1.0, 0.0), 10),
)


def default_rule() -> RiskRule:
    """The core's default ``[risk]`` (what a phone without a deployment file scores with)."""
    return RiskRule.from_config(section_defaults("risk"), "default")


def _series(kind: str, threshold: int) -> RiskRule:
    return RiskRule(f"{kind} <= {threshold} dB", estimator=kind, estimator_threshold_db=threshold)


#: Every estimator compared in the evaluation (``make bench``): today's bucket
#: rules, the buckets on the minimum attenuation of each scan, and the series
#: estimators of :mod:`bluezone.matching.estimators` at several thresholds.
CANDIDATES: tuple[RiskRule, ...] = (
    *RULES,
    RiskRule("min-attenuation 58/63/68", (58, 63, 68), (1.0, 1.0, 0.0, 0.0), 15, attenuation="min"),
    RiskRule("min-attenuation 53/58/63", (53, 58, 63), (1.0, 1.0, 0.0, 0.0), 15, attenuation="min"),
    *(_series(kind, t) for kind in ("median", "kalman") for t in (51, 54, 57, 60, 63)),
    *(_series("quantile", t) for t in (48, 51, 54, 57, 60)),
)


def decide(store: Any, schedule: Any, keys: Iterable[ExposureKey], rules: Sequence[RiskRule]) -> list[bool]:
    """Would the listener ``store`` warn if ``keys`` were published as a
    confirmed test? One answer per rule, in order, through the phone's own
    pipeline (matched and windowed once, scored with each rule)."""
    if not rules:
        return []
    result = pipeline.run(store, schedule, pipeline.KeyBatch.from_keys(keys), rules[0].to_risk(),
                          [pipeline.default_scorer(r.to_risk()) for r in rules], workers=1)
    return [any(day.exposed for day in daily) for daily in result.daily]


@dataclass(slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1

    def __iadd__(self, other: "Confusion") -> "Confusion":
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass(slots=True)
class Evaluation:
    """Confusion per rule over ordered (sender, listener) pairs."""

    by_rule: dict[str, Confusion] = field(default_factory=dict)
    positives: int = 0
    pairs: int = 0
    engine: str = "bluezone.matching.pipeline (the phone's matcher, windows, GAEN v2 scoring)"


def evaluate(truth: GroundTruth, devices: Sequence[tuple[str, Any]], schedule: Any,
             rules: Sequence[RiskRule] = RULES, minutes: float = 15.0, distance_m: float = 2.0) -> Evaluation:
    """Score every rule against the ground truth for one simulation run."""
    result = Evaluation({r.name: Confusion() for r in rules})
    keys = {name: [own.key for own in store.own_keys(schedule.name)] for name, store in devices}
    close = truth.close_pairs(minutes, distance_m)
    for sender, _ in devices:
        for listener, lstore in devices:
            if sender == listener:
                continue
            actual = tuple(sorted((sender, listener))) in close
            result.pairs += 1
            result.positives += actual
            for r, warned in zip(rules, decide(lstore, schedule, keys[sender], rules), strict=True):
                result.by_rule[r.name].add(warned, actual)
    return result
