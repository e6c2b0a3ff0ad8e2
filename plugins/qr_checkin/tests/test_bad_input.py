"""Bad QR codes and uploads: a clear bilingual message, nothing stored."""

from __future__ import annotations

import io

import pytest
import qrcode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluezone_qr_checkin import checkin, matching, qrimage, tracing
from bluezone_qr_checkin import payload as qp
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb
from qr_helpers import T0, Clock, authority, make_venue, open_store

HA = authority()
CREATED, INFO = make_venue(HA)
URL = CREATED.url()


def _reencoded(mutate) -> str:
    m = pb.QRCodePayload()
    m.ParseFromString(CREATED.payload)
    mutate(m)
    return qp.make_url(m.SerializeToString())


BAD_CODES = {
    "other app's QR": ("https://zalo.me/g/abcdef", "not a Bluezone"),
    "plain text": ("hello", "not a Bluezone"),
    "truncated payload": (qp.make_url(CREATED.payload[: len(CREATED.payload) // 2]), "damaged"),
    "altered public key": (_reencoded(lambda m: setattr(m.crowdNotifierData, "publicKey", b"\x01" * 96)), "damaged"),
    "short seed": (_reencoded(lambda m: setattr(m.crowdNotifierData, "cryptographicSeed", b"\x01" * 5)), "damaged"),
    "wrong payload version": (_reencoded(lambda m: setattr(m, "version", 2)), "Unsupported"),
    "wrong URL version": (URL.replace("?v=3", "?v=2"), "Unsupported"),
    "not base64": (URL.split("#")[0] + "#@@@@", "damaged"),
    "empty name": (_reencoded(lambda m: setattr(m.locationData, "description", "")), "not a Bluezone"),
    "expired event": (_reencoded(lambda m: (setattr(m.locationData, "startTimestamp", T0 - 7200),
                                            setattr(m.locationData, "endTimestamp", T0 - 3600))), "expired"),
    "future event": (_reencoded(lambda m: (setattr(m.locationData, "startTimestamp", T0 + 3600),
                                           setattr(m.locationData, "endTimestamp", T0 + 7200))), "not valid yet"),
}


@pytest.mark.parametrize("case", sorted(BAD_CODES))
def test_bad_codes_are_refused_clearly_and_store_nothing(case, tmp_path):
    url, expected = BAD_CODES[case]
    with open_store(tmp_path / "d.db", Clock()) as store:
        checkin.check_in(store, INFO)  # something already stored must survive untouched
        before = (store.counts(), store.visits())
        with pytest.raises(qp.PayloadError) as err:
            checkin.check_in(store, qp.parse_url(url, now=T0))
        assert expected in str(err.value) and " / " in str(err.value)  # Vietnamese / English
        assert (store.counts(), store.visits()) == before


def test_images_without_a_venue_code(tmp_path):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), "white").save(blank)
    with pytest.raises(qp.PayloadError, match="No QR"):
        qrimage.venue_url_from_image(blank)
    other = tmp_path / "other.png"
    qrcode.make("https://example.org/menu").save(other)
    with pytest.raises(qp.PayloadError, match="not a Bluezone"):
        qrimage.venue_url_from_image(other)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(qp.PayloadError):
        qrimage.venue_url_from_image(junk)


def test_a_photo_like_image_decodes(tmp_path):
    """Rotated, scaled down, grey background: what a phone camera gives."""
    from PIL import Image, ImageFilter

    img = qrcode.make(URL).convert("RGB").resize((600, 600))
    canvas = Image.new("RGB", (900, 900), (170, 170, 160))
    canvas.paste(img.rotate(12, expand=True, fillcolor=(170, 170, 160)), (80, 60))
    path = tmp_path / "photo.jpg"
    canvas.filter(ImageFilter.GaussianBlur(1)).save(path, quality=70)
    assert qrimage.venue_url_from_image(path) == URL


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_payload_parser_never_crashes(data):
    try:
        qp.parse_payload(data, now=T0)
    except qp.PayloadError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_fuzz_single_byte_mutations(pos, value):
    raw = bytearray(CREATED.payload)
    raw[pos % len(raw)] = value
    try:
        info = qp.parse_payload(bytes(raw), now=T0)
    except qp.PayloadError:
        return
    assert info.description  # if it parses, it is a complete venue


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_trace_batches_and_uploads(data):
    with pytest.raises(matching.TraceBatchError):
        matching.open_signed_batch(data, [])
    with pytest.raises(tracing.TraceError):  # random bytes never complete a venue's trace
        tracing.authority_traces(tracing.parse_upload(data), bytes(HA), "x")


def test_unsigned_or_wrongly_signed_batches_are_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from bluezone.feeds import sign_payload
    from bluezone_authority.server.keys import public_pem

    good, evil = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    batch = pb.TraceBatch(version=3).SerializeToString()
    keys = [{"key_id": "452", "key_version": "v1", "pem": public_pem(good)}]
    assert matching.open_signed_batch(sign_payload(batch, good, key_id="452"), keys).version == 3
    with pytest.raises(matching.TraceBatchError, match="Venue-trace batch refused"):
        matching.open_signed_batch(sign_payload(batch, evil, key_id="452"), keys)
