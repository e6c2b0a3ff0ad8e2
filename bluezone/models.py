"""The domain model: the nouns every part of Bluezone speaks.

Plain, typed dataclasses with no behaviour beyond validation and small derived
properties, so that plugins can build and inspect them without importing any
machinery. Times are Unix seconds (UTC) as ``int``; identifiers and keys are
``bytes``. Interval numbers are GAEN ``ENIN`` values (``unix_time // 600``).
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

#: Length of one GAEN interval in seconds (10 minutes).
INTERVAL_SECONDS = 600
#: Intervals in one UTC day; also the default and maximum rolling period.
INTERVALS_PER_DAY = 144
DAY_SECONDS = 86_400


def interval_number(unix_time: float) -> int:
    """The ENIN of a moment: the 10-minute interval it falls in."""
    return int(unix_time) // INTERVAL_SECONDS


def day_start_interval(unix_time: float) -> int:
    """The ENIN at which the UTC day containing ``unix_time`` starts."""
    return (int(unix_time) // DAY_SECONDS) * INTERVALS_PER_DAY


def utc_date(unix_time: float) -> _dt.date:
    """The UTC calendar date of a moment (exposures are reported per UTC day)."""
    return _dt.datetime.fromtimestamp(int(unix_time), _dt.timezone.utc).date()


class ReportType(enum.IntEnum):
    """GAEN ``TemporaryExposureKey.ReportType``; the numbers are the wire values."""

    UNKNOWN = 0
    CONFIRMED_TEST = 1
    CONFIRMED_CLINICAL_DIAGNOSIS = 2
    SELF_REPORT = 3
    RECURSIVE = 4
    REVOKED = 5

    @property
    def tier(self) -> "Tier | None":
        """The tier of the *uploader*: F0 for confirmed cases, F1 for recursive
        (second-tier) reports, ``None`` for reports that warn nobody."""
        if self in (ReportType.CONFIRMED_TEST, ReportType.CONFIRMED_CLINICAL_DIAGNOSIS):
            return Tier.F0
        if self is ReportType.RECURSIVE:
            return Tier.F1
        return None


class Tier(enum.IntEnum):
    """Severity tiers as used by Vietnam's health system.

    F0 is a confirmed case, F1 a close contact of an F0, F2 a contact of an
    F1. A larger value is more severe, so ``max()`` picks the tier that wins.
    ``NONE`` means no exposure.
    """

    NONE = 0
    F2 = 1
    F1 = 2
    F0 = 3

    def exposed_tier(self) -> "Tier":
        """The tier of someone who met a person of this tier (F0 → F1, F1 → F2)."""
        return {Tier.F0: Tier.F1, Tier.F1: Tier.F2}.get(self, Tier.NONE)

    @property
    def label(self) -> str:
        return "none" if self is Tier.NONE else self.name


class Infectiousness(enum.IntEnum):
    """GAEN v2 infectiousness derived from days since symptom onset."""

    NONE = 0
    STANDARD = 1
    HIGH = 2


@dataclass(frozen=True, slots=True)
class ExposureKey:
    """A published (or own) diagnosis key: a GAEN TemporaryExposureKey.

    ``key_data`` is the schedule's daily secret (16 bytes for ``gaen``, 32 for
    ``dp3t-lowcost``). ``rolling_period`` counts 10-minute intervals from
    ``rolling_start_interval_number``.
    """

    key_data: bytes
    rolling_start_interval_number: int
    rolling_period: int = INTERVALS_PER_DAY
    transmission_risk_level: int = 0
    report_type: ReportType = ReportType.UNKNOWN
    days_since_onset_of_symptoms: int | None = None

    @property
    def tier(self) -> "Tier | None":
        return ReportType(self.report_type).tier

    @property
    def end_interval_number(self) -> int:
        return self.rolling_start_interval_number + self.rolling_period

    def problems(self, key_length: int = 16) -> list[str]:
        """Every reason this key is malformed (empty when it is fine)."""
        out = []
        if len(self.key_data) != key_length:
            out.append(f"key_data must be {key_length} bytes, got {len(self.key_data)}")
        if not 1 <= self.rolling_period <= INTERVALS_PER_DAY:
            out.append(f"rolling_period must be 1..{INTERVALS_PER_DAY}, got {self.rolling_period}")
        if self.rolling_start_interval_number < 0:
            out.append("rolling_start_interval_number must not be negative")
        if not 0 <= self.transmission_risk_level <= 8:
            out.append("transmission_risk_level must be 0..8")
        dsos = self.days_since_onset_of_symptoms
        if dsos is not None and not -14 <= dsos <= 14:
            out.append("days_since_onset_of_symptoms must be -14..14")
        return out


@dataclass(frozen=True, slots=True)
class OwnKey:
    """A key this device generated and broadcast; never leaves the device
    unless its owner uploads it with an authority code."""

    schedule: str
    key: ExposureKey
    uploaded: bool = False


@dataclass(frozen=True, slots=True)
class DerivedIdentifier:
    """One broadcast identifier produced by a key schedule."""

    interval: int
    identifier: bytes
    metadata: bytes = b""  # encrypted metadata (GAEN AEM); empty when none


@dataclass(frozen=True, slots=True)
class Sighting:
    """One identifier heard during one scan.

    ``rssi`` is the typical (mean) received power in the scan and ``rssi_max``
    the strongest packet; GAEN's scan instances need both (typical and minimum
    attenuation). ``seconds_since_last_scan`` is what the scanner knows of its
    own duty cycle (GAEN caps it at 300 s, assumes 120 s when unknown).
    ``tx_power`` is only set when the advertisement itself carried one (the
    GAEN TX power is inside the encrypted metadata and is read at match time).
    """

    identifier: bytes
    time: int
    rssi: int
    metadata: bytes = b""
    rssi_max: int | None = None
    seconds_since_last_scan: int | None = None
    source: str = "ble"
    tx_power: int | None = None

    @property
    def interval(self) -> int:
        return interval_number(self.time)


@dataclass(frozen=True, slots=True)
class Visit:
    """A venue check-in held on the visitor's phone only.

    ``data`` is opaque to the core: the check-in plugin's own record (venue
    payload, encrypted per-hour records). The store encrypts it at rest.
    """

    visit_id: str
    source: str
    arrival: int
    departure: int | None
    data: bytes = b""
    auto_checkout: int | None = None


class BadBatch(ValueError):
    """A downloaded batch is damaged, unsigned or signed by an unknown key.

    Feed matchers raise it (or a subclass); the sync then counts the batch as
    failed, stores nothing of it, and fetches it again next time.
    """


@dataclass(frozen=True, slots=True)
class PublishedBatch:
    """One file of a published feed (a signed export or a venue-trace batch).

    ``name`` is where the file was found; anyone serving the feed can change
    it, so it identifies nothing. The device knows a batch by
    :attr:`content_id`.
    """

    feed: str
    name: str
    payload: bytes
    start_timestamp: int = 0
    end_timestamp: int = 0

    @property
    def content_id(self) -> str:
        """SHA-256 (hex) of the file exactly as downloaded: the same file
        under any name is the same batch. A different file carrying the same
        keys (re-zipped, re-signed, rebuilt) is a different batch; what keeps
        it from counting twice is the per-key bookkeeping of the matchers."""
        return hashlib.sha256(self.payload).hexdigest()


@dataclass(frozen=True, slots=True)
class ScanInstance:
    """GAEN v2 ScanInstance: one scan's worth of sightings of one key."""

    typical_attenuation_db: int
    min_attenuation_db: int
    seconds_since_last_scan: int


