"""Venue-trace uploads as an attack on the server (issue 17 item 4).

A real ``bluezone serve`` process on 127.0.0.1 with the check-in plugin's
routes. One client measures ``GET /v1/health`` latency (p50/p99), first
alone, then while N attacker clients post venue-trace uploads with genuine
pre-traces but junk one-time tokens as fast as they can. Before the fix the
server did the pairing work for each of them on its event loop (four such
clients took health from 1 ms to 605 ms median); now the token is checked
first and junk costs a JSON parse and one index lookup.

A last phase sends *authorised* uploads (real tokens, real pairings) and
compares where the pairing work runs: the worker process pool
(``trace_executor = "process"``, the default) against a thread of the
server process (``"thread"``: pymcl holds the GIL, so this shows what a
thread pool would have bought).

The attackers run in the same client process as the health probe, so on a
small machine part of the slowdown under attack is the probe's own loop
being busy; the figure is an upper bound for the server's share.

The per-client rate limit is raised for the run (attackers on 127.0.0.x
would otherwise be answered 429 after 10 tries, which is the point in
production but hides the cost of the token check here). Prints figures and
ratios only; bounded to well under a minute.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import nacl.public

from bluezone.config import load_config
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.process import ServerProcess, free_port
from bluezone_qr_checkin import tracing
from bluezone_qr_checkin import venue as vmod
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb

ATTACKERS = 4
PHASE_SECONDS = 4.0
AUTHORISED_UPLOADS = 6
HOURS = 20  # ~16 KB bodies
HEAVY_HOURS = 40  # ~30 KB bodies, ~0.35 s of pairings each on a 2-core machine


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def write_config(folder: Path, port: int, ha: nacl.public.PrivateKey, executor: str) -> Path:
    (folder / "ha.key").write_text(base64.b64encode(bytes(ha)).decode())
    cfg = folder / "server.toml"
    cfg.write_text(f"""
[deployment]
name = "bench"
region = "452"

[authority]
url = "http://127.0.0.1:{port}"

[server]
port = {port}
database = "server.db"
export_dir = "exports"
secrets_file = "secrets.json"

[qr_checkin]
authority_public_key = "{base64.b64encode(bytes(ha.public_key)).decode()}"
authority_secret_key_file = "ha.key"
trace_uploads_per_client_per_minute = 10000
trace_workers = 1
trace_queue = {AUTHORISED_UPLOADS}
trace_executor = "{executor}"
""")
    return cfg


async def health_latencies(url: str, seconds: float) -> list[float]:
    out: list[float] = []
    async with aiohttp.ClientSession() as s:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            async with s.get(f"{url}/v1/health") as r:
                await r.read()
            out.append(time.perf_counter() - t)
    return out


async def attacker(url: str, body: dict, stop: asyncio.Event, statuses: Counter, n: int) -> None:
    connector = aiohttp.TCPConnector(local_addr=(f"127.0.0.{2 + n}", 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        while not stop.is_set():
            async with s.post(f"{url}/v1/venue-traces/upload", json=body) as r:
                await r.read()
                statuses[r.status] += 1


async def with_load(url: str, load) -> tuple[list[float], float]:
    stop = asyncio.Event()
    started = time.perf_counter()
    tasks = load(stop)
    await asyncio.sleep(0.2)  # let the load start
    lat = await health_latencies(url, PHASE_SECONDS)
    stop.set()
    await asyncio.gather(*tasks)
    return lat, time.perf_counter() - started


def line(name: str, lat: list[float], base: list[float] | None = None) -> None:
    ratio = ""
    if base:
        ratio = f"  (p50 {pct(lat, .5) / pct(base, .5):.1f}×, p99 {pct(lat, .99) / pct(base, .99):.1f}× baseline)"
    mean = sum(lat) / len(lat) * 1000 if lat else float("nan")
    print(f"{name:44s} {len(lat):6d} req  p50 {pct(lat, .5):6.2f} ms  p99 {pct(lat, .99):6.2f} ms  "
          f"mean {mean:5.2f} ms{ratio}")


async def run_server(folder: Path, executor: str, ha, code: pb.QRCodeTrace, *, junk: bool) -> None:
    port = free_port()
    cfg = write_config(folder, port, ha, executor)
    server = AuthorityServer.from_config(load_config(str(cfg)))
    _, staff = server.create_staff_token("bench", "venue-tracer")
    server.close()
    url = f"http://127.0.0.1:{port}"
    now = int(time.time())
    pre = base64.b64encode(tracing.owner_pretraces(code, now - HOURS * 3600, now).SerializeToString()).decode()
    with ServerProcess(cfg, url, folder / "server.log"):
        base = await health_latencies(url, PHASE_SECONDS / 2)
        if junk:
            line("health, alone", base)
            statuses: Counter = Counter()
            junk_body = {"token": "bzo_" + "A" * 43, "preTraces": pre}
            lat, elapsed = await with_load(url, lambda stop: [asyncio.create_task(
                attacker(url, junk_body, stop, statuses, i)) for i in range(ATTACKERS)])
            line(f"health, {ATTACKERS} clients posting junk tokens", lat, base)
            print(f"{'':44s} junk uploads answered: {sum(statuses.values()) / elapsed:.0f}/s {dict(statuses)}")
            return
        tokens = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {staff}"}) as s:
            for _ in range(AUTHORISED_UPLOADS + 1):
                async with s.post(f"{url}/v1/authority/venue-traces/tokens", json={}) as r:
                    tokens.append((await r.json())["token"])
        statuses: Counter = Counter()
        heavy = base64.b64encode(tracing.owner_pretraces(code, now - HEAVY_HOURS * 3600, now)
                                 .SerializeToString()).decode()

        async def upload(token: str) -> None:
            async with aiohttp.ClientSession() as s:
                async with s.post(f"{url}/v1/venue-traces/upload", json={"token": token, "preTraces": heavy}) as r:
                    await r.read()
                    statuses[r.status] += 1

        await upload(tokens.pop())  # warm-up: the worker process is started, not measured
        started = time.perf_counter()
        uploads = asyncio.gather(*(upload(t) for t in tokens))
        lat: list[float] = []
        async with aiohttp.ClientSession() as s:
            while not uploads.done():  # health is measured exactly while the pairing work runs
                t = time.perf_counter()
                async with s.get(f"{url}/v1/health") as r:
                    await r.read()
                lat.append(time.perf_counter() - t)
        await uploads
        line(f"health, {AUTHORISED_UPLOADS} authorised uploads ({executor})", lat, base)
        print(f"{'':44s} uploads {dict(statuses)} in {time.perf_counter() - started:.1f} s")


async def bench() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bz-venue-bench-"))
    ha = nacl.public.PrivateKey.generate()
    created = vmod.create_venue(vmod.VenueSpec("Quán bench", "Pleiku"), bytes(ha.public_key),
                                now=int(time.time()) - 86_400)
    code = pb.QRCodeTrace()
    code.ParseFromString(created.tracing_code)
    print(f"{ATTACKERS} attacker clients, {HOURS}-hour genuine pre-traces ({HOURS + 1} hours of pairings each "
          f"if the server did them), {PHASE_SECONDS:.0f} s per phase")
    for i, (executor, junk) in enumerate((("process", True), ("process", False), ("thread", False))):
        folder = tmp / f"run{i}"
        folder.mkdir()
        await run_server(folder, executor, ha, code, junk=junk)


def main() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    main()
