"""On-device matching and alerting: published keys in, warnings out.

Pipeline (each step its own module): :mod:`.index` (the device's sightings,
indexed once per sync) → :mod:`.derive` (identifiers of a published key,
through the deployment's schedule) → :mod:`.matcher` (streaming join, both
cores for large batches) → :mod:`.windows` (TX power check, attenuation,
GAEN v2 exposure windows) → :mod:`.risk` (default scoring, replaceable via
``bluezone_score_exposure_windows``) → :mod:`.alerts` (messages in vi/en).
:mod:`bluezone.sync` drives it batch by batch. See ``docs/matching.md``.
"""

from .alerts import build_alert
from .index import SightingIndex
from .matcher import Match, match_all, match_rows
from .risk import score_windows
from .windows import build_windows

__all__ = ["Match", "SightingIndex", "build_alert", "build_windows", "match_all", "match_rows", "score_windows"]
