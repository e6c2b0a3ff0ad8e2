"""Test helpers: a gateway as its own process (``bluezone gateway``), as deployed.

Not used in production code.
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..server.process import ServerProcessError, free_port
from . import certs


def write_gateway(folder: Path, port: int) -> Path:
    """``gateway.toml`` in ``folder`` and the operator's PKI under ``folder/ca``
    (made with the operator's commands): the gateway's server certificate for 127.0.0.1."""
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    ca = folder / "ca"
    for args in (["ca", "init", "--dir", str(ca)],
                 ["ca", "issue", "--dir", str(ca), "--name", "gateway", "--out", str(folder / "gateway"),
                  "--server-host", "127.0.0.1"]):
        subprocess.run([bluezone, "gateway", *args], check=True, capture_output=True, timeout=120)
    config = folder / "gateway.toml"
    config.write_text(f'[gateway]\nport = {port}\ndatabase = "gateway.db"\nca = "ca/ca.pem"\n'
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


class GatewayProcess:
    """``with GatewayProcess(folder, client) as g:`` — ``bluezone gateway`` on
    its port, ready once ``/v1/health`` answers over mutual TLS with ``client``."""

    def __init__(self, folder: Path, port: int, client: certs.Issued, timeout: float = 60.0):
        self.folder, self.port, self.client, self.timeout = folder, port, client, timeout
        self.url = f"https://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "GatewayProcess":
        bluezone = str(Path(sys.executable).with_name("bluezone"))
        self._log = open(self.folder / "gateway.log", "wb")
        self.proc = subprocess.Popen([bluezone, "gateway", "--config", str(self.folder / "gateway.toml")],
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        ctx = certs.client_context(self.folder / "ca" / "ca.pem", self.client.cert, self.client.key)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerProcessError(f"the gateway exited with {self.proc.returncode}; see gateway.log")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/health", timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
                time.sleep(0.2)
        self.__exit__()
        raise ServerProcessError(f"the gateway did not answer {self.url}/v1/health within {self.timeout:.0f} s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()


__all__ = ["GatewayProcess", "write_gateway", "issue_province", "register_province", "free_port"]
