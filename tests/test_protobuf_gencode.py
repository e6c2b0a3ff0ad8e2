"""Every committed *_pb2.py is exactly what protoc makes of the .proto beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: (folder given to protoc with -I, the .proto relative to it): the import path
#: decides the registered file name, so each is compiled from its package root.
PROTOS = [
    (REPO, "bluezone/export/export.proto"),
    (REPO / "plugins" / "qr_checkin", "bluezone_qr_checkin/proto/crowdnotifier.proto"),
]


def test_every_proto_in_the_tree_is_listed():
    found = {p for p in REPO.glob("**/*.proto")
             # .venv, .venv-core, ... and what a wheel build leaves beside the sources
             if not any(part.startswith(".venv") or part == "build" for part in p.relative_to(REPO).parts)}
    assert found == {root / proto for root, proto in PROTOS}


@pytest.mark.parametrize("root,proto", PROTOS, ids=[p for _, p in PROTOS])
def test_gencode_matches_the_proto(tmp_path, root, proto):
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{root}", f"--python_out={tmp_path}", proto],
                   check=True)
    generated = Path(proto).with_name(Path(proto).stem + "_pb2.py")
    fresh = (tmp_path / generated).read_text()
    committed = (root / generated).read_text()
    assert fresh == committed, f"regenerate: cd {root} && python -m grpc_tools.protoc -I. --python_out=. {proto}"
