"""Run ``bluezone serve`` as a child process and wait until it answers.

Used by the demo and by tests that need the real server as its own process
(as a deployment runs it), not an in-process application.
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
from typing import Any, Self

from bluezone.testing import free_port as free_port  # re-exported: the demo and tests import it from here


class ServerProcessError(RuntimeError):
    """The server process did not start or exited early."""


class ServerProcess:
    """``with ServerProcess(config, url, log) as p:`` — stopped with SIGTERM on exit.

    Subclasses change what is started (:meth:`command`), how its health is
    asked (:meth:`health_context`, e.g. mutual TLS) and its name in errors."""

    what = "server"

    def __init__(self, config: Path, url: str, log: Path, timeout: float = 60.0):
        self.config, self.url, self.log_path, self.timeout = Path(config), url.rstrip("/"), Path(log), timeout
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("bluezone")), "serve", "--config", str(self.config)]

    def health_context(self) -> ssl.SSLContext | None:
        return None

    def __enter__(self) -> Self:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        context = self.health_context()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                raise ServerProcessError(f"the {self.what} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/health", timeout=2, context=context) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
                time.sleep(0.2)
        self.__exit__()
        raise ServerProcessError(f"the {self.what} did not answer {self.url}/v1/health within {self.timeout:.0f} s")

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


def write_province(folder: Path, url: str, port: int, *, province_extra: str = "", server_extra: str = "",
                   database: str = "server.db") -> None:
    """A test province in ``folder``: ``province.toml`` (what phones read)
    and ``server.toml`` (the same plus ``[server]`` on ``port``), with a new
    export signing key made by ``bluezone authority keygen``. ``*_extra``
    are TOML lines appended to the shared part or to ``[server]``;
    ``database`` a SQLite file name or a PostgreSQL URL."""
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    subprocess.run([bluezone, "authority", "keygen", "--out", str(folder / "export.pem")], check=True,
                   capture_output=True, timeout=120)
    common = f"""
[deployment]
name = "Gia Lai"
region = "452"
{province_extra}
[authority]
url = "{url}"
export_keys = [ {{ key_id = "452", public_key = "export.pub.pem" }} ]
"""
    (folder / "province.toml").write_text(common)
    (folder / "server.toml").write_text(common + f"""
[server]
port = {port}
database = "{database}"
export_dir = "exports"
signing_key = "export.pem"
secrets_file = "server.secrets"
{server_extra}
""")


def province_server(folder: Path, **extra: str) -> ServerProcess:
    """``with province_server(folder) as server:`` a test province written by
    :func:`write_province` on a free port, its ``bluezone serve`` running."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    write_province(folder, url, port, **extra)
    return ServerProcess(folder / "server.toml", url, folder / "server.log")
