"""Hypothesis fuzzing of what a device parses from the network: feed indexes
and signed feed files. Bad input raises the documented error, never anything else."""

from __future__ import annotations

import io
import zipfile

import pytest

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, strategies as st

from bluezone.feeds import FeedError, open_payload, sign_payload
from bluezone.matching.fixtures import new_signing_key
from bluezone.transport import TransportError
from bluezone.transports.wire import parse_index

KEY, PEM = new_signing_key()
TRUSTED = [{"key_id": "452", "key_version": "v1", "pem": PEM}]


@given(st.text(max_size=400))
def test_parse_index_accepts_only_safe_zip_names(text):
    try:
        names = parse_index(text)
    except TransportError as e:
        assert e.code == "bad_index"
        return
    for n in names:
        assert n.endswith(".zip") and "/" not in n and "\\" not in n and not n.startswith(".")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_open_payload_rejects_random_bytes(data):
    with pytest.raises(FeedError):  # random bytes are never a signed feed file
        open_payload(data, TRUSTED)


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0, max_value=10_000))
def test_any_changed_byte_in_a_signed_file_is_refused(payload, flip):
    good = sign_payload(payload, KEY, key_id="452")
    assert open_payload(good, TRUSTED).payload == payload
    bad = bytearray(good)
    bad[flip % len(bad)] ^= 0x01
    try:
        opened = open_payload(bytes(bad), TRUSTED)
    except FeedError:
        return
    # a flip in zip metadata that leaves both entries intact still yields the signed payload only
    assert opened.payload == payload


def test_wrong_key_and_extra_entries_are_refused():
    other = ec.generate_private_key(ec.SECP256R1())
    forged = sign_payload(b"x", other, key_id="452")
    for data, words in ((forged, "does not verify"), (sign_payload(b"x", KEY, key_id="999"), "no trusted key")):
        try:
            open_payload(data, TRUSTED)
        except FeedError as e:
            assert words in str(e)
        else:
            raise AssertionError("accepted")
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(sign_payload(b"x", KEY, key_id="452"))) as src, zipfile.ZipFile(buf, "w") as dst:
        for n in src.namelist():
            dst.writestr(n, src.read(n))
        dst.writestr("extra.bin", b"?")
    try:
        open_payload(buf.getvalue(), TRUSTED)
    except FeedError as e:
        assert "payload.bin and payload.sig" in str(e)
    else:
        raise AssertionError("accepted an extra entry")
