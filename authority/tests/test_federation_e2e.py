"""Federation end to end, three real processes on loopback: the national
gateway (``bluezone gateway``) and two province servers (``bluezone serve``),
each on its own database, with real phones (real console script, real stores).
The world runs twice: every process on SQLite files, then every process on
PostgreSQL (three databases of the test cluster), as ``federation_backend``.

An F0 reports to Đà Nẵng (48) agreeing to share beyond the province; Đà
Nẵng's server uploads on its own schedule over mutual TLS; Gia Lai (64)
imports, exports, and a Gia Lai phone configured only with Gia Lai's server
gets the F1 warning, labelled as coming from another province. A second F0
who did not agree never leaves Đà Nẵng.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bluezone.store import DeviceStore

from bluezone_authority.gateway import encoding
from bluezone_authority.gateway.testing import GatewayProcess, issue_province, register_province, write_gateway
from bluezone_authority.server.database import open_database
from bluezone_authority.server.process import free_port, province_server

from .test_warnings_trust import QUIET_PHONES, World, cli, days_ago, iso, meet

DN, GL = "48", "64"


def federation(gw_port: int, origin: str, other: str, other_folder: Path, every: float) -> str:
    return f"""
[federation]
gateway_url = "https://127.0.0.1:{gw_port}"
origin = "{origin}"
client_cert = "client.pem"
client_key = "client.key"
ca = "../gateway/ca/ca.pem"
import_from = ["{other}"]
signing_keys = [ {{ origin = "{other}", public_key = "{other_folder / 'export.pub.pem'}" }} ]
every_seconds = {every}
"""


def wait_for(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


@dataclass(frozen=True)
class Fed:
    root: Path
    databases: dict[str, str]  # "gateway", "danang", "gialai": a SQLite file or a PostgreSQL URL

    def rows(self, who: str, sql: str, params: tuple = ()) -> list[Any]:
        """Read one process's database (as its operator would), on either backend."""
        with open_database(self.databases[who]) as db:
            return db.all(sql, params)

    def gateway_keys(self) -> set[bytes]:
        return {k.key.key_data for (data,) in self.rows("gateway", "SELECT data FROM batches")
                for k in encoding.decode(bytes(data)).keys}


@pytest.fixture(scope="module")
def world(tmp_path_factory, federation_backend, request):
    root = tmp_path_factory.mktemp("federation")
    gw, dn, gl = root / "gateway", root / "danang", root / "gialai"
    for f in (gw, dn, gl):
        f.mkdir()
    if federation_backend == "postgresql":  # three databases, one per process
        cluster = request.getfixturevalue("postgresql_cluster")
        where = {name: cluster.new_database(name[:2]) for name in ("gateway", "danang", "gialai")}
    else:
        where = {"gateway": "gateway.db", "danang": "server.db", "gialai": "server.db"}
    gw_port = free_port()
    write_gateway(gw, gw_port, where["gateway"])
    issue_province(gw, DN, dn / "client")
    issue_province(gw, GL, gl / "client")
    operator = issue_province(gw, "operator", gw / "operator")  # unregistered: only for the health check
    # Đà Nẵng federates on its own schedule; Gia Lai's rounds are run by the test (bluezone authority federate)
    dn_server = province_server(dn, province_extra=QUIET_PHONES, server_extra=federation(gw_port, DN, GL, gl, 0.5),
                                database=where["danang"])
    gl_server = province_server(gl, province_extra=QUIET_PHONES, server_extra=federation(gw_port, GL, DN, dn, 3600),
                                database=where["gialai"])
    register_province(gw, DN, dn / "export.pub.pem")
    register_province(gw, GL, gl / "export.pub.pem")
    with GatewayProcess(gw, gw_port, operator), dn_server, gl_server:
        yield Fed(root, {name: value if "://" in value else str(root / name / value) for name, value in where.items()})


def test_a_case_in_da_nang_warns_a_contact_from_gia_lai(world, tmp_path):
    dn_folder, gl_folder = world.root / "danang", world.root / "gialai"
    dn, gl = World(dn_folder, tmp_path), World(gl_folder, tmp_path)
    driver = dn.phone("driver")  # Đà Nẵng's F0
    trader = gl.phone("trader", "vi")  # from Pleiku: configured only with Gia Lai's server
    private = dn.phone("private")  # another F0 of Đà Nẵng, who keeps to the default
    d3 = days_ago(3)
    meet(driver, trader, 40, d3 + 9 * 3600)
    meet(private, trader, 40, d3 + 11 * 3600)
    out = cli("report", "--config", dn.cfg, "--store", private, "--code", dn.code("--onset", iso(d3))["code"])
    assert out.returncode == 0, out.stderr
    assert "stay with this province" in out.stdout
    kept = {bytes(r[0]) for r in world.rows("danang", "SELECT key_data FROM exposure_keys WHERE share_beyond = 0")}
    assert kept

    out = cli("report", "--config", dn.cfg, "--store", driver, "--code", dn.code("--onset", iso(d3))["code"],
              "--share-beyond-province")
    assert out.returncode == 0, out.stderr
    assert "shared with other provinces" in out.stdout
    shared = {bytes(r[0]): tuple(r[1:]) for r in world.rows(
        "danang", "SELECT key_data, transmission_risk, report_type, dsos FROM exposure_keys WHERE share_beyond = 1")}
    assert shared

    # Đà Nẵng's scheduled round uploads the keys whose embargo is over
    wait_for(lambda: set(shared) & world.gateway_keys(), "Đà Nẵng's batch at the gateway")

    def gl_round() -> list:
        r = cli("authority", "federate", "--config", gl.server)
        assert r.returncode == 0, r.stderr
        return [i for i in json.loads(r.stdout)["imports"] if i["result"] == "imported"]
    [imported] = wait_for(gl_round, "Gia Lai's import")
    assert imported["origin"] == DN and imported["newKeys"] >= 1

    got = {bytes(r[0]): tuple(r[1:]) for r in world.rows(
        "gialai", "SELECT key_data, transmission_risk, report_type, dsos FROM exposure_keys WHERE origin = ?", (DN,))}
    # every key that left kept its report type, transmission risk and days since onset
    assert got and all(got[k] == shared[k] for k in got)
    assert cli("authority", "federate", "--config", gl.server).returncode == 0  # again: nothing twice
    assert world.rows("gialai", "SELECT count(*) FROM exposure_keys WHERE origin = ?", (DN,))[0][0] == len(got)

    # consent: the keys of the F0 who did not agree never left Đà Nẵng (its rounds ran after both reports)
    assert not kept & world.gateway_keys()
    assert not kept & {bytes(r[0]) for r in world.rows("gialai", "SELECT key_data FROM exposure_keys")}

    gl.export()
    assert "1 cảnh báo mới" in gl.sync(trader)
    status = gl.status(trader)
    [alert] = status["alerts"]
    assert alert["tier"] == "F1" and alert["why"]["from_another_province"] is True
    # the phone says where the warning came from only as "another province", in both languages
    assert "một tỉnh, thành phố khác" in alert["message"] and "48" not in alert["message"]
    with DeviceStore(trader) as store:
        [stored] = store.alerts()
    assert stored.messages["en"].endswith("The case reported in another province.")
