"""A province's ``[federation]`` section is checked like the rest of its file:
the client certificate, its key, the operator's CA and the other provinces'
signing keys are read (with the same care as the gateway's: no FIFO, no
device) and must be what they claim, so a wrong file is named on its line by
``config check`` and refused in one line by ``serve``, not found at the first
federation round."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone_authority.gateway import certs
from bluezone_authority.server.keys import public_pem
from bluezone_authority.server.process import write_province

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
GL, DN = "64", "48"


@pytest.fixture
def province(tmp_path):
    """Gia Lai with a [federation] section that is right: real certificates from a real CA."""
    write_province(tmp_path, "http://127.0.0.1:1", 1)
    certs.init_ca(tmp_path / "ca")
    certs.issue(tmp_path / "ca", GL, tmp_path / GL)
    certs.issue(tmp_path / "ca", "gateway", tmp_path / "gateway", server_hosts=["127.0.0.1"])
    (tmp_path / f"{DN}.sign.pem").write_text(public_pem(ec.generate_private_key(ec.SECP256R1())))
    return tmp_path


def with_federation(folder: Path, **change: str) -> Path:
    values = {"client_cert": f"{GL}.pem", "client_key": f"{GL}.key", "ca": "ca/ca.pem",
              "public_key": f"{DN}.sign.pem", **change}
    text = (folder / "server.toml").read_text() + (
        f'\n[federation]\ngateway_url = "https://127.0.0.1:8453"\norigin = "{GL}"\n'
        f'client_cert = "{values["client_cert"]}"\nclient_key = "{values["client_key"]}"\n'
        f'ca = "{values["ca"]}"\nimport_from = ["{DN}"]\n'
        f'signing_keys = [ {{ origin = "{DN}", public_key = "{values["public_key"]}" }} ]\n')
    (folder / "server.toml").write_text(text)
    return folder / "server.toml"


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, BLUEZONE_LANG="en"))


def test_a_right_federation_section_checks_ok(province):
    out = check(with_federation(province))
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("change, setting, words", [
    ({"client_key": "gateway.key"}, "client_key", "is not the key of"),
    ({"client_cert": "gateway.pem"}, "client_cert", "is not a province's client certificate"),
    ({"client_cert": "gone.pem"}, "client_cert", "gone.pem does not exist"),
    ({"ca": f"{GL}.pem"}, "ca", "is not a CA certificate"),
    ({"public_key": f"{GL}.key"}, "signing_keys", ""),
    ({"public_key": "fifo.pem"}, "signing_keys", "not a regular file"),
    ({"client_key": "/dev/zero"}, "client_key", "not a regular file"),
])
def test_a_wrong_file_is_named_with_its_setting_and_line(province, change, setting, words):
    os.mkfifo(province / "fifo.pem")
    path = with_federation(province, **change)
    out = check(path)
    assert out.returncode == 1, out.stdout
    [line] = [ln for ln in out.stderr.splitlines() if "[federation]" in ln]
    number = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith(f"{setting} ="))
    assert f"{path}:{number}:" in line and f"[federation] {setting}:" in line and words in line, line
