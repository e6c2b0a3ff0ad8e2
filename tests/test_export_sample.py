"""The public GAEN sample export (google/exposure-notifications-server, examples/export).

These tests use the sample's published *text* files: ``keys.json``,
``private.pem`` and ``public.pem``. We sign an export of the sample's two
keys with the sample's private key and header values, and verify it with the
sample's public key. The sample zip's own bytes are checked in
tests/test_export_google_sample.py (see docs/export.md).
"""

from __future__ import annotations

import base64
import json
import zipfile
import io

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.export import ExportError, load_private_key, load_public_key, read_export, write_export
from bluezone.export import export_pb2 as pb
from bluezone.models import ExposureKey

# examples/export/private.pem and the public.pem made from it (commit ece2b68).
SAMPLE_PRIVATE_PEM = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIE7yE32GaV/+qZ2tlOpdZRIXc9SJsyT5QhDJd9njZ+kcoAoGCCqGSM49
AwEHoUQDQgAEml59itec9qzwVojreLXdPNRsUWzfYHc1cKvIIi6/H56AJS/kZEYQ
nfDpxrgyGhdAm+pNN2GAJ3XdnQZ1Sk4amg==
-----END EC PRIVATE KEY-----
"""
SAMPLE_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEml59itec9qzwVojreLXdPNRsUWzf
YHc1cKvIIi6/H56AJS/kZEYQnfDpxrgyGhdAm+pNN2GAJ3XdnQZ1Sk4amg==
-----END PUBLIC KEY-----
"""
# The later public.pem in that folder (commit 3de9f34): a different key pair,
# so an export signed with the sample private key must NOT verify with it.
OTHER_SAMPLE_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUczyMAkfSeoU77Nmcb1G7t7xyGCA
hQqMOIVDFLFas3J+elP7CiotovigCLWj706F07j1EPL27ThRzZl7Ha9uOA==
-----END PUBLIC KEY-----
"""
SAMPLE_KEYS_JSON = """{
  "temporaryExposureKeys": [
    {"key": "Fy/EgOWYSQw0F3YEM5sVQw==", "rollingStartNumber": 2649980, "rollingPeriod": 1, "transmissionRisk": 8},
    {"key": "K2MFOsSDI43hdhaehh89zQ==", "rollingStartNumber": 2649866, "rollingPeriod": 114, "transmissionRisk": 1}
  ]
}"""
# Header values of testExport-2-records-1-of-1.zip as its Go unit test states them.
SAMPLE_HEADER = dict(region="US", batch_num=1, batch_size=1, start_timestamp=1588345200,
                     end_timestamp=1588431600, key_id="some_id", key_version="1")


def sample_keys() -> list[ExposureKey]:
    return [
        ExposureKey(base64.b64decode(k["key"]), k["rollingStartNumber"], k["rollingPeriod"], k["transmissionRisk"])
        for k in json.loads(SAMPLE_KEYS_JSON)["temporaryExposureKeys"]
    ]


@pytest.fixture(scope="module")
def sample_style_export() -> bytes:
    return write_export(sample_keys(), load_private_key(SAMPLE_PRIVATE_PEM), **SAMPLE_HEADER)


def test_sample_key_pair_is_consistent():
    priv = load_private_key(SAMPLE_PRIVATE_PEM)
    assert isinstance(priv, ec.EllipticCurvePrivateKey)
    assert priv.public_key().public_numbers() == load_public_key(SAMPLE_PUBLIC_PEM).public_numbers()


def test_export_signed_with_sample_key_verifies_with_sample_public_pem(sample_style_export):
    export = read_export(sample_style_export, [SAMPLE_PUBLIC_PEM])
    assert export.verified_key_id == "some_id"
    assert export.region == "US" and (export.batch_num, export.batch_size) == (1, 1)
    assert (export.start_timestamp, export.end_timestamp) == (1588345200, 1588431600)
    assert [s.key_version for s in export.signature_infos] == ["1"]
    assert [s.algorithm for s in export.signature_infos] == ["1.2.840.10045.4.3.2"]
    # Keys come back sorted by key bytes, with the sample's values.
    got = [(k.key_data.hex(), k.rolling_start_interval_number, k.rolling_period, k.transmission_risk_level)
           for k in export.keys]
    assert got == [
        ("172fc480e598490c34177604339b1543", 2649980, 1, 8),
        ("2b63053ac483238de176169e861f3dcd", 2649866, 114, 1),
    ]


def test_sample_style_export_has_the_sample_layout(sample_style_export):
    zf = zipfile.ZipFile(io.BytesIO(sample_style_export))
    assert sorted(zf.namelist()) == ["export.bin", "export.sig"]
    export_bin = zf.read("export.bin")
    # The Google sample's export.bin is 135 bytes (its README's `unzip -l`); ours,
    # with the same fields and values, is the same size.
    assert len(export_bin) == 135
    assert export_bin[:16] == bytes.fromhex("454b204578706f727420763120202020")


def test_export_signed_with_sample_key_fails_with_the_other_sample_public_key(sample_style_export):
    with pytest.raises(ExportError, match="does not verify"):
        read_export(sample_style_export, [OTHER_SAMPLE_PUBLIC_PEM])


def test_signature_is_plain_der_ecdsa_sha256_over_whole_export_bin(sample_style_export):
    """Independent check with cryptography directly, as `openssl dgst -verify` would."""
    from cryptography.hazmat.primitives import hashes

    zf = zipfile.ZipFile(io.BytesIO(sample_style_export))
    sigs = pb.TEKSignatureList.FromString(zf.read("export.sig"))
    assert len(sigs.signatures) == 1
    sig = sigs.signatures[0]
    assert sig.signature_info.verification_key_id == "some_id"
    assert (sig.batch_num, sig.batch_size) == (1, 1)
    load_public_key(SAMPLE_PUBLIC_PEM).verify(sig.signature, zf.read("export.bin"), ec.ECDSA(hashes.SHA256()))
