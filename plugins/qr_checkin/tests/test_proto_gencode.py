"""The committed crowdnotifier_pb2.py is what protoc makes of the committed .proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1]
PROTO = "bluezone_qr_checkin/proto/crowdnotifier.proto"


def test_gencode_matches_the_proto(tmp_path):
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PLUGIN}", f"--python_out={tmp_path}", PROTO],
                   check=True)
    fresh = (tmp_path / PROTO).with_name("crowdnotifier_pb2.py").read_text()
    committed = (PLUGIN / PROTO).with_name("crowdnotifier_pb2.py").read_text()
    assert fresh == committed, "regenerate: python -m grpc_tools.protoc -I plugins/qr_checkin --python_out=plugins/qr_checkin " + PROTO
