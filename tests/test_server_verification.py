"""The keys HMAC against the published GAEN vector, and request padding."""

from __future__ import annotations

import base64
import json

from hypothesis import given, strategies as st

from bluezone.models import ExposureKey
from bluezone.transport import PAD_BLOCK, FeedState, pad_body
from bluezone.verification import hmac_matches, keys_cleartext, keys_hmac

# google/exposure-notifications-verification-server pkg/verification/utils_test.go
VECTOR_KEYS = [
    ExposureKey(base64.b64decode("z2Cx9hdz2SlxZ8GEgqTYpA=="), 1, 144, 3),
    ExposureKey(base64.b64decode("dPCphLzfG4uzXneNimkPRQ=="), 144, 144, 5),
]


def test_cleartext_matches_the_published_vector():
    assert keys_cleartext(VECTOR_KEYS) == "dPCphLzfG4uzXneNimkPRQ==.144.144.5,z2Cx9hdz2SlxZ8GEgqTYpA==.1.144.3"


def test_hmac_matches_the_published_vector():
    mac = keys_hmac(bytes(range(1, 17)), VECTOR_KEYS)
    assert base64.b64encode(mac).decode() == "2u1nHt5WWurJytFLF3xitNzM99oNrad2y4YGOL53AeY="
    assert hmac_matches(bytes(range(1, 17)), VECTOR_KEYS, mac)
    assert not hmac_matches(bytes(range(2, 18)), VECTOR_KEYS, mac)


def test_three_segment_form_when_every_risk_is_zero():
    keys = [ExposureKey(b"\x01" * 16, 10, 144, 0)]
    assert keys_cleartext(keys) == base64.b64encode(b"\x01" * 16).decode() + ".10.144"


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=3000), max_size=5))
def test_padding_gives_whole_blocks_and_keeps_the_body(body):
    body.pop("padding", None)
    raw = pad_body(body)
    assert len(raw) % PAD_BLOCK == 0
    decoded = json.loads(raw)
    decoded.pop("padding")
    assert decoded == body


def test_feed_state_round_trips():
    s = FeedState("\"abc\"", ["a.zip"])
    assert FeedState.from_dict(s.to_dict()) == s
    assert FeedState.from_dict(None) == FeedState()
