"""The front in deploy/: Debian's nginx, started here on loopback with the
repository's own configuration (rendered by deploy/nginx/render.py), in front
of a real ``bluezone serve``; and the systemd units, checked by
``systemd-analyze verify``.

* an upload goes through nginx to the server, an export is downloaded through
  nginx, and a phone syncs through it;
* batches are served as immutable, the index with an ETag that answers 304;
* a body over the server's own limit is refused by nginx itself (the worker
  never sees it), with the server's JSON error code;
* nothing nginx writes (access log, error logs) holds a client address,
  and the access log's times stop at the hour.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bluezone.matching.fixtures import record_meeting
from bluezone.store import DeviceStore
from bluezone_authority.server.app import declaration_body_limit
from bluezone_authority.server.process import ServerProcess, free_port, write_province

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not path:
        pytest.fail(f"{name} is not installed: run 'make test-deps' (as root) to install it", pytrace=False)
    return path


def _deploy_module(name: str):
    """deploy/nginx/NAME.py (deploy/ is not a package: it is copied to hosts as files)."""
    spec = importlib.util.spec_from_file_location(f"bluezone_deploy_{name}", DEPLOY / "nginx" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _render_module():
    return _deploy_module("render")


def Nginx(folder: Path, conf: str, port: int):
    local = _deploy_module("local")
    try:
        local.nginx_binary()
    except local.NginxMissing as e:
        pytest.fail(str(e), pytrace=False)
    return local.LocalNginx(folder, conf, port)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120)


def get(url: str, headers: dict[str, str] | None = None, data: bytes | None = None):
    """(status, headers, body) without raising on 4xx."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def logged(nginx, text: str) -> list[str]:
    """Access-log lines containing ``text``; nginx writes a line once the
    answer has gone out, so the client may read the answer first: wait for it."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in nginx.logs().get("access.log", "").splitlines() if text in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_the_rendered_default_config_is_the_committed_one():
    render = _render_module()
    assert (DEPLOY / "nginx" / "bluezone.conf").read_text() == render.render(render.Front())


def test_nginx_serves_exports_proxies_the_api_and_logs_no_address(tmp_path):
    render = _render_module()
    province, front = tmp_path / "province", tmp_path / "front"
    province.mkdir()
    front.mkdir()
    server_port, nginx_port = free_port(), free_port()
    url = f"http://127.0.0.1:{nginx_port}"  # what phones are told: the front
    write_province(province, url, server_port, server_extra='trusted_proxies = ["127.0.0.1/32"]')
    conf = render.render(render.from_server_config(
        province / "server.toml", listen=f"127.0.0.1:{nginx_port}",
        access_log=str(front / "access.log"), error_log=str(front / "error.log")))
    assert "client_max_body_size 65536;" in conf  # the server's own default limit

    with ServerProcess(province / "server.toml", f"http://127.0.0.1:{server_port}", province / "server.log"), \
            Nginx(front, conf, nginx_port) as nginx:
        # an upload through the front: a phone reports with a code
        cfg = str(province / "province.toml")
        phone, contact = str(tmp_path / "phone.db"), str(tmp_path / "contact.db")
        for p in (phone, contact):
            assert cli("init", "--config", cfg, "--store", p, "--language", "en", "--consent", "all").returncode == 0
        with DeviceStore(phone) as a, DeviceStore(contact) as b:  # they met two days ago
            record_meeting(a, b, 40, int(time.time()) // 86400 * 86400 - 2 * 86400 + 10 * 3600)
        out = cli("authority", "issue-code", "--config", str(province / "server.toml"), "--long", "--json")
        assert out.returncode == 0, out.stderr
        out = cli("report", "--config", cfg, "--store", phone, "--code", json.loads(out.stdout)["code"])
        assert out.returncode == 0, out.stdout + out.stderr
        assert logged(nginx, "POST /v1/publish\" 200")
        assert cli("authority", "export", "--config", str(province / "server.toml")).returncode == 0

        # the index: short-lived, ETag, 304 on revalidation
        status, headers, body = get(f"{url}/v1/feeds/keys/index.txt")
        assert status == 200
        assert "max-age=60" in headers["Cache-Control"] and "immutable" not in headers["Cache-Control"]
        etag = headers["ETag"]
        assert etag
        status, headers, body304 = get(f"{url}/v1/feeds/keys/index.txt", {"If-None-Match": etag})
        assert (status, body304) == (304, b"")
        names = body.decode().split()
        assert names
        # compressed for a client that asks (the phone's aiohttp does), and still revalidated
        status, headers, packed = get(f"{url}/v1/feeds/keys/index.txt", {"Accept-Encoding": "gzip"})
        assert (status, headers["Content-Encoding"]) == (200, "gzip") and gzip.decompress(packed) == body
        assert get(f"{url}/v1/feeds/keys/index.txt", {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})[0] == 304

        # a batch: immutable, the exporter's bytes
        status, headers, data = get(f"{url}/v1/feeds/keys/{names[-1]}")
        assert status == 200
        assert "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
        assert headers["Content-Type"] == "application/zip"
        assert data == (province / "exports" / "keys" / names[-1]).read_bytes()
        assert get(f"{url}/v1/feeds/keys/1-2-3.zip")[0] == 404
        assert get(f"{url}/v1/feeds/keys/../../server.toml")[0] in (400, 404)

        # the contact syncs through the front and is warned
        out = cli("sync", "--config", cfg, "--store", contact, "--no-decoy")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "1 new warning." in out.stdout

        # over the limit: nginx answers 413 itself, with the server's error code
        status, headers, body = get(f"{url}/v1/publish", {"Content-Type": "application/json"}, b"x" * 65537)
        assert status == 413
        refusal = json.loads(body)["error"]
        assert refusal["code"] == "too_large" and refusal["messages"]["vi"] == "nội dung vượt quá 65536 byte"
        refused = logged(nginx, "/v1/publish\" 413")
        assert refused and all("up=-" in line for line in refused)  # no worker was asked
        # at the limit it still reaches the server (which refuses the bad JSON itself)
        status, _, body = get(f"{url}/v1/publish", {"Content-Type": "application/json"}, b"x" * 65536)
        assert status == 400, body
        # a declaration has the server's own larger limit (a sealed 48 KiB form, base64, padded)
        cap = render.declaration_body(49152, 65536)
        assert cap == declaration_body_limit(49152, 65536) and cap > 65536
        status, _, body = get(f"{url}/v1/declarations", {"Content-Type": "application/json"}, b"x" * cap)
        assert status == 400, body  # reached the server, which refuses the bad JSON
        status, _, body = get(f"{url}/v1/declarations", {"Content-Type": "application/json"}, b"x" * (cap + 1))
        assert status == 413 and json.loads(body)["error"]["code"] == "too_large"

    logs = nginx.logs()
    assert logs["access.log"].count("\n") >= 8
    # times to the hour, as the server keeps an upload's time: no minutes or seconds
    assert re.search(r"\[\d{4}-\d\d-\d\dT\d\d\] \"POST /v1/publish\" 200", logs["access.log"])
    assert not re.search(r"\d\d:\d\d", logs["access.log"])
    for name, text in logs.items():
        assert "127.0.0.1" not in text, (name, text)


def _units(tmp_path: Path) -> list[Path]:
    """The unit files with ExecStart pointing at this venv's console script
    (verify checks that the program exists)."""
    out = []
    for unit in sorted((DEPLOY / "systemd").glob("bluezone-*.*")):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/bluezone/bin/bluezone", BLUEZONE))
        out.append(copy)
    return out


def test_systemd_units_verify_cleanly(tmp_path):
    units = _units(tmp_path)
    assert {u.name for u in units} == {"bluezone-server.service", "bluezone-export.service", "bluezone-export.timer"}
    result = subprocess.run([_tool("systemd-analyze"), "verify", *map(str, units)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("name", ["bluezone-server.service", "bluezone-export.service"])
def test_services_are_hardened_and_write_only_their_folders(name):
    lines = {tuple(line.split("=", 1)) for line in (DEPLOY / "systemd" / name).read_text().splitlines() if "=" in line
             and not line.startswith("#")}
    for setting in [("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("User", "bluezone"),
                    ("ReadWritePaths", "/var/lib/bluezone /var/lib/bluezone-exports"), ("ProtectHome", "yes"),
                    ("PrivateTmp", "yes"), ("CapabilityBoundingSet", "")]:
        assert setting in lines, setting