@dataclass(frozen=True, slots=True)
class ExposureWindow:
    """GAEN v2 ExposureWindow: up to 30 minutes of one key's sightings on one UTC day."""

    date: _dt.date
    report_type: ReportType
    infectiousness: Infectiousness
    scan_instances: tuple[ScanInstance, ...]
    calibration_confidence: int = 0
    tier: "Tier" = Tier.F1
    #: The published key's bytes, in memory only (never stored or compared):
    #: the store tags a kept window with a keyed hash of it so a later
    #: revision of that key finds the windows it changes.
    origin: bytes = field(default=b"", compare=False, repr=False)

    @property
    def seconds(self) -> int:
        return sum(s.seconds_since_last_scan for s in self.scan_instances)


class RiskLevel(enum.IntEnum):
    """The Corona-Warn-App's two risk levels (its numbers); ``NONE`` is no level at all."""

    NONE = 0
    LOW = 1
    HIGH = 2


@dataclass(frozen=True, slots=True)
class WindowRisk:
    """What scoring concluded for one exposure window (kept windows only).

    ``transmission_risk_level`` is 0 where the deployment has no
    transmission-risk-level encoding; ``level`` is ``NONE`` where it maps no
    window to a level."""

    transmission_risk_level: int
    normalized_minutes: float
    level: RiskLevel
    calibration_confidence: int = 0


@dataclass(frozen=True, slots=True)
class DailyRisk:
    """What risk scoring concludes for one UTC day and one tier.

    ``exposed`` is the HIGH level (a warning); ``low`` a LOW-risk day (a
    notice without isolation advice), never both. Scorers that know no LOW
    level leave ``low`` and ``windows`` out."""

    date: _dt.date
    tier: Tier
    score: float
    max_window_score: float
    weighted_minutes: float
    exposed: bool
    low: bool = False
    windows: tuple[WindowRisk, ...] = ()

    @property
    def level(self) -> RiskLevel:
        return RiskLevel.HIGH if self.exposed else RiskLevel.LOW if self.low else RiskLevel.NONE


@dataclass(slots=True)
class Exposure:
    """A detected exposure: the input to alerting.

    ``source`` says what found it (``"ble"`` or ``"venue"``); ``details`` holds
    non-identifying facts for display (minutes, score). Exposures never carry
    keys, identifiers or a venue's identity.
    """

    tier: Tier
    source: str
    date: _dt.date
    score: float = 0.0
    minutes: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def low(self) -> bool:
        """A LOW-risk encounter (``details["level"] == "low"``): a notice, not a warning."""
        return self.details.get("level") == "low"

    @property
    def exposure_id(self) -> str:
        """Stable id: the same exposure found twice (a re-run sync) is one row;
        a LOW encounter has its own, so the day can still become a warning."""
        raw = f"{self.source}|{self.tier.name}|{self.date.isoformat()}" + ("|low" if self.low else "")
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning shown to the person: one per exposure, in every language."""

    exposure_id: str
    tier: Tier
    source: str
    exposure_date: _dt.date
    created_at: int
    isolate_until: _dt.date
    messages: dict[str, str]
    #: ``active``; ``upgraded`` (the report behind it was confirmed) or
    #: ``withdrawn`` (it was revoked): the messages then say so.
    state: str = "active"

    def message(self, language: str) -> str:
        return self.messages.get(language) or next(iter(self.messages.values()))
