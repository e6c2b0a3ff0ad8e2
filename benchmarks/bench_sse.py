"""Announcements and several workers, measured on real ``bluezone serve`` processes.

1. **SSE fan-out**: ``bluezone serve --workers 2`` on SQLite (the default
   ``events_poll_seconds = 1``), then on PostgreSQL (where a NOTIFY wakes
   each worker's announcer at once), 2,000 listeners on ``/v1/feeds/keys/events``
   held by this one process (aiohttp, one connection each); a batch is
   exported through the staff API; printed: time from the export request to
   the first, median and last listener receiving the event. The poll period
   bounds how late a worker that did not build the batch can be. Also
   printed: each worker's resident memory (``VmRSS``) before the listeners
   connect and with all of them connected, and the difference per
   connection (what one more phone on ``sync --watch`` costs a worker).
2. **1 vs 2 workers**: the device upload flow (verify → certificate →
   publish of 14 keys) and downloads (index + file) against ``--workers 1``
   and ``--workers 2`` on one SQLite file, 16 concurrent clients; printed:
   uploads/s and downloads/s of each and the ratio 2 / 1.

The load generator is one Python process on the same machine: on a 2-core
machine it competes with the workers for the cores, so the 2-worker ratio
is a floor, not the server's ceiling.
"""

from __future__ import annotations

import asyncio
import base64
import os
import resource
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_server import CONCURRENCY, report, run_phase

from bluezone.config import load_config
from bluezone.transport import pad_body
from bluezone.verification import keys_hmac
from bluezone_authority.server import AuthorityServer, pg_testing
from bluezone_authority.server.database import open_database
from bluezone_authority.server.process import province_server
from bluezone_authority.server.testing import past_keys

LISTENERS = 2000
UPLOADS = 200
DOWNLOADS = 400
UNLIMITED = ("answer_floor_ms = 0\nmin_batch_keys = 0\nverify_per_client_per_minute = 1000000\n"
             "verify_failures_per_minute = 1000000\nuploads_per_client_per_minute = 1000000\n"
             "decoys_per_client_per_minute = 1000000\n")

#: a day inside the retention window (the server purges older keys at start)
YESTERDAY = (int(time.time()) // 86400 - 1) * 144


def _raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def _admin_and_codes(folder: Path, codes: int) -> tuple[str, list[str]]:
    server = AuthorityServer.from_config(load_config(folder / "server.toml"))
    _, token = server.create_staff_token("bench", "admin")
    issued = [server.issue_code({"tier": "F0", "kind": "long"})["code"] for _ in range(codes)]
    server.close()
    return token, issued


def _add_keys(folder: Path, n: int, database: str = "server.db") -> None:
    db = open_database(database if database.startswith("postgresql://") else folder / "server.db")
    with db.transaction() as c:
        for _ in range(n):
            c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                      (os.urandom(16), YESTERDAY))
    db.close()


