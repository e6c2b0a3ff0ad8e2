"""The publish step's limits, at their exact edges.

The server tests send uploads well inside or well past each limit; these pin
the edge itself (mutation testing moved each bound by one and the flow tests
still passed): 30 keys per upload, keys up to 14 days before today's UTC
midnight.
"""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest

from bluezone.models import INTERVALS_PER_DAY, ExposureKey, day_start_interval
from bluezone.verification import keys_hmac
from bluezone_authority.server.errors import ApiError
from bluezone_authority.server.publish import check_hmac, check_keys, derive, hour_of, parse_keys

NOW = 1_700_000_000 + 5 * 3600  # 2023-11-15 03:53 UTC


def wire_keys(count: int, start: int) -> list[dict]:
    return [{"key": base64.b64encode(os.urandom(16)).decode(), "rollingStartNumber": start - 144 * (i // 3),
             "rollingPeriod": 144} for i in range(count)]


def test_an_upload_of_exactly_thirty_keys_is_accepted_and_thirty_one_refused():
    today = day_start_interval(NOW)
    assert len(parse_keys(wire_keys(30, today))) == 30
    with pytest.raises(ApiError) as refused:
        parse_keys(wire_keys(31, today))
    assert (refused.value.status, refused.value.code) == (400, "too_many_keys")


def test_a_key_from_fourteen_days_ago_is_published_and_fifteen_refused():
    today = day_start_interval(NOW)
    oldest = ExposureKey(os.urandom(16), today - 14 * INTERVALS_PER_DAY, INTERVALS_PER_DAY)
    check_keys([oldest], now=NOW)  # no error: the 15th day of keys counts
    too_old = ExposureKey(os.urandom(16), today - 14 * INTERVALS_PER_DAY - 1, INTERVALS_PER_DAY)
    with pytest.raises(ApiError) as refused:
        check_keys([too_old], now=NOW)
    assert (refused.value.status, refused.value.code) == (400, "key_too_old")


# 48 shares bits with the day start (48 mod 256), so start XOR 48 is not the day
@pytest.mark.parametrize("into_day", [1, 48, 77, 143])
def test_a_key_is_published_as_its_whole_utc_day(into_day):
    """A key rotated mid-day is widened to its day: its end would tell when its owner reported."""
    today = day_start_interval(NOW)
    key = ExposureKey(os.urandom(16), today - 144 + into_day, 144 - into_day)
    [stored] = derive([key], 1, None, now=NOW, embargo_seconds=0)
    assert (stored.key.rolling_start_interval_number, stored.key.rolling_period) == (today - 144, INTERVALS_PER_DAY)


@pytest.mark.parametrize("days_after_onset,dsos,risk", [
    (-15, None, 2), (-14, -14, 1), (-3, -3, 1), (-2, -2, 2), (5, 5, 2), (6, 6, 1), (14, 14, 1), (15, None, 2),
])
def test_days_since_onset_and_risk_at_the_edges_of_their_ranges(days_after_onset, dsos, risk):
    """DSOS is kept within -14..+14 (else unknown, so the default risk); the
    confirmed-test risk 2 holds on the infectious days -2..+5 and is 1 outside."""
    today = day_start_interval(NOW)
    key_day = today - 144
    onset = key_day - days_after_onset * INTERVALS_PER_DAY
    [stored] = derive([ExposureKey(os.urandom(16), key_day, 144)], 1, onset, now=NOW, embargo_seconds=0)
    assert (stored.key.days_since_onset_of_symptoms, stored.key.transmission_risk_level) == (dsos, risk)
    assert dsos is None or type(stored.key.days_since_onset_of_symptoms) is int  # a whole number of days


@pytest.mark.parametrize("period,accepted", [(0, False), (1, True), (144, True), (145, False)])
def test_rolling_period_is_one_to_144_intervals(period, accepted):
    keys = [{"key": base64.b64encode(os.urandom(16)).decode(), "rollingStartNumber": day_start_interval(NOW),
             "rollingPeriod": period}]
    if accepted:
        assert parse_keys(keys)[0].rolling_period == period
        return
    with pytest.raises(ApiError) as refused:
        parse_keys(keys)
    assert refused.value.code == "invalid_rolling_period"


def test_a_key_may_start_in_the_current_interval_but_not_after_it():
    current = NOW // 600
    check_keys([ExposureKey(os.urandom(16), current, 1)], now=NOW)  # rotated just now: fine
    with pytest.raises(ApiError) as refused:
        check_keys([ExposureKey(os.urandom(16), current + 1, 1)], now=NOW)
    assert refused.value.code == "key_in_future"


@pytest.mark.parametrize("length", [15, 17])
def test_a_key_of_other_than_16_bytes_is_refused(length):
    keys = [{"key": base64.b64encode(os.urandom(length)).decode(), "rollingStartNumber": day_start_interval(NOW)}]
    with pytest.raises(ApiError) as refused:
        parse_keys(keys)
    assert refused.value.code == "invalid_key_length"


def test_transmission_risk_from_the_phone_is_0_to_8():
    def one(risk: int) -> list[dict]:
        return [{"key": base64.b64encode(os.urandom(16)).decode(), "rollingStartNumber": day_start_interval(NOW),
                 "transmissionRisk": risk}]

    assert parse_keys(one(0))[0].transmission_risk_level == 0
    assert parse_keys(one(8))[0].transmission_risk_level == 8
    for bad in (-1, 9):
        with pytest.raises(ApiError):
            parse_keys(one(bad))


def test_three_keys_may_share_a_start_interval_and_four_may_not():
    start = day_start_interval(NOW) - 144
    check_keys([ExposureKey(os.urandom(16), start, 144) for _ in range(3)], now=NOW)
    with pytest.raises(ApiError) as refused:
        check_keys([ExposureKey(os.urandom(16), start, 144) for _ in range(4)], now=NOW)
    assert refused.value.code == "too_many_keys_per_day"


@pytest.mark.parametrize("ts", [NOW, NOW - NOW % 3600, NOW - NOW % 3600 + 3599])
def test_stored_times_keep_the_start_of_their_hour(ts):
    assert hour_of(ts) == NOW - NOW % 3600


@pytest.mark.parametrize("value", [True, "2833056", 2833056.0, None])
def test_a_rolling_start_that_is_not_an_integer_is_refused(value):
    keys = [{"key": base64.b64encode(os.urandom(16)).decode(), "rollingStartNumber": value}]
    with pytest.raises(ApiError) as refused:
        parse_keys(keys)
    assert refused.value.code == "invalid_keys"


@pytest.mark.parametrize("report_type,risk", [(1, 2), (2, 4), (4, 2)], ids=["confirmed", "clinical", "recursive"])
def test_the_default_risk_of_each_report_type(report_type, risk):
    """Inside the infectious days (or with no onset), GAEN's defaults: confirmed 2, clinical 4; F1 as confirmed."""
    [stored] = derive([ExposureKey(os.urandom(16), day_start_interval(NOW) - 144, 144)], report_type, None,
                      now=NOW, embargo_seconds=0)
    assert stored.key.transmission_risk_level == risk


@pytest.mark.parametrize("text", [
    "!" + base64.b64encode(b"\1" * 16).decode(),  # 16 bytes behind a character base64 does not have
    base64.b64encode(b"\1" * 16).decode()[:-2] + "é=",  # not ASCII: Python raises ValueError, not binascii.Error
], ids=["stray-character", "not-ascii"])
def test_key_text_that_is_not_strict_base64_is_a_400(text):
    """Lenient decoding would drop the stray character and publish a key the
    phone never sent; a non-ASCII one must be a 400, never a crash."""
    with pytest.raises(ApiError) as refused:
        parse_keys([{"key": text, "rollingStartNumber": day_start_interval(NOW)}])
    assert (refused.value.status, refused.value.code) == (400, "invalid_keys")


@pytest.mark.parametrize("hmac_key,tekmac", [("é" * 44, "A" * 44), ("A" * 44, "é" * 44)],
                         ids=["key-not-ascii", "mac-not-ascii"])
def test_a_certificate_hmac_that_is_not_ascii_is_a_mismatch_not_a_crash(hmac_key, tekmac):
    keys = [ExposureKey(os.urandom(16), day_start_interval(NOW) - 144, 144)]
    with pytest.raises(ApiError) as refused:
        check_hmac(keys, hmac_key, tekmac)
    assert (refused.value.status, refused.value.code) == (400, "hmac_mismatch")


def test_a_stored_key_is_a_fixed_value():
    """What ``derive`` returns is written to the database and the export as it
    is; frozen, so no step between can change a key's day or risk."""
    [stored] = derive([ExposureKey(os.urandom(16), day_start_interval(NOW) - 144, 144)], 1, None,
                      now=NOW, embargo_seconds=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.available_at = 0  # type: ignore[misc]
    assert {stored, dataclasses.replace(stored)} == {stored}


def test_a_certificate_hmac_with_a_stray_character_or_of_other_keys_does_not_match():
    """The HMAC key is decoded strictly: with the stray character dropped it
    would match, and keys would be published under a certificate whose key
    text was not what the phone sent."""
    keys = [ExposureKey(os.urandom(16), day_start_interval(NOW) - 144, 144)]
    secret = os.urandom(32)
    tekmac = base64.b64encode(keys_hmac(secret, keys)).decode()
    check_hmac(keys, base64.b64encode(secret).decode(), tekmac)  # the control: it matches
    other = base64.b64encode(keys_hmac(secret, [ExposureKey(os.urandom(16), day_start_interval(NOW), 144)])).decode()
    for hmac_key, mac in [("!" + base64.b64encode(secret).decode(), tekmac),  # stray character in the key
                          (base64.b64encode(secret).decode(), "!" + tekmac),  # ... in the HMAC
                          (base64.b64encode(secret).decode(), other)]:  # the HMAC of other keys
        with pytest.raises(ApiError) as refused:
            check_hmac(keys, hmac_key, mac)
        assert (refused.value.status, refused.value.code) == (400, "hmac_mismatch")


def test_the_same_key_twice_in_one_upload_is_refused():
    start = day_start_interval(NOW) - 144
    data = os.urandom(16)
    with pytest.raises(ApiError) as refused:
        check_keys([ExposureKey(data, start, 144), ExposureKey(data, start - 144, 144)], now=NOW)
    assert (refused.value.status, refused.value.code) == (400, "duplicate_keys")


def test_a_key_sent_without_a_transmission_risk_has_risk_0_so_its_hmac_matches():
    """The phone's certificate HMAC covers each key's risk (GAEN's 3-segment
    form when every risk is 0): a key sent without one must be read as 0, or
    the HMAC the phone computed no longer matches and the upload is refused."""
    secret = os.urandom(32)
    wire = [{"key": base64.b64encode(os.urandom(16)).decode(), "rollingStartNumber": day_start_interval(NOW) - 144}]
    [key] = parse_keys(wire)
    assert key.transmission_risk_level == 0
    phone = ExposureKey(base64.b64decode(wire[0]["key"]), day_start_interval(NOW) - 144, 144, 0)
    check_hmac([key], base64.b64encode(secret).decode(), base64.b64encode(keys_hmac(secret, [phone])).decode())
