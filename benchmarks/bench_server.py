"""Bounded loopback load test of the authority server.

A real server on 127.0.0.1 (aiohttp, SQLite file, WAL, synchronous=FULL).
Phases, each with a fixed amount of work so the run stays short:

1. baseline: GET /v1/health (no database) — what the HTTP stack alone does;
2. uploads: full device flows (verify → certificate → publish of 14 keys,
   three padded 8 KiB requests each), N concurrent;
3. export: one batch of every uploaded key (signed, padded);
4. downloads: index + export file, N concurrent clients, then conditional
   index requests answered 304.

Prints requests/s, p50/p99 latency per request and the error count (must be 0),
and each phase's throughput as a ratio of the baseline.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bluezone_authority.server.testing import past_keys, settings_for
from bluezone_authority.server import AuthorityServer, create_app
from bluezone.transport import pad_body
from bluezone.verification import keys_hmac

UPLOADS = 300
DOWNLOADS = 300
CONCURRENCY = 16


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


async def timed(latencies: list[float], coro):
    t = time.perf_counter()
    out = await coro
    latencies.append(time.perf_counter() - t)
    return out


async def run_phase(n: int, job) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        nonlocal errors
        async with sem:
            try:
                await job(i, latencies)
            except Exception as e:  # counted, printed once
                if errors == 0:
                    print("  first error:", repr(e))
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started, latencies, errors


def report(name: str, elapsed: float, lat: list[float], errors: int, baseline: float | None = None) -> float:
    rps = len(lat) / elapsed
    ratio = f"  ({rps / baseline:.2f}× baseline)" if baseline else ""
    print(f"{name:28s} {len(lat):5d} req  {rps:8.0f} req/s  p50 {pct(lat, .5):6.1f} ms  "
          f"p99 {pct(lat, .99):6.1f} ms  errors {errors}{ratio}")
    return rps


async def bench() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bz-bench-"))
    # all load comes from one loopback address: lift the per-client limits
    server = AuthorityServer(settings_for(tmp, verify_per_client_per_minute=10**6, verify_failures_per_minute=10**6,
                                          uploads_per_client_per_minute=10**6, declarations_per_client_per_minute=10**6,
                                          decoys_per_client_per_minute=10**6))
    codes = [server.issue_code({"tier": "F0", "kind": "long"})["code"] for _ in range(UPLOADS)]
    from aiohttp import web
    runner = web.AppRunner(create_app(server, background=False), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    hdr = {"Content-Type": "application/json"}
    total_errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        async def post(path, body, lat):
            async with await timed(lat, s.post(f"{url}{path}", data=pad_body(body), headers=hdr)) as resp:
                data = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"{path}: {resp.status} {data}")
                return data

        async def health(i, lat):
            async with await timed(lat, s.get(f"{url}/v1/health")) as resp:
                await resp.read()
                assert resp.status == 200

        el, lat, err = await run_phase(1000, health)
        baseline = report("baseline GET /v1/health", el, lat, err)
        total_errors += err

        async def upload(i, lat):
            keys = past_keys(14, now=int(time.time()))
            tok = (await post("/v1/verify", {"code": codes[i]}, lat))["token"]
            secret = secrets.token_bytes(32)
            cert = (await post("/v1/certificate", {"token": tok, "ekeyhmac": base64.b64encode(keys_hmac(secret, keys)).decode()}, lat))["certificate"]
            body = {"temporaryExposureKeys": [{"key": base64.b64encode(k.key_data).decode(), "rollingStartNumber":
                    k.rolling_start_interval_number, "rollingPeriod": 144, "transmissionRisk": 0} for k in keys],
                    "verificationPayload": cert, "hmacKey": base64.b64encode(secret).decode()}
            await post("/v1/publish", body, lat)

        el, lat, err = await run_phase(UPLOADS, upload)
        report(f"uploads ({UPLOADS} flows × 3 req)", el, lat, err, baseline)
        print(f"{'':28s} {UPLOADS / el:8.1f} complete uploads/s")
        db = server.settings.database
        key_rows = server.db.one("SELECT COUNT(*) FROM exposure_keys")[0]
        server.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL folded in: the file's own size
        db_bytes = db.stat().st_size
        print(f"server database: {key_rows} key rows from {UPLOADS} uploads, {db_bytes} bytes "
              f"({db_bytes / key_rows:.0f} bytes per key, codes and indexes included)")
        total_errors += err

        t = time.perf_counter()
        out = server.export_now()
        print(f"export of {out['realKeys']} keys: {out['bytes']} bytes in {(time.perf_counter() - t) * 1000:.0f} ms")
        name = out["batch"]

        async def download(i, lat):
            async with await timed(lat, s.get(f"{url}/v1/feeds/keys/index.txt")) as resp:
                assert (await resp.text()).strip() == name
            async with await timed(lat, s.get(f"{url}/v1/feeds/keys/{name}")) as resp:
                assert len(await resp.read()) == out["bytes"]

        el, lat, err = await run_phase(DOWNLOADS, download)
        report(f"downloads ({DOWNLOADS} × index+file)", el, lat, err, baseline)
        total_errors += err
        async with s.get(f"{url}/v1/feeds/keys/index.txt") as resp:
            etag = resp.headers["ETag"]

        async def conditional(i, lat):
            async with await timed(lat, s.get(f"{url}/v1/feeds/keys/index.txt", headers={"If-None-Match": etag})) as resp:
                assert resp.status == 304

        el, lat, err = await run_phase(1000, conditional)
        report("conditional index (304)", el, lat, err, baseline)
        total_errors += err
    await runner.cleanup()
    print(f"total errors: {total_errors}")
    if total_errors:
        raise SystemExit("bench_server: errors during the load test")


def main() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    main()
