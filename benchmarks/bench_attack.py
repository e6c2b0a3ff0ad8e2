"""Normal device traffic while the server is under attack, on loopback.

A real ``bluezone serve`` process (its own process, as deployed, SQLite file,
venue tracing configured) answers a fixed amount of ordinary device traffic
(health check, conditional feed index, padded decoy upload: what every phone
does on every sync) in each phase, while attackers do one of:

* **venue-junk**: unauthenticated venue-trace uploads carrying a real venue's
  pre-traces (the expensive pairing work) with made-up one-time tokens;
* **decl-flood**: declarations posted as fast as the attackers can;
* **slow-clients**: hundreds of connections that send half a request and
  stall, holding sockets;
* **all**: the three at once.

Attackers and citizens all connect from 127.0.0.1, so the server is run as it
would be behind its TLS proxy: ``trusted_proxies`` names loopback and every
client (citizen or attacker) gets its own ``X-Forwarded-For`` address from
the documentation range 203.0.113.0/24 (only header text: no traffic leaves
the machine). The figures to read are the normal traffic's p99 in each phase
against the quiet baseline measured in the same run, and what the attackers
got (status counts, declarations stored).

Bounded: every phase has a fixed number of normal requests and a time cap.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import os
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import nacl.public

from bluezone.transport import pad_body

NORMAL_REQUESTS = 900
NORMAL_CONCURRENCY = 6
PHASE_CAP_SECONDS = 25
VENUE_ATTACKERS = 4
FLOOD_ATTACKERS = 8
SLOW_CLIENTS = 400

CONFIG = """
[deployment]
name = "Attack bench"
region = "452"

[authority]
url = "http://127.0.0.1:1"

[server]
database = "server.db"
export_dir = "exports"
secrets_file = "server.secrets"
trusted_proxies = ["127.0.0.1/32"]

[qr_checkin]
authority_public_key = "{public}"
authority_secret_key_file = "ha.key"
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def client_address(i: int) -> str:
    return f"203.0.113.{i % 250 + 1}"


async def start_server(folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    """``bluezone serve`` with its output in a file (a pipe nobody reads would
    fill up and stall the server)."""
    bluezone = str(Path(sys.executable).with_name("bluezone"))
    log = folder / "serve.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            bluezone, "serve", "--config", str(folder / "deploy.toml"), "--port", "0", cwd=folder,
            stdout=out, stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for _ in range(600):
        m = re.search(r"http://[\d.]+:\d+", log.read_text(errors="replace"))
        if m:
            return proc, m.group(0)
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"bluezone serve did not start: {log.read_text(errors='replace')}")


#: base64 PreTraceUpload of a real venue, made once per run (the pairing work is in checking it)
_PRETRACES = ""


def make_pretraces(public_key: bytes) -> str:
    from bluezone_qr_checkin import tracing, venue

    created = venue.create_venue(venue.VenueSpec("Chợ Pleiku", "Pleiku, Gia Lai"), public_key)
    code = venue.load_tracing_code(created.tracing_code)
    now = int(time.time())
    upload = tracing.owner_pretraces(code, now - 3 * 3600, now)
    return base64.b64encode(upload.SerializeToString()).decode()


async def normal_traffic(url: str) -> tuple[list[float], int]:
    """Every phone's routine: health, conditional index, padded decoy."""
    latencies: list[float] = []
    errors = 0
    etag = ""
    counter = iter(range(NORMAL_REQUESTS))
    deadline = time.monotonic() + PHASE_CAP_SECONDS
    timeout = aiohttp.ClientTimeout(total=30)

    async def worker(w: int) -> None:
        nonlocal errors, etag
        async with aiohttp.ClientSession(timeout=timeout) as s:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                headers = {"X-Forwarded-For": client_address(100 + i)}
                kind = i % 3
                t = time.perf_counter()
                try:
                    if kind == 0:
                        async with s.get(f"{url}/v1/health", headers=headers) as r:
                            await r.read()
                            ok = r.status == 200
                    elif kind == 1:
                        async with s.get(f"{url}/v1/feeds/keys/index.txt",
                                         headers={**headers, "If-None-Match": etag}) as r:
                            await r.read()
                            etag = r.headers.get("ETag", etag)
                            ok = r.status in (200, 304)
                    else:
                        async with s.post(f"{url}/v1/decoy", data=pad_body({"decoy": True}),
                                          headers={**headers, "Content-Type": "application/json"}) as r:
                            await r.read()
                            ok = r.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                latencies.append(time.perf_counter() - t)
                errors += not ok

    await asyncio.gather(*(worker(w) for w in range(NORMAL_CONCURRENCY)))
    return latencies, errors


