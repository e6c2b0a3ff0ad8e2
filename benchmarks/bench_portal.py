"""The health-authority portal under load, against a real server on 127.0.0.1.

Figures (each with a baseline measured in the same run):

1. Argon2id hash and verify time vs one SHA-256 of the same password —
   the slowness is the point: it is what a stolen database costs an attacker
   per guess.
2. GET /v1/health (no database, the baseline), the dashboard over a
   database filled with 14 days of activity (20 000 keys, 2 000 codes,
   300 batches, 500 declarations) and the code-issuing form (POST with CSRF):
   requests/s and p50/p99, each as a ratio of the baseline; issuing through
   the portal vs through the staff JSON API (same server method).
3. Logins/s, and the health check's p99 while 16 logins run at once vs idle:
   Argon2 runs in worker threads, so devices are not stalled by staff logging in.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bluezone_authority.portal import passwords
from bluezone_authority.portal.testing import PASSWORD, PortalClient, start

CONCURRENCY = 8


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


async def load(n: int, make) -> tuple[float, list[float], int]:
    """Run ``n`` requests, CONCURRENCY at a time; (requests/s, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        nonlocal errors
        async with sem:
            t = time.perf_counter()
            ok = await make(i)
            latencies.append(time.perf_counter() - t)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - started), latencies, errors


def fill(db, now: int) -> None:
    """14 days of activity, written straight into the tables the dashboard counts."""
    day = 86400
    with db.transaction() as c:
        c.executemany("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at) VALUES (?,?,?,?,?,?,?,?)",
                      [(secrets.token_bytes(16), 0, 144, 2, 1, 0, now - (i % 14) * day, now) for i in range(20_000)])
        c.executemany("INSERT INTO codes (id, code_hash, kind, report_type, created_at, expires_at, state, used_at)"
                      " VALUES (?,?,?,?,?,?,?,?)",
                      [(secrets.token_hex(12), secrets.token_bytes(32), "short", 1 if i % 5 else 4,
                        now - (i % 14) * day, now - (i % 14) * day + 900, "used" if i % 3 else "issued",
                        now - (i % 14) * day) for i in range(2_000)])
        c.executemany("INSERT INTO batches (feed, seq, name, start_ts, end_ts, created_at, real_items, data, sha256)"
                      " VALUES (?,?,?,?,?,?,?,?,?)",
                      [("keys", i, f"{i}-{i}-{i}.zip", now, now, now - (i % 14) * day, 10, b"x", "0")
                       for i in range(300)])
        c.executemany("INSERT INTO declarations (id, sealed, received_hour, form) VALUES (?,?,?,?)",
                      [(secrets.token_hex(12), secrets.token_bytes(600), now - (i % 14) * day, "ncovi")
                       for i in range(500)])


async def run() -> None:
    # 1. the password hash
    t = time.perf_counter()
    digest = passwords.hash_password(PASSWORD)
    hash_ms = (time.perf_counter() - t) * 1000
    verify_ms = statistics.median(_timed(lambda: passwords.verify(digest, PASSWORD)) for _ in range(7)) * 1000
    sha_ms = statistics.median(_timed(lambda: hashlib.sha256(PASSWORD.encode()).digest()) for _ in range(1000)) * 1000
    print(f"argon2id: hash {hash_ms:.0f} ms, verify {verify_ms:.0f} ms "
          f"(= {1000 / verify_ms:.0f} guesses/s per attacker core at these parameters); "
          f"sha-256 {sha_ms * 1000:.1f} µs → argon2id is {verify_ms / sha_ms:,.0f}× slower per guess")

    with tempfile.TemporaryDirectory() as tmp:
        # one account per concurrent login: a single account may have only
        # two password checks in flight (authority/bluezone_authority/portal/attempts.py)
        r = await start(Path(tmp), users=(("admin", "admin"), *((f"staff{i:02d}", "declarations") for i in range(16))),
                        extra="\n[portal]\nlogin_per_client_per_minute = 1000000\n")
        fill(r.server.db, r.server.now())
        _, token = r.server.create_staff_token("bench", "admin")
        async with aiohttp.ClientSession() as s, r.client() as c:
            await c.login()
            csrf = (await c.get("/portal/codes")).csrf()

            async def health(i: int) -> bool:
                async with s.get(r.url + "/v1/health") as resp:
                    await resp.read()
                    return resp.status == 200

            async def dashboard(i: int) -> bool:
                async with c.session.get(r.url + "/portal/") as resp:
                    await resp.read()
                    return resp.status == 200

            async def portal_code(i: int) -> bool:
                async with c.session.post(r.url + "/portal/codes", data={"tier": "F0", "csrf": csrf}) as resp:
                    await resp.read()
                    return resp.status == 200

            async def api_code(i: int) -> bool:
                async with s.post(r.url + "/v1/authority/codes", json={"tier": "F0"},
                                  headers={"Authorization": f"Bearer {token}"}) as resp:
                    await resp.read()
                    return resp.status == 201

            base, base_lat, e0 = await load(600, health)
            print(f"baseline GET /v1/health: {base:.0f} req/s, p50 {pct(base_lat, .5):.1f} ms, "
                  f"p99 {pct(base_lat, .99):.1f} ms, errors {e0}")
            for name, fn, n in [("dashboard (14 days, 20k keys, 2k codes)", dashboard, 300),
                                ("portal: issue a code (form POST)", portal_code, 300),
                                ("staff API: issue a code (JSON)", api_code, 300)]:
                rate, lat, errors = await load(n, fn)
                print(f"{name}: {rate:.0f} req/s ({rate / base:.2f}× baseline), p50 {pct(lat, .5):.1f} ms, "
                      f"p99 {pct(lat, .99):.1f} ms, errors {errors}")

            # 3. logins, and the device API while they run
            async def login(i: int) -> bool:
                async with PortalClient(r.url) as fresh:
                    return (await fresh.login(f"staff{i:02d}")).status == 200

            started = time.perf_counter()
            logins = asyncio.ensure_future(load(16, login))
            busy_lat: list[float] = []
            while not logins.done():
                t = time.perf_counter()
                await health(0)
                busy_lat.append(time.perf_counter() - t)
                await asyncio.sleep(0.005)
            login_rate, login_lat, login_err = logins.result()
            print(f"logins: {login_rate:.1f}/s with {CONCURRENCY} at a time, p50 {pct(login_lat, .5):.0f} ms, "
                  f"errors {login_err} ({time.perf_counter() - started:.1f} s for 16)")
            print(f"health check during those logins: p50 {pct(busy_lat, .5):.1f} ms, p99 {pct(busy_lat, .99):.1f} ms "
                  f"vs idle p99 {pct(base_lat, .99):.1f} ms ({len(busy_lat)} probes)")
        await r.http.close()


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
