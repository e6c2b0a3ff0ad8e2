"""Answer times of real and decoy device requests (cover traffic timing).

A real server on 127.0.0.1 answers, one after another, ``FLOWS`` real
reports (verify → certificate → publish of 14 keys) and ``FLOWS`` decoy
reports (the same three requests with ``X-Chaff: 1``), interleaved, as a
phone's http transport sends them. Printed per step: the median and 90th
percentile answer time of real and decoy requests, and their ratio — first
with the shipped ``answer_floor_ms`` (50 ms), then with no floor, where only
the timing equaliser (a decoy waits as long as a recent real request, drawn at random)
holds them together. A ratio near 1.00 is the goal; before cover traffic was
equalised, decoys were answered in a fraction of a real step's time.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bluezone.transports import HttpTransport
from bluezone.upload import upload_with_code
from bluezone_authority.server import AuthorityServer, create_app
from bluezone_authority.server.testing import past_keys, settings_for

FLOWS = 40
STEPS = ("/v1/verify", "/v1/certificate", "/v1/publish")


class StepTimer:
    """Answer time of every request, by (path, real or decoy), from aiohttp's trace hooks."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, bool], list[float]] = {}

    def trace(self) -> aiohttp.TraceConfig:
        tc = aiohttp.TraceConfig()

        async def start(session, ctx, params):
            ctx.t = time.perf_counter()
            ctx.key = (params.url.path, params.headers.get("X-Chaff") == "1")

        async def end(session, ctx, params):
            self.times.setdefault(ctx.key, []).append(time.perf_counter() - ctx.t)

        tc.on_request_start.append(start)
        tc.on_request_end.append(end)
        return tc


def ms(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


async def run(floor_ms: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bz-bench-cover-"))
    server = AuthorityServer(settings_for(tmp, answer_floor_ms=floor_ms, verify_per_client_per_minute=10**6,
                                          verify_failures_per_minute=10**6, uploads_per_client_per_minute=10**6,
                                          decoys_per_client_per_minute=10**6))
    codes = [server.issue_code({"tier": "F0", "kind": "long"})["code"] for _ in range(FLOWS)]
    runner = web.AppRunner(create_app(server, background=False), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    timer = StepTimer()
    try:
        async with aiohttp.ClientSession(trace_configs=[timer.trace()]) as s:
            t = HttpTransport(f"http://{host}:{port}", retries=0, session=s)
            for i, code in enumerate(codes):  # alternate which goes first
                if i % 2:
                    await t.send_decoy("report")
                await upload_with_code(t, code, past_keys(14, now=int(time.time())))
                if not i % 2:
                    await t.send_decoy("report")
    finally:
        await runner.cleanup()
        server.close()
    print(f"answer_floor_ms = {floor_ms:g}: {FLOWS} real and {FLOWS} decoy reports, sequential")
    for path in STEPS:
        real, fake = timer.times[(path, False)], timer.times[(path, True)]
        print(f"  {path:16s} real p50 {ms(real, .5):6.2f} ms p90 {ms(real, .9):6.2f} ms   "
              f"decoy p50 {ms(fake, .5):6.2f} ms p90 {ms(fake, .9):6.2f} ms   "
              f"decoy/real median {statistics.median(fake) / statistics.median(real):.2f}")


def main() -> None:
    asyncio.run(run(50))
    asyncio.run(run(0))


if __name__ == "__main__":
    main()
