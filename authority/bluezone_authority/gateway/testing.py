"""Test helpers: a gateway as its own process (``bluezone gateway``), as deployed.

Not used in production code.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

from ..server.process import ServerProcess, free_port
from . import certs


def write_gateway(folder: Path, port: int, database: str = "gateway.db") -> Path:
    """``gateway.toml`` in ``folder`` and the operator's PKI under ``folder/ca``
    (made with the operator's commands): the gateway's server certificate for 127.0.0.1.
    ``database``: a SQLite file name or a PostgreSQL URL."""
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    ca = folder / "ca"
    for args in (["ca", "init", "--dir", str(ca)],
                 ["ca", "issue", "--dir", str(ca), "--name", "gateway", "--out", str(folder / "gateway"),
                  "--server-host", "127.0.0.1"]):
        subprocess.run([bluezone, "gateway", *args], check=True, capture_output=True, timeout=120)
    config = folder / "gateway.toml"
    config.write_text(f'[gateway]\nport = {port}\ndatabase = "{database}"\nca = "ca/ca.pem"\n'
                      'cert = "gateway.pem"\nkey = "gateway.key"\n')
    return config


def issue_province(gateway_folder: Path, code: str, out: Path) -> certs.Issued:
    """A province's client certificate, with the operator's command."""
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    subprocess.run([bluezone, "gateway", "ca", "issue", "--dir", str(gateway_folder / "ca"), "--name", code,
                    "--out", str(out)], check=True, capture_output=True, timeout=120)
    return certs.Issued(out.with_suffix(".pem"), out.with_suffix(".key"))


def register_province(gateway_folder: Path, code: str, public_key: Path) -> None:
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    subprocess.run([bluezone, "gateway", "province", "add", "--config", str(gateway_folder / "gateway.toml"),
                    "--code", code, "--signing-key", str(public_key)], check=True, capture_output=True, timeout=120)


class GatewayProcess(ServerProcess):
    """``with GatewayProcess(folder, port, client) as g:`` — ``bluezone gateway``
    on its port, ready once ``/v1/health`` answers over mutual TLS with ``client``."""

    what = "gateway"

    def __init__(self, folder: Path, port: int, client: certs.Issued, timeout: float = 60.0):
        super().__init__(folder / "gateway.toml", f"https://127.0.0.1:{port}", folder / "gateway.log", timeout)
        self.folder, self.port, self.client = folder, port, client

    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("bluezone")), "gateway", "--config", str(self.config)]

    def health_context(self) -> ssl.SSLContext:
        return certs.client_context(self.folder / "ca" / "ca.pem", self.client.cert, self.client.key)


__all__ = ["GatewayProcess", "write_gateway", "issue_province", "register_province", "free_port"]
