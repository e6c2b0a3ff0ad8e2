"""Sealing: libsodium sealed box to the authority's key, padded plaintext,
round trip, wrong keys and tampering refused, fuzzed inputs handled."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import sys
from pathlib import Path

import nacl.bindings as sodium
import nacl.public
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.declarations.fixtures import TODAY, good_answers

from bluezone.declarations import (Declaration, DeclarationFormatError, KeyPair, Linkage, SealError,
                                   load_private_key, make_declaration, open_sealed, public_key_from_b64, seal)
from bluezone.declarations.declaration import PAD_BLOCK
from bluezone.declarations.ncovi_form import ncovi_form
from bluezone.declarations.sealing import SEAL_OVERHEAD, open_plaintext
from bluezone.models import Tier

FORM = ncovi_form()


def declaration(**changes) -> Declaration:
    return make_declaration(FORM, good_answers(**changes), language="vi", today=TODAY)


def test_seal_and_open_round_trip():
    pair = KeyPair.generate()
    d = make_declaration(FORM, good_answers(), language="en", today=TODAY,
                         linkage=Linkage(Tier.F1, TODAY, "12345678"))
    sealed = seal(d, pair.private_key.public_key)
    back = open_sealed(sealed, pair.private_key)
    assert back == d
    assert back.linkage.to_dict() == {"tier": "F1", "exposure_date": TODAY.isoformat(), "verification_code": "12345678"}


def test_sealing_is_randomised_and_hides_the_content():
    pair = KeyPair.generate()
    d = declaration()
    a, b = seal(d, pair.private_key.public_key), seal(d, pair.private_key.public_key)
    assert a != b  # a fresh ephemeral key each time
    for secret in ("Nguyễn".encode(), b"0912345678", b"079188001234", b"ncovi"):
        assert secret not in a


def test_sizes_are_padded_so_short_and_long_declarations_look_alike():
    pair = KeyPair.generate()
    short = declaration(travel_means="none", vehicle_number=..., seat=..., departure_date=..., arrival_date=...,
                        provinces_visited=..., email=..., chronic_conditions=...)
    long = declaration(provinces_visited=["01", "02", "04", "06", "08", "10", "79", "64"],
                       chronic_conditions=["liver", "blood", "lung", "kidney", "cancer"],
                       address_street="x" * 200)
    sizes = {len(seal(d, pair.private_key.public_key)) for d in (short, long)}
    assert sizes == {PAD_BLOCK + SEAL_OVERHEAD}


def test_it_is_a_standard_libsodium_sealed_box():
    """Build a sealed box by hand from libsodium's documented construction
    (ephemeral pk ‖ crypto_box(m, nonce = BLAKE2b-192(epk ‖ pk), pk, esk)) and
    open it with our code; and open ours with libsodium's own crypto_box_seal_open."""
    pair = KeyPair.generate()
    pk = bytes(pair.private_key.public_key)
    plaintext = declaration().to_plaintext()
    eph = nacl.public.PrivateKey.generate()
    epk = bytes(eph.public_key)
    nonce = hashlib.blake2b(epk + pk, digest_size=24).digest()
    handmade = epk + sodium.crypto_box(plaintext, nonce, pk, bytes(eph))
    assert open_plaintext(handmade, pair.private_key) == plaintext
    ours = seal(declaration(), pair.private_key.public_key)
    assert sodium.crypto_box_seal_open(ours, pk, bytes(pair.private_key)).startswith(b"BZD1")


def test_wrong_key_and_tampering_are_refused():
    pair, other = KeyPair.generate(), KeyPair.generate()
    sealed = seal(declaration(), pair.private_key.public_key)
    with pytest.raises(SealError, match="does not open"):
        open_sealed(sealed, other.private_key)
    flipped = bytearray(sealed)
    flipped[100] ^= 1
    with pytest.raises(SealError):
        open_sealed(bytes(flipped), pair.private_key)
    with pytest.raises(SealError, match="not a sealed declaration"):
        open_sealed(b"short", pair.private_key)


