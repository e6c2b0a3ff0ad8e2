"""``bluezone export verify`` and ``bluezone export show`` in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone.export import write_export
from bluezone.models import ExposureKey, ReportType

BLUEZONE = Path(sys.executable).parent / "bluezone"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BLUEZONE), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    for name, k in (("pub.pem", key), ("other.pem", other)):
        (d / name).write_bytes(k.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    keys = [
        ExposureKey(bytes.fromhex("00" * 15 + "01"), 2_833_000, 144, 2, ReportType.CONFIRMED_TEST, 3),
        ExposureKey(bytes.fromhex("ff" * 16), 2_833_010, 7, 0, ReportType.RECURSIVE, None),
    ]
    data = write_export(keys, key, region="452", start_timestamp=1, end_timestamp=2, key_id="452")
    (d / "good.zip").write_bytes(data)
    (d / "truncated.zip").write_bytes(data[: len(data) - 30])
    return d


def test_verify_valid_prints_key_count(files):
    r = run("export", "verify", str(files / "good.zip"), "--public-key", str(files / "pub.pem"))
    assert r.returncode == 0, r.stderr
    # a command's own output is in the deployment's first language (Vietnamese by default)
    assert r.stdout == "2 khóa: tệp xuất hợp lệ, vùng 452, gói 1/1, ký bằng khóa có mã '452'\n"


def test_verify_wrong_key_is_one_line_nonzero(files):
    r = run("export", "verify", str(files / "good.zip"), "--public-key", str(files / "other.pem"))
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "does not verify" in r.stderr


def test_verify_truncated_is_one_line_nonzero(files):
    r = run("export", "verify", str(files / "truncated.zip"), "--public-key", str(files / "pub.pem"))
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "truncated" in r.stderr


def test_verify_missing_file(files):
    r = run("export", "verify", str(files / "nope.zip"), "--public-key", str(files / "pub.pem"))
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_show_prints_one_json_object_per_key(files):
    r = run("export", "show", str(files / "good.zip"))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows == [
        {"key_data": "00" * 15 + "01", "rolling_start_interval_number": 2_833_000, "rolling_period": 144,
         "transmission_risk_level": 2, "report_type": "CONFIRMED_TEST", "days_since_onset_of_symptoms": 3},
        {"key_data": "ff" * 16, "rolling_start_interval_number": 2_833_010, "rolling_period": 7,
         "transmission_risk_level": 0, "report_type": "RECURSIVE", "days_since_onset_of_symptoms": None},
    ]
