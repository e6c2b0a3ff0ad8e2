"""The GAEN export format: round trips, wire layout, and every kind of bad file."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluezone.export import (
    EXPORT_HEADER,
    ExportError,
    build_export_bin,
    iter_export_keys,
    read_export,
    write_export,
)
from bluezone.export import export_pb2 as pb
from bluezone.export.writer import sign_export_bin, zip_export
from bluezone.models import ExposureKey, ReportType

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
HEADER = dict(region="452", start_timestamp=1_700_000_000, end_timestamp=1_700_086_400, key_id="452")


def some_keys(n: int = 20) -> list[ExposureKey]:
    rts = [ReportType.CONFIRMED_TEST, ReportType.CONFIRMED_CLINICAL_DIAGNOSIS, ReportType.RECURSIVE]
    return [
        ExposureKey(os.urandom(16), 2_833_000 + 144 * (i % 14), 144 if i % 3 else 1 + i, i % 9, rts[i % 3],
                    None if i % 4 == 0 else (i % 29) - 14)
        for i in range(n)
    ]


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return buf.getvalue()


# --- round trips -----------------------------------------------------------------


def test_round_trip_keeps_every_field_and_sorts_by_key_bytes():
    keys = some_keys(50)
    data = write_export(keys, KEY, batch_num=2, batch_size=3, **HEADER)
    export = read_export(data, [KEY.public_key()])
    assert export.keys == sorted(keys, key=lambda k: k.key_data)
    assert (export.region, export.batch_num, export.batch_size) == ("452", 2, 3)
    assert (export.start_timestamp, export.end_timestamp) == (1_700_000_000, 1_700_086_400)
    assert export.verified_key_id == "452"
    assert list(iter_export_keys(data, [KEY.public_key()])) == export.keys


def test_revised_keys_round_trip():
    keys, revised = some_keys(3), [ExposureKey(os.urandom(16), 2_833_000, report_type=ReportType.REVOKED)]
    export = read_export(write_export(keys, KEY, revised_keys=revised, **HEADER))
    assert export.revised_keys == revised


def test_empty_export_round_trips():
    assert read_export(write_export([], KEY, **HEADER), [KEY]).keys == []


def test_dp3t_keys_of_32_bytes_need_key_length():
    keys = [ExposureKey(os.urandom(32), 2_833_056)]
    data = write_export(keys, KEY, **HEADER)
    with pytest.raises(ExportError, match=r"keys\[0\]: key_data is 32 bytes, expected 16"):
        read_export(data)
    assert read_export(data, key_length=32).keys == keys
    assert read_export(data, key_length=None).keys == keys


def test_verification_by_key_id_and_version_dicts_as_config_gives_them():
    from cryptography.hazmat.primitives import serialization

    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    data = write_export(some_keys(2), KEY, **HEADER)
    assert read_export(data, [{"key_id": "452", "key_version": "v1", "pem": pem.decode()}]).verified_key_id == "452"
    with pytest.raises(ExportError, match="no signature by a trusted key id"):
        read_export(data, [{"key_id": "310", "key_version": "v1", "pem": pem.decode()}])


# --- wire layout, checked against the field table by hand -------------------------


def test_key_wire_bytes_match_the_published_field_table():
    """One key encoded by hand from the GAEN export file format: 27 bytes with a default period."""
    kd = bytes(range(16))
    export_bin = build_export_bin([ExposureKey(kd, 2_650_000, 144, 2)], **HEADER)
    message = pb.TemporaryExposureKeyExport.FromString(export_bin[16:])
    raw = message.keys[0].SerializeToString()
    # field 1 bytes(16); field 2 varint 2; field 3 varint 2650000; no field 4 (144 is the default)
    enin = bytes([0x90, 0xDF, 0xA1, 0x01])  # 2,650,000 as a varint
    assert raw == b"\x0a\x10" + kd + b"\x10\x02" + b"\x18" + enin
    assert len(raw) + 2 == 27  # with the repeated field's tag and length, as measured
    # A DSOS of -3 is zig-zag (sint32) = 5 on field 6; report type 1 on field 5.
    export_bin = build_export_bin([ExposureKey(kd, 2_650_000, 10, 2, ReportType.CONFIRMED_TEST, -3)], **HEADER)
    raw = pb.TemporaryExposureKeyExport.FromString(export_bin[16:]).keys[0].SerializeToString()
    assert raw.endswith(b"\x20\x0a\x28\x01\x30\x05")


def test_header_is_ek_export_v1_padded_to_16_bytes():
    assert EXPORT_HEADER.hex() == "454b204578706f727420763120202020"
    assert entries(write_export([], KEY, **HEADER))["export.bin"][:16] == EXPORT_HEADER


# --- bad files: one clear error each ---------------------------------------------


@pytest.fixture(scope="module")
def good() -> bytes:
    return write_export(some_keys(30), KEY, **HEADER)


def test_truncated_zip(good):
    for cut in (0, 10, len(good) // 2, len(good) - 5):
        with pytest.raises(ExportError) as e:
            read_export(good[:cut], [KEY])
        assert "\n" not in str(e.value)


def test_not_a_zip():
    with pytest.raises(ExportError, match="not a readable zip"):
        read_export(b"PK\x03\x04 this is not really a zip", [KEY])


def test_bad_header(good):
    files = entries(good)
    files["export.bin"] = b"EK Export v2    " + files["export.bin"][16:]
    with pytest.raises(ExportError, match="bad header"):
        read_export(rezip(files))


def test_bad_protobuf(good):
    files = entries(good)
    files["export.bin"] = EXPORT_HEADER + b"\x0a\xff\xff\xff\x0f garbage"
    files["export.sig"] = sign_export_bin(files["export.bin"], KEY, key_id="452")
    with pytest.raises(ExportError, match="does not parse as TemporaryExposureKeyExport"):
        read_export(rezip(files), [KEY])


def test_bad_signature_after_a_single_bit_flip(good):
    files = entries(good)
    b = bytearray(files["export.bin"])
    b[40] ^= 1
    files["export.bin"] = bytes(b)
    with pytest.raises(ExportError, match="does not verify"):
        read_export(rezip(files), [KEY])


def test_signature_by_another_key(good):
    with pytest.raises(ExportError, match="does not verify"):
        read_export(good, [OTHER.public_key()])


def test_missing_signature_entry(good):
    files = entries(good)
    del files["export.sig"]
    with pytest.raises(ExportError, match="zip has no export.sig"):
        read_export(rezip(files), [KEY])


def test_empty_signature_list(good):
    files = entries(good)
    files["export.sig"] = b""
    with pytest.raises(ExportError, match="holds no signature"):
        read_export(rezip(files), [KEY])


def test_extra_entry(good):
    files = entries(good)
    files["evil.sh"] = b"rm -rf /"
    with pytest.raises(ExportError, match="unexpected entries"):
        read_export(rezip(files))


def test_malformed_key_names_the_key():
    export = pb.TemporaryExposureKeyExport(region="452", batch_num=1, batch_size=1)
    export.keys.add(key_data=os.urandom(16), rolling_start_interval_number=2_833_000)
    export.keys.add(key_data=os.urandom(15), rolling_start_interval_number=2_833_000)
    export_bin = EXPORT_HEADER + export.SerializeToString()
    data = zip_export(export_bin, sign_export_bin(export_bin, KEY, key_id="452"))
    with pytest.raises(ExportError, match=r"keys\[1\]: key_data is 15 bytes"):
        read_export(data, [KEY])
    export.keys[1].key_data = os.urandom(16)
    export.keys[1].rolling_period = 145
    export_bin = EXPORT_HEADER + export.SerializeToString()
    with pytest.raises(ExportError, match=r"keys\[1\]: rolling_period 145"):
        read_export(zip_export(export_bin, sign_export_bin(export_bin, KEY, key_id="452")), [KEY])


def test_writer_refuses_bad_keys_and_batch_numbers():
    with pytest.raises(ExportError, match="rolling_period"):
        write_export([ExposureKey(os.urandom(16), 1, 0)], KEY, **HEADER)
    with pytest.raises(ExportError, match="batch_num"):
        write_export([], KEY, batch_num=3, batch_size=2, **HEADER)


def test_verify_without_any_key_is_an_error(good):
    with pytest.raises(ExportError, match="no public key"):
        read_export(good, [])


# --- fuzzing: any input gives keys or an ExportError, never another exception -----


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(blob):
    with pytest.raises(ExportError):
        read_export(blob, [KEY])


_FUZZ_BASE = write_export(some_keys(3), KEY, **HEADER)  # fixed, so hypothesis can replay


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_exports(data):
    base = bytearray(_FUZZ_BASE)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    try:
        export = read_export(bytes(base), [KEY])
    except ExportError as e:
        assert "\n" not in str(e)
    else:  # a mutation in unsigned zip metadata may leave a valid export
        assert len(export.keys) == 3


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_export_bin_body(body):
    export_bin = EXPORT_HEADER + body
    data = zip_export(export_bin, sign_export_bin(export_bin, KEY, key_id="452"))
    try:
        read_export(data, [KEY], key_length=None)
    except ExportError as e:
        assert "\n" not in str(e)
