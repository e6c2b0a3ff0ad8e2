"""Validating and storing uploaded diagnosis keys (the publish step).

Rules (google/exposure-notifications-server publish validation):
1..30 keys; each 16 bytes; rolling period 1..144; rolling start not in the
future and at most 14 days before today's UTC midnight (15 days of keys);
at most 3 keys per start interval; no duplicates in the request or with keys
already stored; the HMAC of the keys equals the certificate's ``tekmac``.

Derived, never trusted from the device: the report type (from the
certificate), days since symptom onset (key day − onset day; kept only
within −14..+14) and the transmission risk (see :func:`transmission_risk`).

Every key is published as a whole day: its rolling start is rounded down to
its UTC day and its rolling period set to 144, and it waits until that day
has ended (plus the embargo). Why: the key a phone rotates early just before
it uploads ends at the moment of the upload; published as it came, its end
(and its publication two hours later) would tell everyone when that person
reported, and the number of such partial-day keys how many reported. The
Google key server holds a key that is still valid until its end; a key that
ends mid-day is held to the end of its day here, for the same reason. The
wider window changes no match: the identifiers of the intervals it adds were
never broadcast with this key (the phone had rotated to a new one).
Keys already stored are revisions (:mod:`.revision`), allowed only with the
revision token of the upload that stored them.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bluezone.i18n import _
from bluezone.models import DAY_SECONDS, INTERVAL_SECONDS, INTERVALS_PER_DAY, ExposureKey, ReportType, day_start_interval
from bluezone.verification import hmac_matches

from .errors import bad_request

MAX_KEYS = 30
MAX_SAME_START = 3
MAX_AGE_DAYS = 14
#: GAEN defaults by report type (exposure-notifications-server); RECURSIVE follows confirmed.
BASE_RISK = {ReportType.CONFIRMED_TEST: 2, ReportType.CONFIRMED_CLINICAL_DIAGNOSIS: 4, ReportType.RECURSIVE: 2}
#: Stored times of an upload keep only the hour (as the Google key server
#: truncates ``created_at``): enough for retention, too coarse to tie an
#: upload to a network log, a code or a staff member's shift.
HOUR = 3600


def hour_of(ts: int) -> int:
    """``ts`` truncated to the start of its UTC hour."""
    return int(ts) // HOUR * HOUR


@dataclass(frozen=True)
class StoredKey:
    key: ExposureKey
    available_at: int


def transmission_risk(report_type: int, dsos: int | None) -> int:
    """The report type's default risk inside the infectious period (DSOS −2..+5,
    GAEN's "high" infectiousness days), 1 outside it, the default when the
    onset is unknown."""
    base = BASE_RISK.get(ReportType(report_type), 2)
    if dsos is None or -2 <= dsos <= 5:
        return base
    return 1


def parse_keys(raw: Any) -> list[ExposureKey]:
    """The request's ``temporaryExposureKeys`` as keys, or a 400 naming the first problem."""
    if not isinstance(raw, list):
        raise bad_request("invalid_keys", _("temporaryExposureKeys must be a list"))
    if not raw:
        raise bad_request("no_keys", _("no keys to publish"))
    if len(raw) > MAX_KEYS:
        raise bad_request("too_many_keys", _("at most {max} keys per upload, got {got}", max=MAX_KEYS, got=len(raw)))
    keys = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise bad_request("invalid_keys", _("key {i} must be an object", i=i))
        data, start = item.get("key"), item.get("rollingStartNumber")
        period = item.get("rollingPeriod", INTERVALS_PER_DAY)
        risk = item.get("transmissionRisk", 0)
        if not isinstance(data, str) or any(not isinstance(v, int) or isinstance(v, bool) for v in (start, period, risk)):
            raise bad_request("invalid_keys", _("key {i}: key must be base64 text and the numbers integers", i=i))
        try:
            key_data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("invalid_keys", _("key {i}: key is not valid base64", i=i)) from None
        if len(key_data) != 16:
            raise bad_request("invalid_key_length", _("key {i}: must be 16 bytes, got {got}", i=i, got=len(key_data)))
        if not 1 <= period <= INTERVALS_PER_DAY:
            raise bad_request("invalid_rolling_period", _("key {i}: rollingPeriod must be 1..144", i=i))
        if not 0 <= risk <= 8:
            raise bad_request("invalid_keys", _("key {i}: transmissionRisk must be 0..8", i=i))
        keys.append(ExposureKey(key_data, start, period, risk))  # type: ignore[arg-type]  # integers: checked above
    return keys


def check_keys(keys: list[ExposureKey], *, now: int) -> None:
    """Age, future, per-start and duplicate rules."""
    oldest = day_start_interval(now) - MAX_AGE_DAYS * INTERVALS_PER_DAY
    current = now // INTERVAL_SECONDS
    for i, k in enumerate(keys):
        if k.rolling_start_interval_number < oldest:
            raise bad_request("key_too_old", _("key {i} is more than {days} days old", i=i, days=MAX_AGE_DAYS))
        if k.rolling_start_interval_number > current:
            raise bad_request("key_in_future", _("key {i} starts in the future", i=i))
    if len({k.key_data for k in keys}) != len(keys):
        raise bad_request("duplicate_keys", _("the same key appears twice in the upload"))
    per_start = Counter(k.rolling_start_interval_number for k in keys)
    if per_start and max(per_start.values()) > MAX_SAME_START:
        raise bad_request("too_many_keys_per_day", _("at most {max} keys may share a start interval", max=MAX_SAME_START))


def check_hmac(keys: list[ExposureKey], hmac_key_b64: Any, tekmac_b64: str) -> None:
    try:
        secret = base64.b64decode(hmac_key_b64, validate=True) if isinstance(hmac_key_b64, str) else b""
        expected = base64.b64decode(tekmac_b64, validate=True)
    except (binascii.Error, ValueError):
        secret, expected = b"", b""
    if not secret or not hmac_matches(secret, keys, expected):
        raise bad_request("hmac_mismatch", _("the keys do not match the certificate (HMAC differs)"))


def derive(keys: list[ExposureKey], report_type: int, onset_interval: int | None, *, now: int,
           embargo_seconds: int) -> list[StoredKey]:
    """Server-side fields of each key, its whole-day form, and when it may be published."""
    out = []
    for k in keys:
        day = k.rolling_start_interval_number - k.rolling_start_interval_number % INTERVALS_PER_DAY
        dsos = None
        if onset_interval is not None:
            dsos = (day - onset_interval) // INTERVALS_PER_DAY
            if not -14 <= dsos <= 14:
                dsos = None
        key = ExposureKey(k.key_data, day, INTERVALS_PER_DAY, transmission_risk(report_type, dsos),
                          ReportType(report_type), dsos)
        # a key whose identifiers were on the air less than the embargo ago
        # could be replayed, and one whose day has not ended would tell the
        # upload time: it waits until the end of its day + the embargo
        end_time = key.end_interval_number * INTERVAL_SECONDS
        available = max(hour_of(now), end_time + embargo_seconds)
        out.append(StoredKey(key, available))
    return out


__all__ = ["parse_keys", "check_keys", "check_hmac", "derive", "StoredKey", "DAY_SECONDS", "HOUR", "hour_of"]
