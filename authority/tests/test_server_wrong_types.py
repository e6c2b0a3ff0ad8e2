"""Wrong JSON types in any field of any device or staff body are a clean 4xx
(the issue: ``reportType`` as a list was a 500), and F1 codes handed out
while recursive reports were on stop at every step once they are off."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bluezone.config import load_config
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.process import ServerProcess, free_port
from bluezone_authority.server.testing import past_keys, start
from bluezone.verification import keys_hmac
from bluezone.transports.wire import publish_body

CONFIG = """
[deployment]
name = "Wrong types"
region = "452"

[authority]
url = "http://127.0.0.1:1"

[server]
port = {port}
database = "server.db"
export_dir = "exports"
secrets_file = "server.secrets"
recursive_reports = true
verify_per_client_per_minute = 1000000
verify_failures_per_minute = 1000000
uploads_per_client_per_minute = 1000000
declarations_per_client_per_minute = 1000000
"""

# a value of every JSON type; each field is fuzzed with the types it must refuse
ANY = {
    "null": st.none(),
    "bool": st.booleans(),
    "int": st.integers(min_value=-2**70, max_value=2**70),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "str": st.text(max_size=20),
    "list": st.lists(st.none() | st.integers() | st.text(max_size=5), max_size=3),
    "dict": st.dictionaries(st.text(max_size=5), st.none() | st.integers() | st.text(max_size=5), max_size=3),
}
STR, INT, LIST = {"str"}, {"int"}, {"list"}
OPTIONAL_STR = {"str", "null"}

# (path, field, types that may be valid). "keys.x" is a field of the first key of a publish.
FIELDS = [
    ("/v1/verify", "code", STR),
    ("/v1/certificate", "token", STR),
    ("/v1/certificate", "ekeyhmac", STR),
    ("/v1/publish", "temporaryExposureKeys", LIST),
    ("/v1/publish", "verificationPayload", STR),
    ("/v1/publish", "hmacKey", STR),
    ("/v1/publish", "keys.key", STR),
    ("/v1/publish", "keys.rollingStartNumber", INT),
    ("/v1/publish", "keys.rollingPeriod", INT),
    ("/v1/publish", "keys.transmissionRisk", INT),
    ("/v1/declarations", "sealed", STR),
    ("/v1/declarations", "form", STR),
    ("/v1/authority/codes", "tier", STR),
    ("/v1/authority/codes", "kind", STR),
    ("/v1/authority/codes", "reportType", STR),
    ("/v1/authority/codes", "symptomOnsetDate", OPTIONAL_STR),
    ("/v1/authority/codes", "testDate", OPTIONAL_STR),
]


def fingerprint(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return repr([(t, conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for t in tables])
    finally:
        conn.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """A real ``bluezone serve`` with a valid body for every endpoint, made beforehand."""
    folder = tmp_path_factory.mktemp("types")
    port = free_port()
    cfg = folder / "deploy.toml"
    cfg.write_text(CONFIG.format(port=port))
    server = AuthorityServer.from_config(load_config(cfg))
    _, staff = server.create_staff_token("fuzz", "admin")
    keys = past_keys(2, server.now())
    secret = secrets.token_bytes(32)
    token = server.verify({"code": server.issue_code({"tier": "F0"})["code"]})["token"]
    cert_token = server.verify({"code": server.issue_code({"tier": "F0"})["code"]})["token"]
    cert = server.certificate({"token": cert_token, "ekeyhmac": base64.b64encode(keys_hmac(secret, keys)).decode()})
    bodies = {
        "/v1/verify": {"code": server.issue_code({"tier": "F0"})["code"]},
        "/v1/certificate": {"token": token, "ekeyhmac": base64.b64encode(b"\0" * 32).decode()},
        "/v1/publish": publish_body(keys, cert["certificate"], secret),
        "/v1/declarations": {"sealed": base64.b64encode(secrets.token_bytes(80)).decode(), "form": "ncovi"},
        "/v1/authority/codes": {"tier": "F0", "kind": "short", "reportType": "confirmed",
                                "symptomOnsetDate": None, "testDate": None},
    }
    server.close()
    with ServerProcess(cfg, f"http://127.0.0.1:{port}", folder / "serve.log") as p:
        yield p.url, bodies, staff, folder / "server.db"
    assert "Traceback" not in (folder / "serve.log").read_text()


def send(url: str, path: str, body: object, staff: str) -> tuple[int, dict]:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {staff}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@st.composite
def mutation(draw):
    path, field, valid = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(sorted(set(ANY) - valid)))
    return path, field, kind, draw(ANY[kind])


def test_a_wrong_json_type_in_any_field_is_a_clean_refusal(serve):
    url, bodies, staff, db = serve
    before = fingerprint(db)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutation())
    def run(m):
        path, field, kind, value = m
        body = json.loads(json.dumps(bodies[path]))
        if field.startswith("keys."):
            body["temporaryExposureKeys"][0][field[5:]] = value
        else:
            body[field] = value
        status, data = send(url, path, body, staff)
        assert 400 <= status < 500, (path, field, value, status, data)
        err = data["error"]
        assert err["code"] and err["code"] != "internal" and err["message"] and err["message_vi"]
        assert fingerprint(db) == before, f"a refused {path} with {field}={value!r} changed the database"

    run()


async def test_report_type_as_a_list_is_400(tmp_path):
    r = await start(tmp_path)
    try:
        async with aiohttp.ClientSession() as s:
            for body, code in (({"reportType": ["confirmed"]}, "invalid_report_type"),
                               ({"reportType": {"a": 1}}, "invalid_report_type"),
                               ({"tier": ["F0"]}, "invalid_tier"), ({"kind": ["short"]}, "invalid_kind"),
                               ({"symptomOnsetDate": ["2026-05-27"]}, "invalid_date")):
                async with s.post(f"{r.url}/v1/authority/codes", json=body, headers=r.auth) as resp:
                    data = await resp.json()
                    assert resp.status == 400 and data["error"]["code"] == code, (body, data)
        assert r.server.db.counts()["codes"] == 0
    finally:
        await r.http.close()


async def post(r, path, body):
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{r.url}{path}", json=body) as resp:
            return resp.status, await resp.json()


async def test_f1_codes_stop_at_every_step_once_recursive_reports_are_switched_off(tmp_path):
    """Codes, tokens and certificates for F1 made while the setting was on are
    refused after a restart with it off, and nothing is spent or stored."""
    keys = past_keys(3)
    secret = secrets.token_bytes(32)
    mac = base64.b64encode(keys_hmac(secret, keys)).decode()
    r = await start(tmp_path, recursive_reports=True)
    try:
        unredeemed = r.server.issue_code({"tier": "F1"})["code"]
        token = r.server.verify({"code": r.server.issue_code({"tier": "F1"})["code"]})["token"]
        cert_token = r.server.verify({"code": r.server.issue_code({"tier": "F1"})["code"]})["token"]
        cert = r.server.certificate({"token": cert_token, "ekeyhmac": mac})["certificate"]
        f0 = r.server.issue_code({"tier": "F0"})["code"]
    finally:
        await r.http.close()

    r = await start(tmp_path, recursive_reports=False)  # same database and secrets, setting now off
    try:
        before = r.server.db.fingerprint()
        for path, body in (("/v1/verify", {"code": unredeemed}),
                           ("/v1/certificate", {"token": token, "ekeyhmac": mac}),
                           ("/v1/publish", publish_body(keys, cert, secret))):
            status, data = await post(r, path, body)
            assert status == 403 and data["error"]["code"] == "recursive_disabled", (path, data)
            assert data["error"]["message_vi"]
        assert r.server.db.fingerprint() == before and r.server.db.counts()["exposure_keys"] == 0
        # F0 codes are unaffected
        status, data = await post(r, "/v1/verify", {"code": f0})
        assert status == 200
    finally:
        await r.http.close()
