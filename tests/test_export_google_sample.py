"""Google's own sample export (tests/vectors/google_export, provenance in its
README): our reader verifies and reads it, and our writer, given the sample's
keys and header values, produces its ``export.bin`` byte for byte."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.export import ExportError, load_public_key, read_export
from bluezone.export import export_pb2 as pb
from bluezone.export.writer import build_export_bin, zip_export
from bluezone.models import ExposureKey

HERE = Path(__file__).parent / "vectors" / "google_export"
SAMPLE = (HERE / "testExport-2-records-1-of-1.zip").read_bytes()
PUBLIC = (HERE / "public.pem").read_text()


def sample_keys() -> list[ExposureKey]:
    return [ExposureKey(base64.b64decode(k["key"]), k["rollingStartNumber"], k["rollingPeriod"], k["transmissionRisk"])
            for k in json.loads((HERE / "keys.json").read_text())["temporaryExposureKeys"]]


def member(name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(SAMPLE)) as z:
        return z.read(name)


def test_the_sample_is_the_published_file():
    assert len(SAMPLE) == 505 and len(member("export.bin")) == 135


def test_our_reader_verifies_and_reads_the_sample():
    export = read_export(SAMPLE, [PUBLIC])
    assert export.keys == sample_keys()
    assert (export.start_timestamp, export.end_timestamp, export.region) == (1590159600, 1590246000, "US")


def test_our_writer_reproduces_the_samples_export_bin_byte_for_byte():
    ours = build_export_bin(sample_keys(), region="US", batch_num=1, batch_size=1, start_timestamp=1590159600,
                            end_timestamp=1590246000, key_id="some_id", key_version="1")
    assert ours == member("export.bin")
    # so the sample's own signature is a valid signature of what we write
    signatures = pb.TEKSignatureList()
    signatures.ParseFromString(member("export.sig"))
    load_public_key(PUBLIC).verify(signatures.signatures[0].signature, ours, ec.ECDSA(hashes.SHA256()))


def test_a_changed_key_byte_under_the_samples_signature_is_refused():
    bad = bytearray(member("export.bin"))
    bad[-20] ^= 1  # inside the second key's key_data
    with pytest.raises(ExportError):
        read_export(zip_export(bytes(bad), member("export.sig")), [PUBLIC])