def test_a_sealed_box_that_is_not_a_declaration_is_reported():
    pair = KeyPair.generate()
    box = nacl.public.SealedBox(pair.private_key.public_key)
    for junk in (b"BZD1\x00\x00\xff\xff{}", b"XXXX" + bytes(100), b"BZD1\x00\x00\x00\x02{}" + b"\x01"):
        with pytest.raises(DeclarationFormatError):
            open_sealed(bytes(box.encrypt(junk)), pair.private_key)


def test_key_files(tmp_path):
    pair = KeyPair.generate()
    path = tmp_path / "authority.key"
    pair.write_private(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert bytes(load_private_key(path)) == bytes(pair.private_key)
    with pytest.raises(SealError, match="refusing to overwrite"):
        pair.write_private(path)
    assert bytes(public_key_from_b64(pair.public_b64)) == bytes(pair.private_key.public_key)
    (tmp_path / "bad.key").write_text("not base64!")
    with pytest.raises(SealError, match="base64"):
        load_private_key(tmp_path / "bad.key")
    with pytest.raises(SealError, match="32 bytes"):
        public_key_from_b64(base64.b64encode(b"x" * 31).decode())
    with pytest.raises(SealError, match="cannot read"):
        load_private_key(tmp_path / "missing.key")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=5000))
def test_fuzzed_ciphertext_never_crashes_opening(data):
    pair = KeyPair.generate()
    with pytest.raises((SealError, DeclarationFormatError)):
        open_sealed(data, pair.private_key)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_plaintext_frames_are_refused_or_parsed(data):
    try:
        d = Declaration.from_plaintext(data)
    except DeclarationFormatError:
        return
    assert isinstance(d.answers, dict)


def test_only_sizes_a_declaration_can_have_are_opened():
    """Found by mutation testing (docs/testing.md): the size bounds of
    open_plaintext were unpinned. A well-sealed box whose plaintext is shorter
    than a frame (8 bytes) or longer than MAX_PLAINTEXT is refused before it is
    opened, whoever sealed it; the sizes just inside are opened."""
    from bluezone.declarations.declaration import MAX_PLAINTEXT
    from bluezone.declarations.sealing import seal_plaintext

    pair = KeyPair.generate()
    public = pair.private_key.public_key
    for size in (8, MAX_PLAINTEXT):
        body = os.urandom(size)
        assert open_plaintext(seal_plaintext(body, public), pair.private_key) == body
    for size in (0, 7, MAX_PLAINTEXT + 1):
        with pytest.raises(SealError, match="not a sealed declaration"):
            open_plaintext(seal_plaintext(os.urandom(size), public), pair.private_key)


def test_raw_and_text_key_files_and_what_is_neither(tmp_path):
    """Found by mutation testing: a 32-byte raw key file and a non-ASCII file."""
    pair = KeyPair.generate()
    (tmp_path / "raw.key").write_bytes(bytes(pair.private_key))
    assert bytes(load_private_key(tmp_path / "raw.key")) == bytes(pair.private_key)
    (tmp_path / "text.key").write_bytes(base64.b64encode(bytes(pair.private_key)))  # 44 bytes, no newline
    assert bytes(load_private_key(tmp_path / "text.key")) == bytes(pair.private_key)
    for size in (31, 33):  # raw bytes of the wrong length are not taken as a key
        (tmp_path / "odd.key").write_bytes(b"\xff" * size)
        with pytest.raises(SealError, match="not a declaration key file"):
            load_private_key(tmp_path / "odd.key")
    with pytest.raises(AttributeError):  # a key pair is a value: its key cannot be swapped
        pair.private_key = KeyPair.generate().private_key


def test_a_deployment_without_a_declaration_key_cannot_seal(tmp_path):
    from bluezone.config import config_from_dict
    from bluezone.declarations.sealing import public_key_from_config

    base = {"deployment": {"name": "T", "region": "452"}, "authority": {"url": "https://a.example"}}
    with pytest.raises(SealError, match="declaration_public_key"):
        public_key_from_config(config_from_dict(base))
    pair = KeyPair.generate()
    with_key = dict(base, authority={"url": "https://a.example", "declaration_public_key": pair.public_b64})
    assert bytes(public_key_from_config(config_from_dict(with_key))) == bytes(pair.private_key.public_key)
