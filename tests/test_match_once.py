"""bluezone.matching.once: each (published key, interval) is counted once, by a tag the store keeps.

The sync tests show the effect end to end (a renamed or rebuilt batch adds
nothing); these pin the parts they cannot see: which day a tag is kept
until, that two different keys never share a tag, and that the tag's
material stays the same from one release to the next.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bluezone.matching.matcher import Match
from bluezone.matching.once import contribution_material, uncounted
from bluezone.models import DAY_SECONDS, INTERVAL_SECONDS, Sighting
from bluezone.store import DeviceStore

# 2026-11-18 23:50 UTC: the last interval of a UTC day
NOW = 1_795_046_400 - INTERVAL_SECONDS
INTERVAL = NOW // INTERVAL_SECONDS
START = INTERVAL - INTERVAL % 144


@pytest.fixture
def store(tmp_path):
    s = DeviceStore(tmp_path / "device.db", key_file=tmp_path / "keys" / "device.key", clock=lambda: NOW)
    yield s
    s.close()


def match(key_data: bytes, t: int, interval: int = INTERVAL) -> Match:
    key = (key_data, START, 144, 1, 0, 0)  # the rest of the row is the same for every key below
    return Match(key=key, identifier=b"i" * 16, interval=interval,
                 sighting=Sighting(identifier=b"i" * 16, time=t, rssi=-60))


def kept_days(store: DeviceStore) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT day FROM matched_contributions ORDER BY day")]


def test_two_keys_met_in_the_same_interval_both_count(store):
    """Two confirmed cases in one room: their keys share every field but the
    key bytes, and each must add its own minutes."""
    first, second = match(b"\x01" * 16, NOW), match(b"\x02" * 16, NOW)
    assert uncounted(store, "keys", [first]) == [first]
    assert uncounted(store, "keys", [second]) == [second]  # a later batch: its own tag, not the first key's
    assert uncounted(store, "keys", [first, second]) == []  # and each only once


def test_a_contribution_is_kept_until_its_latest_sighting_expires(store):
    """Sightings of one identifier can fall on two UTC days (the matcher
    allows two hours of clock drift). The tag is kept as long as the later
    one; kept only as long as the earlier, it would expire a day before the
    sighting and a repeated batch could count that sighting again."""
    later = match(b"\x03" * 16, NOW + 2 * INTERVAL_SECONDS)  # 00:10 the next day
    earlier = match(b"\x03" * 16, NOW)
    assert uncounted(store, "keys", [later, earlier]) == [later, earlier]
    next_day = dt.datetime.fromtimestamp(NOW + DAY_SECONDS, dt.timezone.utc).date().isoformat()
    assert kept_days(store) == [next_day]


def test_every_match_counts_when_the_caller_gives_no_rule(store):
    """The documented default: without ``counts``, every match counts."""
    matches = [match(b"\x04" * 16, NOW), match(b"\x05" * 16, NOW, INTERVAL - 1)]
    assert uncounted(store, "keys", matches) == matches


def test_the_tag_material_does_not_change_between_releases():
    """Tags stored by one release must be recognised by the next: a phone
    updated mid-outbreak would otherwise count every stored contribution a
    second time when the same keys come back. The layout: the feed's name,
    a zero byte, the key bytes, the interval as 8 signed big-endian bytes."""
    assert contribution_material("keys", b"\xaa" * 16, 2_991_743) == (
        b"keys\x00" + b"\xaa" * 16 + bytes.fromhex("00000000002da67f"))
