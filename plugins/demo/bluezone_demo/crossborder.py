"""The demo's second province: a driver from Đà Nẵng meets a Gia Lai citizen.

Shows federation (docs/federation.md) with real processes: the national
gateway (``bluezone gateway``, mutual TLS) and Đà Nẵng's ``bluezone serve``
beside the demo's Gia Lai server. The driver reports to Đà Nẵng agreeing to
share beyond the province; Đà Nẵng's server uploads on its schedule; Gia Lai
imports (``bluezone authority federate``), exports, and the Gia Lai citizen's
phone, which knows only Gia Lai's server, is warned "from another province".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluezone import DeviceStore, make_transport, record_meeting
from bluezone import sync_device as sync
from bluezone.i18n import _
from bluezone_authority.gateway.testing import GatewayProcess, issue_province, register_province, write_gateway
from bluezone_authority.server.process import ServerProcess, free_port, province_server

from .authority import AuthoritySetup, DemoError, run_cli

DA_NANG, GIA_LAI = "48", "64"
QUIET = '\n[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'


@dataclass
class Federation:
    folder: Path
    gateway: GatewayProcess
    da_nang: ServerProcess
    gia_lai: AuthoritySetup


@dataclass
class CrossBorderResult:
    contact: str
    warned: bool
    keys_imported: int
    message_vi: str = ""
    message_en: str = ""


def _section(port: int, origin: str, other: str, other_key: Path, ca: Path, every: float) -> str:
    return (f'\n[federation]\ngateway_url = "https://127.0.0.1:{port}"\norigin = "{origin}"\n'
            f'client_cert = "federation-client.pem"\nclient_key = "federation-client.key"\nca = "{ca}"\n'
            f'import_from = ["{other}"]\nsigning_keys = [ {{ origin = "{other}", public_key = "{other_key}" }} ]\n'
            f'every_seconds = {every}\n')


def prepare(work: Path, gia_lai: AuthoritySetup) -> Federation:
    """The operator's CA and gateway, Đà Nẵng's deployment, and Gia Lai's ``[federation]``."""
    gw, dn = work / "gateway", work / "da-nang"
    gw.mkdir(parents=True, exist_ok=True)
    dn.mkdir(parents=True, exist_ok=True)
    port = free_port()
    write_gateway(gw, port)
    ca = gw / "ca" / "ca.pem"
    issue_province(gw, DA_NANG, dn / "federation-client")
    issue_province(gw, GIA_LAI, gia_lai.folder / "federation-client")
    operator = issue_province(gw, "operator", gw / "operator")
    da_nang = province_server(dn, province_extra=QUIET,
                              server_extra=_section(port, DA_NANG, GIA_LAI, gia_lai.folder / "export-signing.pub.pem",
                                                    ca, 1))
    with open(gia_lai.server_config, "a") as f:  # Gia Lai's rounds are run by the demo (bluezone authority federate)
        f.write(_section(port, GIA_LAI, DA_NANG, dn / "export.pub.pem", ca, 3600))
    register_province(gw, DA_NANG, dn / "export.pub.pem")
    register_province(gw, GIA_LAI, gia_lai.folder / "export-signing.pub.pem")
    return Federation(gw, GatewayProcess(gw, port, operator), da_nang, gia_lai)


def running(fed: Federation) -> ExitStack:
    stack = ExitStack()
    stack.enter_context(fed.gateway)
    stack.enter_context(fed.da_nang)
    return stack


def cross_border_contact(fed: Federation, contact: str, contact_store: Any, contact_config: Any,
                         meeting_start: int) -> CrossBorderResult:
    """The driver meets ``contact`` (a Gia Lai phone) at ``meeting_start`` and reports to Đà Nẵng."""
    dn = fed.da_nang.config.parent
    driver = dn / "driver.db"
    run_cli("init", "--config", str(dn / "province.toml"), "--store", str(driver), "--language", "vi",
            "--consent", "all")
    with DeviceStore(driver) as store:
        record_meeting(store, contact_store, 40, meeting_start)
    onset = dt.datetime.fromtimestamp(meeting_start, dt.timezone.utc).date().isoformat()
    code = json.loads(run_cli("authority", "issue-code", "--config", str(fed.da_nang.config), "--long",
                              "--onset", onset, "--json"))["code"]
    run_cli("report", "--config", str(dn / "province.toml"), "--store", str(driver), "--code", code,
            "--share-beyond-province")
    imported = 0
    deadline = time.monotonic() + 60
    while not imported and time.monotonic() < deadline:  # Đà Nẵng uploads every second
        time.sleep(0.5)
        out = json.loads(run_cli("authority", "federate", "--config", str(fed.gia_lai.server_config)))
        imported = sum(i["newKeys"] for i in out["imports"] if i["result"] == "imported")
    if not imported:
        raise DemoError(str(_("no key from Đà Nẵng reached Gia Lai through the gateway (see {folder})",
                              folder=fed.folder)))
    run_cli("authority", "export", "--config", str(fed.gia_lai.server_config))

    async def sync_contact() -> None:
        transport = make_transport(fed.gia_lai.url, contact_config)
        try:
            await sync(contact_store, contact_config, transport)
        finally:
            await transport.close()

    asyncio.run(sync_contact())
    alerts = [a for a in contact_store.alerts() if a.exposure_date.isoformat() == onset]
    result = CrossBorderResult(contact, bool(alerts), imported)
    if alerts:
        result.message_vi, result.message_en = alerts[0].message("vi"), alerts[0].message("en")
    return result
