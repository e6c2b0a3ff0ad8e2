"""The gateway's ``database`` setting, through the operator's real commands
(``bluezone gateway province add``, ``bluezone gateway --config``): a SQLite
file or a ``postgresql://`` URL, and one line when the database cannot be
reached (as ``bluezone serve`` says it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from bluezone_authority.gateway import certs
from bluezone_authority.gateway.store import GatewayStore
from bluezone_authority.server.keys import public_pem

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def gateway_config(folder: Path, database: str) -> Path:
    certs.init_ca(folder / "ca")
    certs.issue(folder / "ca", "gateway", folder / "gateway", server_hosts=["127.0.0.1"])
    config = folder / "gateway.toml"
    config.write_text(f'[gateway]\nport = 1\ndatabase = "{database}"\nca = "ca/ca.pem"\n'
                      'cert = "gateway.pem"\nkey = "gateway.key"\n')
    return config


def signing_key(folder: Path) -> tuple[Path, str]:
    pem = public_pem(ec.generate_private_key(ec.SECP256R1()))
    path = folder / "48.pub.pem"
    path.write_text(pem)
    return path, pem


def test_province_add_registers_in_the_configured_database(tmp_path, gateway_database):
    config = gateway_config(tmp_path, gateway_database)
    key, pem = signing_key(tmp_path)
    out = subprocess.run([BLUEZONE, "gateway", "province", "add", "--config", str(config), "--code", "48",
                          "--signing-key", str(key)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    store = GatewayStore(gateway_database)
    try:
        assert store.signing_key("48") == pem and store.signing_key("64") is None
    finally:
        store.close()


def test_an_unreachable_gateway_database_is_one_line_without_its_password(tmp_path):
    url = f"postgresql://bz:hunter2@/gateway?host={tmp_path}/nowhere&port=5"
    config = gateway_config(tmp_path, url)
    key, _ = signing_key(tmp_path)
    for args in (["gateway", "--config", str(config)],
                 ["gateway", "province", "add", "--config", str(config), "--code", "48", "--signing-key", str(key)]):
        out = subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode != 0, args
        said = out.stderr + out.stdout
        assert "Traceback" not in said and "hunter2" not in said, said
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "postgresql://bz:***@/gateway" in lines[0], out.stderr


def test_every_gateway_error_code_is_in_its_docs():
    """docs/federation.md's table of the gateway's answers lists every code the gateway's routes raise."""
    import re

    root = Path(__file__).parents[2]
    doc = (root / "docs" / "federation.md").read_text()
    table = set(re.findall(r"`([a-z_]+)`", "".join(re.findall(r"^\| \d{3} \| (.*?) \|", doc, re.M))))
    codes = set()
    for path in (root / "authority" / "bluezone_authority" / "gateway").glob("*.py"):
        codes |= set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', path.read_text()))
    assert {"duplicate_keys", "bad_signature", "unknown_province"} <= codes
    assert sorted(codes - table) == []
