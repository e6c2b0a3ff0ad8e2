"""The committed export_pb2.py is what protoc makes of the committed export.proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTO = "bluezone/export/export.proto"


def test_export_gencode_matches_the_proto(tmp_path):
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO}", f"--python_out={tmp_path}", PROTO],
                   check=True)
    fresh = (tmp_path / PROTO).with_name("export_pb2.py").read_text()
    committed = (REPO / PROTO).with_name("export_pb2.py").read_text()
    assert fresh == committed, f"regenerate: python -m grpc_tools.protoc -I. --python_out=. {PROTO}"
