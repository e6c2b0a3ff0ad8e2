"""Validating and storing uploaded diagnosis keys (the publish step).

Rules (google/exposure-notifications-server publish validation):
1..30 keys; each 16 bytes; rolling period 1..144; rolling start not in the
future and at most 14 days before today's UTC midnight (15 days of keys);
at most 3 keys per start interval; no duplicates in the request or with keys
already stored; the HMAC of the keys equals the certificate's ``tekmac``.

Derived, never trusted from the device: the report type (from the
certificate), days since symptom onset (key day − onset day; kept only
within −14..+14) and the transmission risk (see :func:`transmission_risk`).
Keys still valid at upload (or ended less than the embargo ago) wait until their end + the embargo.
Keys already stored are revisions (:mod:`.revision`), allowed only with the
revision token of the upload that stored them.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bluezone.models import DAY_SECONDS, INTERVAL_SECONDS, INTERVALS_PER_DAY, ExposureKey, ReportType, day_start_interval
from bluezone.verification import hmac_matches

from .errors import bad_request

MAX_KEYS = 30
MAX_SAME_START = 3
MAX_AGE_DAYS = 14
#: GAEN defaults by report type (exposure-notifications-server); RECURSIVE follows confirmed.
BASE_RISK = {ReportType.CONFIRMED_TEST: 2, ReportType.CONFIRMED_CLINICAL_DIAGNOSIS: 4, ReportType.RECURSIVE: 2}


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
        raise bad_request("invalid_keys", "temporaryExposureKeys must be a list", "temporaryExposureKeys phải là danh sách")
    if not raw:
        raise bad_request("no_keys", "no keys to publish", "không có khoá nào để gửi")
    if len(raw) > MAX_KEYS:
        raise bad_request("too_many_keys", f"at most {MAX_KEYS} keys per upload, got {len(raw)}",
                          f"tối đa {MAX_KEYS} khoá mỗi lần gửi, nhận {len(raw)}")
    keys = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise bad_request("invalid_keys", f"key {i} must be an object", f"khoá {i} phải là một đối tượng")
        data, start = item.get("key"), item.get("rollingStartNumber")
        period = item.get("rollingPeriod", INTERVALS_PER_DAY)
        risk = item.get("transmissionRisk", 0)
        if not isinstance(data, str) or any(not isinstance(v, int) or isinstance(v, bool) for v in (start, period, risk)):
            raise bad_request("invalid_keys", f"key {i}: key must be base64 text and the numbers integers",
                              f"khoá {i}: key phải là base64 và các số phải là số nguyên")
        try:
            key_data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("invalid_keys", f"key {i}: key is not valid base64", f"khoá {i}: không phải base64") from None
        if len(key_data) != 16:
            raise bad_request("invalid_key_length", f"key {i}: must be 16 bytes, got {len(key_data)}",
                              f"khoá {i}: phải dài 16 byte, nhận {len(key_data)}")
        if not 1 <= period <= INTERVALS_PER_DAY:
            raise bad_request("invalid_rolling_period", f"key {i}: rollingPeriod must be 1..144",
                              f"khoá {i}: rollingPeriod phải trong 1..144")
        if not 0 <= risk <= 8:
            raise bad_request("invalid_keys", f"key {i}: transmissionRisk must be 0..8",
                              f"khoá {i}: transmissionRisk phải trong 0..8")
        keys.append(ExposureKey(key_data, start, period, risk))  # type: ignore[arg-type]  # integers: checked above
    return keys


def check_keys(keys: list[ExposureKey], *, now: int) -> None:
    """Age, future, per-start and duplicate rules."""
    oldest = day_start_interval(now) - MAX_AGE_DAYS * INTERVALS_PER_DAY
    current = now // INTERVAL_SECONDS
    for i, k in enumerate(keys):
        if k.rolling_start_interval_number < oldest:
            raise bad_request("key_too_old", f"key {i} is more than {MAX_AGE_DAYS} days old",
                              f"khoá {i} đã quá {MAX_AGE_DAYS} ngày")
        if k.rolling_start_interval_number > current:
            raise bad_request("key_in_future", f"key {i} starts in the future", f"khoá {i} bắt đầu ở tương lai")
    if len({k.key_data for k in keys}) != len(keys):
        raise bad_request("duplicate_keys", "the same key appears twice in the upload", "một khoá xuất hiện hai lần")
    per_start = Counter(k.rolling_start_interval_number for k in keys)
    if per_start and max(per_start.values()) > MAX_SAME_START:
        raise bad_request("too_many_keys_per_day", f"at most {MAX_SAME_START} keys may share a start interval",
                          f"tối đa {MAX_SAME_START} khoá cùng thời điểm bắt đầu")


def check_hmac(keys: list[ExposureKey], hmac_key_b64: Any, tekmac_b64: str) -> None:
    try:
        secret = base64.b64decode(hmac_key_b64, validate=True) if isinstance(hmac_key_b64, str) else b""
        expected = base64.b64decode(tekmac_b64, validate=True)
    except (binascii.Error, ValueError):
        secret, expected = b"", b""
    if not secret or not hmac_matches(secret, keys, expected):
        raise bad_request("hmac_mismatch", "the keys do not match the certificate (HMAC differs)",
                          "các khoá không khớp với chứng nhận (HMAC khác)")


def derive(keys: list[ExposureKey], report_type: int, onset_interval: int | None, *, now: int,
           embargo_seconds: int) -> list[StoredKey]:
    """Server-side fields of each key and when it may be published."""
    out = []
    for k in keys:
        dsos = None
        if onset_interval is not None:
            dsos = (k.rolling_start_interval_number - onset_interval) // INTERVALS_PER_DAY
            if not -14 <= dsos <= 14:
                dsos = None
        key = ExposureKey(k.key_data, k.rolling_start_interval_number, k.rolling_period,
                          transmission_risk(report_type, dsos), ReportType(report_type), dsos)
        # a key whose identifiers were on the air less than the embargo ago
        # could be replayed; it waits until its end + the embargo
        end_time = key.end_interval_number * INTERVAL_SECONDS
        available = max(now, end_time + embargo_seconds)
        out.append(StoredKey(key, available))
    return out


__all__ = ["parse_keys", "check_keys", "check_hmac", "derive", "StoredKey", "DAY_SECONDS"]
