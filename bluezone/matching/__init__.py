"""On-device matching and alerting: published keys in, warnings out.

The steps are each their own module: :mod:`.index` (the device's sightings,
indexed once per sync) → :mod:`.derive` (identifiers of a published key,
through the deployment's schedule) → :mod:`.matcher` (streaming join, both
cores for large batches) → :mod:`.windows` (TX power check, attenuation,
GAEN v2 exposure windows) → :mod:`.risk` (default scoring, replaceable via
``bluezone_score_exposure_windows``). :mod:`.pipeline` is the only place
they are put together; the ``keys`` feed (:mod:`.plugin`) runs it for every
batch, and :mod:`bluezone.sync` turns what it finds into alerts
(:mod:`.alerts`). See ``docs/matching.md``.
"""

from .alerts import build_alert
from .matcher import Match
from .pipeline import KeyBatch, Result, run

__all__ = ["KeyBatch", "Match", "Result", "build_alert", "run"]