async def venue_junk(url: str, stop: asyncio.Event, seen: collections.Counter) -> None:
    async def one(a: int) -> None:
        async with aiohttp.ClientSession() as s:
            while not stop.is_set():
                body = {"token": secrets.token_urlsafe(24), "preTraces": _PRETRACES}
                try:
                    async with s.post(f"{url}/v1/venue-traces/upload", data=pad_body(body),
                                      headers={"Content-Type": "application/json",
                                               "X-Forwarded-For": client_address(a)}) as r:
                        await r.read()
                        seen[f"venue {r.status}"] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    seen["venue network-error"] += 1

    await asyncio.gather(*(one(a) for a in range(VENUE_ATTACKERS)))


async def declaration_flood(url: str, stop: asyncio.Event, seen: collections.Counter) -> None:
    body = pad_body({"sealed": base64.b64encode(os.urandom(4144)).decode(), "form": "ncovi"})

    async def one(a: int) -> None:
        async with aiohttp.ClientSession() as s:
            while not stop.is_set():
                try:
                    async with s.post(f"{url}/v1/declarations", data=body,
                                      headers={"Content-Type": "application/json",
                                               "X-Forwarded-For": client_address(20 + a)}) as r:
                        await r.read()
                        seen[f"declaration {r.status}"] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    seen["declaration network-error"] += 1

    await asyncio.gather(*(one(a) for a in range(FLOOD_ATTACKERS)))


async def slow_clients(url: str, stop: asyncio.Event, seen: collections.Counter) -> None:
    host, port = url.removeprefix("http://").split(":")
    writers = []
    for _ in range(SLOW_CLIENTS):
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            seen["slow refused"] += 1
            continue
        writer.write(b"POST /v1/declarations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 8192\r\n\r\n{\"sealed\": \"")
        writers.append((reader, writer))
    seen["slow opened"] += len(writers)
    await stop.wait()
    closed = 0
    for reader, writer in writers:
        if reader.at_eof() or writer.is_closing():
            closed += 1
        else:
            try:
                data = await asyncio.wait_for(reader.read(1), 0.01)
                closed += data == b"" or data.startswith(b"H")
            except asyncio.TimeoutError:
                pass
        writer.close()
    seen["slow answered or closed by server"] += closed


ATTACKS = {
    "venue-junk": [venue_junk],
    "decl-flood": [declaration_flood],
    "slow-clients": [slow_clients],
    "all": [venue_junk, declaration_flood, slow_clients],
}


def stored_declarations(folder: Path) -> int:
    with sqlite3.connect(folder / "server.db") as db:
        return db.execute("SELECT COUNT(*) FROM declarations").fetchone()[0]


async def bench() -> None:
    global _PRETRACES
    folder = Path(tempfile.mkdtemp(prefix="bz-attack-"))
    ha = nacl.public.PrivateKey.generate()
    (folder / "ha.key").write_text(base64.b64encode(bytes(ha)).decode())
    public = base64.b64encode(bytes(ha.public_key)).decode()
    (folder / "deploy.toml").write_text(CONFIG.format(public=public))
    _PRETRACES = make_pretraces(bytes(ha.public_key))
    proc, url = await start_server(folder)
    try:
        print(f"server: real 'bluezone serve' process; normal traffic {NORMAL_REQUESTS} requests × "
              f"{NORMAL_CONCURRENCY} clients per phase (health / conditional index / 8 KiB decoy)")
        print(f"attackers: venue-junk {VENUE_ATTACKERS}, decl-flood {FLOOD_ATTACKERS}, "
              f"slow-clients {SLOW_CLIENTS} half-open connections\n")
        await normal_traffic(url)  # warm-up, not reported
        base_lat, base_err = await normal_traffic(url)
        base_p99 = pct(base_lat, .99)
        print(f"{'phase':14s} {'normal req':>10s} {'p50 ms':>8s} {'p99 ms':>8s} {'p99 ×quiet':>10s} {'errors':>6s}  attackers got")
        print(f"{'quiet':14s} {len(base_lat):10d} {pct(base_lat, .5):8.1f} {base_p99:8.1f} {1.0:10.2f} {base_err:6d}")
        for name, attackers in ATTACKS.items():
            before = stored_declarations(folder)
            stop = asyncio.Event()
            seen: collections.Counter = collections.Counter()
            tasks = [asyncio.create_task(a(url, stop, seen)) for a in attackers]
            await asyncio.sleep(1.0)  # let the attack ramp up
            lat, err = await normal_traffic(url)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
            stored = stored_declarations(folder) - before
            got = ", ".join(f"{k}: {v}" for k, v in sorted(seen.items()))
            if "decl" in name or name == "all":
                got += f", declarations stored: {stored}"
            print(f"{name:14s} {len(lat):10d} {pct(lat, .5):8.1f} {pct(lat, .99):8.1f} "
                  f"{pct(lat, .99) / base_p99:10.2f} {err:6d}  {got}")
    finally:
        proc.terminate()
        await proc.wait()


def main() -> None:
    asyncio.run(bench())


if __name__ == "__main__":
    main()
