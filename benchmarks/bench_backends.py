"""Uploads/s and downloads/s of a real ``bluezone serve`` on each backend.

Three configurations, one after the other in the same run, each a real
server process on loopback started like the tests start theirs
(``province_server``; PostgreSQL from Debian's package through
``pg_testing.start_cluster``, Unix socket, run as ``postgres``):

* SQLite, 1 worker (the baseline of the ratios);
* PostgreSQL, 1 worker;
* PostgreSQL, 2 workers (``[server] workers = 2``, one port, shared limits
  in the database).

Per configuration: UPLOADS complete device flows (verify, certificate,
publish of 14 keys), CONCURRENCY at a time; one export through the staff
API; DOWNLOADS index + batch fetches. Prints rates and the ratio to SQLite
1 worker. Per-client limits are lifted: all load comes from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import tempfile
import time
from pathlib import Path

import aiohttp

from bluezone.config import load_config
from bluezone.transport import pad_body
from bluezone.verification import keys_hmac
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.process import province_server
from bluezone_authority.server.testing import past_keys

UPLOADS = 200
DOWNLOADS = 300
CONCURRENCY = 16
LIFTED = ("answer_floor_ms = 0\nmin_batch_keys = 0\nverify_per_client_per_minute = 1000000\n"
          "verify_failures_per_minute = 1000000\nuploads_per_client_per_minute = 1000000\n"
          "decoys_per_client_per_minute = 1000000\n")


async def _phase(n: int, job) -> float:
    queue = iter(range(n))

    async def runner() -> None:
        for i in queue:
            await job(i)

    t = time.perf_counter()
    await asyncio.gather(*[runner() for _ in range(CONCURRENCY)])
    return time.perf_counter() - t


async def _load(url: str, codes: list[str], admin: str) -> tuple[float, float]:
    hdr = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        async def post(path: str, body: dict, headers: dict | None = None) -> dict:
            async with s.post(f"{url}{path}", data=pad_body(body), headers={**hdr, **(headers or {})}) as r:
                data = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"{path}: {r.status} {data}")
                return data

        async def upload(i: int) -> None:
            keys = past_keys(14, now=int(time.time()))
            token = (await post("/v1/verify", {"code": codes[i]}))["token"]
            secret = secrets.token_bytes(32)
            cert = (await post("/v1/certificate", {"token": token, "ekeyhmac": base64.b64encode(
                keys_hmac(secret, keys)).decode()}))["certificate"]
            await post("/v1/publish", {"temporaryExposureKeys": [
                {"key": base64.b64encode(k.key_data).decode(), "rollingStartNumber": k.rolling_start_interval_number,
                 "rollingPeriod": 144, "transmissionRisk": 0} for k in keys],
                "verificationPayload": cert, "hmacKey": base64.b64encode(secret).decode()})

        up = await _phase(UPLOADS, upload)
        async with s.post(f"{url}/v1/authority/exports", headers={"Authorization": f"Bearer {admin}"}) as r:
            name = (await r.json())["batch"]
            assert r.status == 200 and name, "the export made no batch"

        async def download(i: int) -> None:
            async with s.get(f"{url}/v1/feeds/keys/index.txt") as r:
                assert name in await r.text()
            async with s.get(f"{url}/v1/feeds/keys/{name}") as r:
                assert r.status == 200 and await r.read()

        down = await _phase(DOWNLOADS, download)
    return UPLOADS / up, DOWNLOADS / down


def _run(label: str, database: str, workers: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="bz-bench-backends-"))
    proc = province_server(folder, database=database, server_extra=f"workers = {workers}\n{LIFTED}")
    server = AuthorityServer.from_config(load_config(folder / "server.toml"))  # migrates before the workers
    codes = [server.issue_code({"tier": "F0", "kind": "long"})["code"] for _ in range(UPLOADS)]
    _, admin = server.create_staff_token("bench", "admin")
    server.close()
    with proc:
        return asyncio.run(_load(proc.url, codes, admin))


def main() -> None:
    from bluezone_authority.server import pg_testing

    cluster = pg_testing.start_cluster()
    try:
        rows = [("SQLite, 1 worker", "server.db", 1),
                ("PostgreSQL, 1 worker", cluster.new_database("bench"), 1),
                ("PostgreSQL, 2 workers", cluster.new_database("bench"), 2)]
        results = [(label, *_run(label, db, n)) for label, db, n in rows]
    finally:
        cluster.stop()
    base_up, base_down = results[0][1], results[0][2]
    print(f"backends ({UPLOADS} uploads of 14 keys, {DOWNLOADS} index+batch downloads, {CONCURRENCY} concurrent):")
    for label, up, down in results:
        print(f"  {label:24s} {up:8.1f} uploads/s ({up / base_up:4.2f}x)   {down:8.1f} downloads/s "
              f"({down / base_down:4.2f}x)")


if __name__ == "__main__":
    main()