def _workers_rss(parent: int) -> dict[int, int]:
    """Resident memory (bytes) of each worker process of the server ``parent``."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    out = {}
    for pid in map(int, children):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out[pid] = int(line.split()[1]) * 1024
    return out


async def _fan_out(url: str, token: str, folder: Path, parent: int, database: str) -> float:
    arrived: list[float] = []
    connected = 0
    all_connected = asyncio.Event()

    async def listener(s: aiohttp.ClientSession) -> None:
        nonlocal connected
        async with s.get(f"{url}/v1/feeds/keys/events") as r:
            assert r.status == 200, r.status
            connected += 1
            if connected == LISTENERS:
                all_connected.set()
            while True:
                line = await r.content.readline()
                if not line:
                    raise RuntimeError("stream ended")
                if line.startswith(b"data: "):
                    arrived.append(time.perf_counter())
                    return

    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    before = _workers_rss(parent)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
        tasks = [asyncio.create_task(listener(s)) for _ in range(LISTENERS)]
        opened = time.perf_counter()
        await asyncio.wait_for(all_connected.wait(), 120)
        print(f"{LISTENERS} listeners connected in {time.perf_counter() - opened:.1f} s")
        await asyncio.sleep(2)  # every stream has written its first lines
        after = _workers_rss(parent)
        for pid in sorted(before):
            print(f"worker {pid}: {before[pid] / 2**20:.1f} MiB resident before, {after[pid] / 2**20:.1f} MiB"
                  f" with the listeners")
        grown = sum(after.values()) - sum(before.values())
        print(f"memory per SSE connection: {grown / LISTENERS / 1024:.1f} KiB"
              f" ({grown / 2**20:.1f} MiB over {LISTENERS} connections on {len(before)} workers)")
        _add_keys(folder, 50, database)
        t0 = time.perf_counter()
        async with s.post(f"{url}/v1/authority/exports", headers={"Authorization": f"Bearer {token}"}) as r:
            batch = (await r.json())["batch"]
        exported = time.perf_counter() - t0
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    delays = sorted(t - t0 for t in arrived)
    print(f"export request answered in {exported * 1000:.0f} ms ({batch})")
    print(f"export → first listener {delays[0] * 1000:7.0f} ms, median {statistics.median(delays) * 1000:7.0f} ms, "
          f"last of {len(delays)} {delays[-1] * 1000:7.0f} ms (poll period 1000 ms)")
    return delays[-1]


async def _throughput(url: str, codes: list[str]) -> tuple[float, float]:
    hdr = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        async def post(path, body, lat):
            t = time.perf_counter()
            async with s.post(f"{url}{path}", data=pad_body(body), headers=hdr) as resp:
                data = await resp.json()
            lat.append(time.perf_counter() - t)
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status} {data}")
            return data

        async def upload(i, lat):
            keys = past_keys(14, now=int(time.time()))
            tok = (await post("/v1/verify", {"code": codes[i]}, lat))["token"]
            secret = secrets.token_bytes(32)
            mac = base64.b64encode(keys_hmac(secret, keys)).decode()
            cert = (await post("/v1/certificate", {"token": tok, "ekeyhmac": mac}, lat))["certificate"]
            await post("/v1/publish", {"temporaryExposureKeys": [
                {"key": base64.b64encode(k.key_data).decode(), "rollingStartNumber": k.rolling_start_interval_number,
                 "rollingPeriod": 144, "transmissionRisk": 0} for k in keys],
                "verificationPayload": cert, "hmacKey": base64.b64encode(secret).decode()}, lat)

        el, lat, err = await run_phase(UPLOADS, upload)
        report(f"  uploads ({UPLOADS} flows × 3 req)", el, lat, err)
        uploads = UPLOADS / el
        async with s.get(f"{url}/v1/feeds/keys/index.txt") as r:
            name = (await r.text()).split()[-1]

        async def download(i, lat):
            t = time.perf_counter()
            async with s.get(f"{url}/v1/feeds/keys/index.txt") as r:
                await r.read()
            async with s.get(f"{url}/v1/feeds/keys/{name}") as r:
                await r.read()
                assert r.status == 200
            lat.append(time.perf_counter() - t)

        el, lat, err = await run_phase(DOWNLOADS, download)
        report(f"  downloads ({DOWNLOADS} × index+file)", el, lat, err)
        if err:
            raise SystemExit("bench_sse: errors during the load test")
        return uploads, DOWNLOADS / el


def _workers_run(workers: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"bz-bench-w{workers}-"))
    proc = province_server(folder, server_extra=f"workers = {workers}\n" + UNLIMITED)
    token, codes = _admin_and_codes(folder, UPLOADS)
    _add_keys(folder, 2000)
    with proc:
        import json
        import urllib.request

        req = urllib.request.Request(f"{proc.url}/v1/authority/exports", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            json.load(r)
        print(f"--workers {workers}:")
        return asyncio.run(_throughput(proc.url, codes))


def main() -> None:
    _raise_fd_limit(2 * LISTENERS + 500)  # the servers inherit it too
    cluster = pg_testing.start_cluster()
    last = {}
    try:
        for label, database in (("SQLite", "server.db"), ("PostgreSQL", cluster.new_database("sse"))):
            folder = Path(tempfile.mkdtemp(prefix="bz-bench-sse-"))
            proc = province_server(folder, database=database,
                                   server_extra="workers = 2\n" + UNLIMITED + "events_max_clients = 5000\n")
            token, _ = _admin_and_codes(folder, 0)
            print(f"{label}, 2 workers:")
            with proc:
                last[label] = asyncio.run(_fan_out(proc.url, token, folder, proc.proc.pid, database))
    finally:
        cluster.stop()
    print(f"export → last listener, PostgreSQL (NOTIFY wakes the announcer) / SQLite (data_version poll):"
          f" {last['PostgreSQL'] / last['SQLite']:.2f}×")
    one = _workers_run(1)
    two = _workers_run(2)
    print(f"2 workers / 1 worker: uploads {two[0] / one[0]:.2f}×  ({one[0]:.1f} → {two[0]:.1f} uploads/s), "
          f"downloads {two[1] / one[1]:.2f}×  ({one[1]:.0f} → {two[1]:.0f} downloads/s)")


if __name__ == "__main__":
    main()
