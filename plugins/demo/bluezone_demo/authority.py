"""The health authority of the demo: its files, keys and a real server process.

Everything here is what a province's IT department would do: generate the
export signing key and the declaration key with the ``bluezone authority``
commands, write a server file and a public deployment file, create a staff
token, and run ``bluezone serve`` on loopback. Staff then work through the
server's HTTP API, as the portal does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.public

from bluezone.i18n import _
from bluezone_authority.server.process import ServerProcess, free_port

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and the cause."""


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 120) -> str:
    """Run the real ``bluezone`` console script; return stdout."""
    proc = subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise DemoError(str(_("'{command} …' failed ({code}): {detail}", command="bluezone " + " ".join(args[:3]),
                              code=proc.returncode, detail=proc.stderr.strip())))
    return proc.stdout


@dataclass
class AuthoritySetup:
    folder: Path
    server_config: Path
    device_config: Path
    declaration_key: Path
    url: str
    port: int


def write_deployment(folder: Path, province: str = "Gia Lai") -> AuthoritySetup:
    """Make keys and the two deployment files (server's and devices')."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    run_cli("authority", "keygen", "--out", str(folder / "export-signing.pem"))
    out = run_cli("authority", "declarations", "keygen", str(folder / "declarations.key"))
    declaration_pub = next(line.split()[-1].strip('"') for line in out.splitlines()
                           if "declaration_public_key" in line or line.strip().endswith("="))
    venue_key = nacl.public.PrivateKey.generate()
    (folder / "venue-authority.key").write_text(base64.b64encode(bytes(venue_key)).decode())
    os.chmod(folder / "venue-authority.key", 0o600)
    common = f"""
[deployment]
name = "{province}"
region = "452"
languages = ["vi", "en"]

[plugins]
disabled = ["alerts-console"]   # the demo lists warnings in its summary instead of printing each
allow_missing = ["alert sink"]   # so it knowingly runs without an alert sink (alerts stay in each store)

[authority]
url = "{url}"
export_keys = [ {{ key_id = "452", key_version = "v1", public_key = "export-signing.pub.pem" }} ]
declaration_public_key = "{declaration_pub}"

[risk]
minimum_minutes_per_day = 15

[qr_checkin]
url_base = "https://qr.demo.example"
authority_public_key = "{base64.b64encode(bytes(venue_key.public_key)).decode()}"
"""
    device_config = folder / "province.toml"
    device_config.write_text(common)
    server_config = folder / "server.toml"
    server_config.write_text(common.replace(
        "[qr_checkin]\n", '[qr_checkin]\nauthority_secret_key_file = "venue-authority.key"\n') + f"""
[server]
host = "127.0.0.1"
port = {port}
database = "server.db"
export_dir = "exports"
signing_key = "export-signing.pem"
secrets_file = "server.secrets"
recursive_reports = true
batch_minutes = 1440
# Every simulated phone talks from 127.0.0.1, so the server's per-client
# budgets (sized for one real phone each) are raised for the demo.
verify_per_client_per_minute = 1000
uploads_per_client_per_minute = 1000
declarations_per_client_per_minute = 1000
decoys_per_client_per_minute = 10000
""")
    run_cli("config", "check", str(device_config))
    run_cli("config", "check", str(server_config))
    return AuthoritySetup(folder, server_config, device_config, folder / "declarations.key", url, port)


def running_server(setup: AuthoritySetup) -> ServerProcess:
    """``bluezone serve`` as a child process (stopped with SIGTERM)."""
    return ServerProcess(setup.server_config, setup.url, setup.folder / "server.log")


class StaffClient:
    """A staff member at the authority, using the server's JSON API."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise DemoError(str(_("{method} {path} answered {code}: {detail}", method=method, path=path, code=e.code,
                                  detail=e.read().decode(errors="replace")))) from None

    def issue_code(self, tier: str, onset: str | None = None, report_type: str = "confirmed") -> str:
        body: dict[str, Any] = {"tier": tier, "kind": "long"}
        if tier == "F0":
            body["reportType"] = report_type
        if onset:
            body["symptomOnsetDate"] = onset
        return self.call("POST", "/v1/authority/codes", body)["code"]

    def venue_trace_token(self, venue_name: str) -> str:
        return self.call("POST", "/v1/authority/one-time-tokens",
                         {"purpose": "venue-trace", "meta": {"venue": venue_name}})["token"]

    def export_now(self) -> dict:
        return self.call("POST", "/v1/authority/exports", {})

    def declarations(self) -> list[dict]:
        return self.call("GET", "/v1/authority/declarations")["declarations"]


def create_staff_token(setup: AuthoritySetup) -> str:
    out = run_cli("authority", "token", "create", "--config", str(setup.server_config),
                  "--name", "Trung tâm Kiểm soát bệnh tật Gia Lai", "--role", "admin")
    return out.splitlines()[0].strip()
