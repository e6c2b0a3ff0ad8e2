"""Downloads through the front (deploy/nginx): the same export served by
nginx from the export folder and by one ``bluezone serve`` worker itself,
measured in the same run on loopback.

A real ``bluezone serve`` process and Debian's nginx on the rendered
``bluezone.conf`` (both as ``authority/tests/test_deploy_nginx.py`` starts
them); the export is made from real uploads (codes, certificates, publish)
with the server's default padding. Prints downloads/s (index + batch file)
and conditional index requests/s (304) with the CPU each costs the server
and nginx, and their ratio (docs/scale.md turns it into machines per
download peak).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bluezone.config import load_config
from bluezone.verification import keys_hmac
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.process import ServerProcess, free_port, write_province
from bluezone_authority.server.testing import past_keys

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "nginx"
UPLOADS = 40
DOWNLOADS = 2000
CONDITIONAL = 4000
CONCURRENCY = 32


def _deploy(name: str):
    spec = importlib.util.spec_from_file_location(f"bluezone_deploy_{name}", DEPLOY / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def populate(server_toml: Path) -> dict:
    """UPLOADS real uploads of 14 keys each, then one export."""
    server = AuthorityServer.from_config(load_config(server_toml))
    try:
        for _ in range(UPLOADS):
            code = server.issue_code({"tier": "F0", "kind": "long"})["code"]
            token = server.verify({"code": code})["token"]
            keys = past_keys(14, now=int(time.time()))
            secret = secrets.token_bytes(32)
            cert = server.certificate({"token": token, "ekeyhmac": base64.b64encode(keys_hmac(secret, keys)).decode()})
            server.publish({"temporaryExposureKeys": [
                {"key": base64.b64encode(k.key_data).decode(), "rollingStartNumber": k.rolling_start_interval_number,
                 "rollingPeriod": 144, "transmissionRisk": 0} for k in keys],
                "verificationPayload": cert["certificate"], "hmacKey": base64.b64encode(secret).decode()})
        return server.export_now()
    finally:
        server.close()


async def rate(base: str, name: str, n: int, conditional: str | None = None) -> tuple[float, int]:
    """Requests/s of n downloads (index + file), or of n conditional index requests."""
    errors = 0
    sem = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        async def one(_: int) -> None:
            nonlocal errors
            async with sem:
                if conditional:
                    async with s.get(f"{base}/v1/feeds/keys/index.txt", headers={"If-None-Match": conditional}) as r:
                        errors += r.status != 304
                    return
                async with s.get(f"{base}/v1/feeds/keys/index.txt") as r:
                    errors += name not in await r.text()
                async with s.get(f"{base}/v1/feeds/keys/{name}") as r:
                    errors += r.status != 200 or not await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started), errors


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc.

    Why CPU and not only requests/s: on this 2-core machine the Python load
    generator saturates before either server does, so requests/s compares
    the client; CPU seconds per request is the server's own cost, and
    1 / (CPU per request) is what one core can serve."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def index_sizes(base: str, folder: Path) -> tuple[int, int, int]:
    """(names, plain bytes, gzip bytes on the wire) of a full 14-day index of
    hourly batches, served by nginx: what a phone fetches after each batch."""
    now = int(time.time()) // 3600 * 3600
    names = [f"{1000 + i}-{now - (336 - i) * 3600}-{now - (335 - i) * 3600}.zip" for i in range(336)]
    (folder / "sizing").mkdir(parents=True, exist_ok=True)
    (folder / "sizing" / "index.txt").write_text("".join(f"{n}\n" for n in names))
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.get(f"{base}/v1/feeds/sizing/index.txt", headers={"Accept-Encoding": "identity"}) as r:
            plain = len(await r.read())
        async with s.get(f"{base}/v1/feeds/sizing/index.txt", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers.get("Content-Encoding") == "gzip"
            packed = len(await r.read())
    return len(names), plain, packed


async def etag_of(base: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"{base}/v1/feeds/keys/index.txt") as r:
        return r.headers["ETag"]


def main() -> None:
    render, local = _deploy("render"), _deploy("local")
    try:
        local.nginx_binary()
    except local.NginxMissing as e:  # said loudly, and the other benchmarks still run
        print(f"bench_front NOT RUN: {e}")
        return
    with tempfile.TemporaryDirectory(prefix="bz-front-") as tmp:
        folder = Path(tmp)
        server_port, nginx_port = free_port(), free_port()
        write_province(folder, f"http://127.0.0.1:{nginx_port}", server_port,
                       server_extra='embargo_hours = 0\ntrusted_proxies = ["127.0.0.1/32"]')
        out = populate(folder / "server.toml")
        name = out["batch"]
        print(f"export: {out['realKeys']} real keys, padded file {out['bytes']:,} bytes")
        conf = render.render(render.from_server_config(
            folder / "server.toml", listen=f"127.0.0.1:{nginx_port}",
            access_log=str(folder / "front" / "access.log"), error_log=str(folder / "front" / "error.log")))
        server_url, front_url = f"http://127.0.0.1:{server_port}", f"http://127.0.0.1:{nginx_port}"
        with ServerProcess(folder / "server.toml", server_url, folder / "server.log") as srv, \
                local.LocalNginx(folder / "front", conf, nginx_port) as front:
            results = {}
            for label, base, pid in (("server (1 worker)", server_url, srv.proc.pid),
                                     ("nginx (1 worker process)", front_url, front.proc.pid)):
                cpu0 = cpu_seconds(pid)
                down, e1 = asyncio.run(rate(base, name, DOWNLOADS))
                cpu1 = cpu_seconds(pid)
                cond, e2 = asyncio.run(rate(base, name, CONDITIONAL, asyncio.run(etag_of(base))))
                cpu2 = cpu_seconds(pid)
                per_down, per_cond = (cpu1 - cpu0) / DOWNLOADS, (cpu2 - cpu1) / CONDITIONAL
                results[label] = (per_down, per_cond)
                print(f"  {label:26s} {down:7,.0f} downloads/s, {per_down * 1e6:6.0f} µs CPU each "
                      f"(≈ {1 / max(per_down, 1e-9):8,.0f}/s per core);  {cond:7,.0f} conditional index/s (304), "
                      f"{per_cond * 1e6:5.0f} µs CPU each;  errors {e1 + e2}")
            n, plain, packed = asyncio.run(index_sizes(front_url, folder / "exports"))
            print(f"index of {n} names (14 days of hourly batches) through nginx: {plain:,} B plain, "
                  f"{packed:,} B gzip ({plain / packed:.1f}x smaller)")
            (sd, sc), (nd, nc) = results.values()
            print(f"CPU per request, server / nginx: downloads {sd / max(nd, 1e-9):.1f}x, conditional index "
                  f"{sc / max(nc, 1e-9):.1f}x   (a download = index + {out['bytes']:,} B batch; {CONCURRENCY} "
                  f"concurrent clients on loopback; requests/s are bounded by the Python client on 2 cores)")


if __name__ == "__main__":
    main()
