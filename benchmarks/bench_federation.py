"""Federation throughput: 100,000 keys from Đà Nẵng through the gateway into Gia Lai.

Real parts on loopback: the gateway's aiohttp app behind mutual TLS (X.509
from a fresh operator CA) with its SQLite file, and two province servers'
databases (WAL, synchronous=FULL). Stages, each timed:

1. baseline: the same keys encoded, signed, verified, decoded and inserted
   into a second database in one process (no gateway, no network): what the
   cryptography and SQLite alone cost;
2. upload: Đà Nẵng fills its outbox (batches of 5,000, signed) and uploads
   every batch (the gateway verifies and stores each);
3. import: Gia Lai downloads every batch of the day, verifies, imports;
4. export: Gia Lai's "other province" export file of the imported keys.

Prints keys/s per stage and end to end, and each as a ratio of the baseline.
The whole run is made twice: the gateway on a SQLite file, then the gateway
on PostgreSQL (a throwaway cluster, Unix socket); the provinces stay on SQLite
in both, so the last rows compare the gateway's two backends.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path

from aiohttp import web

from bluezone.models import ExposureKey, ReportType
from bluezone_authority.gateway import certs, encoding, outbox
from bluezone_authority.gateway.app import Gateway, create_app
from bluezone_authority.gateway.federation import run_round
from bluezone_authority.gateway.province import FederationSettings
from bluezone_authority.gateway.settings import GatewaySettings
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.keys import public_pem
from bluezone_authority.server.process import free_port
from bluezone_authority.server.testing import NOW, Clock, settings_for

KEYS = 100_000
DN, GL = "48", "64"


def add_keys(server: AuthorityServer, n: int) -> None:
    day = NOW // 86400 * 144 - 3 * 144
    with server.db.transaction() as c:
        c.executemany("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at, share_beyond) VALUES (?,?,?,?,?,?,?,?,1)",
                      [(secrets.token_bytes(16), day - (i % 10) * 144, 144, 4, 1, i % 10 - 3, NOW - 7200, NOW - 3600)
                       for i in range(n)])


def baseline(server: AuthorityServer, tmp: Path) -> float:
    rows = server.db.all("SELECT key_data, rolling_start, rolling_period, transmission_risk, report_type, dsos"
                         " FROM exposure_keys")
    public = server.keys.export_key.public_key()
    target = sqlite3.connect(tmp / "baseline.db", isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=FULL")
    target.execute("CREATE TABLE k (key_data BLOB PRIMARY KEY, s INT, p INT, r INT, t INT, d INT)")
    started = time.perf_counter()
    for i in range(0, len(rows), outbox.BATCH_KEYS):
        part = [encoding.FederatedKey(ExposureKey(r[0], r[1], r[2], r[3], ReportType(r[4]), r[5]))
                for r in rows[i:i + outbox.BATCH_KEYS]]
        data = encoding.encode(DN, part)
        sig = encoding.sign(data, server.keys.export_key)
        assert encoding.verify(data, sig, public)
        batch = encoding.decode(data)
        target.execute("BEGIN")
        target.executemany("INSERT INTO k VALUES (?,?,?,?,?,?)",
                           [(f.key.key_data, f.key.rolling_start_interval_number, f.key.rolling_period,
                             f.key.transmission_risk_level, int(f.key.report_type),
                             f.key.days_since_onset_of_symptoms) for f in batch.keys])
        target.execute("COMMIT")
    target.close()
    return time.perf_counter() - started


async def run(tmp: Path, gateway_database: str | Path) -> dict[str, float]:
    """One run with the gateway on ``gateway_database``; the stages' seconds."""
    tmp.mkdir(parents=True, exist_ok=True)
    certs.init_ca(tmp / "ca")
    certs.issue(tmp / "ca", "gateway", tmp / "gateway", server_hosts=["127.0.0.1"])
    clock = Clock(NOW)
    gw = Gateway(GatewaySettings(database=gateway_database, ca=tmp / "ca" / "ca.pem", cert=tmp / "gateway.pem",
                                 key=tmp / "gateway.key"), clock=clock)
    servers = {}
    for code in (DN, GL):
        certs.issue(tmp / "ca", code, tmp / code)
        servers[code] = AuthorityServer(settings_for(tmp / f"p{code}", min_batch_keys=0), clock=clock)
        (tmp / f"{code}.sign.pem").write_text(public_pem(servers[code].keys.export_key))
        gw.store.add_province(code, public_pem(servers[code].keys.export_key), NOW)
    port = free_port()
    runner = web.AppRunner(create_app(gw, background=False), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port,
                      ssl_context=certs.server_context(tmp / "ca" / "ca.pem", tmp / "gateway.pem",
                                                       tmp / "gateway.key")).start()

    def fed(origin: str, other: str) -> FederationSettings:
        return FederationSettings(gateway_url=f"https://127.0.0.1:{port}", origin=origin,
                                  client_cert=tmp / f"{origin}.pem", client_key=tmp / f"{origin}.key",
                                  ca=tmp / "ca" / "ca.pem", import_from=(other,),
                                  signing_keys=({"origin": other, "public_key": str(tmp / f"{other}.sign.pem")},))
    try:
        add_keys(servers[DN], KEYS)
        base = baseline(servers[DN], tmp)
        t0 = time.perf_counter()
        up = await run_round(servers[DN], fed(DN, GL))
        t1 = time.perf_counter()
        down = await run_round(servers[GL], fed(GL, DN))
        t2 = time.perf_counter()
        exported = servers[GL].export_now()
        t3 = time.perf_counter()
        imported = sum(r.new_keys for r in down.imported)
        assert up.error is None and down.error is None and imported == KEYS, (up.error, down.error, imported)
        assert exported["otherProvinceBatch"]["realKeys"] == KEYS
        print(f"keys: {KEYS:,} in {len(up.sent)} batches of at most {outbox.BATCH_KEYS:,}")
        stages = [("baseline (encode+sign+verify+decode+insert, no gateway)", base),
                  ("upload (outbox + mTLS upload, gateway verifies and stores)", t1 - t0),
                  ("import (mTLS download, verify, insert)", t2 - t1),
                  ("export of the imported keys (signed GAEN file)", t3 - t2),
                  ("end to end: upload -> gateway -> import", t2 - t0)]
        for name, secs in stages:
            print(f"{name:62s} {secs:7.2f} s  {KEYS / secs:10,.0f} keys/s  x{secs / base:5.2f} of baseline")
        return {"upload": t1 - t0, "import": t2 - t1, "end to end": t2 - t0}
    finally:
        await runner.cleanup()
        gw.close()
        for s in servers.values():
            s.close()


def store_cost(location: str | Path, other: str | Path, tmp: Path) -> tuple[float, float]:
    """The gateway's database alone, 100,000 keys in batches of 5,000: seconds
    to store the batch rows only (what it stored before it refused duplicate
    keys) into ``other``, and the batch rows with their key digests (the
    duplicate check) into ``location``, both through GatewayStore's database."""
    from bluezone_authority.gateway.store import _COLUMNS, GatewayStore, StoredBatch

    day = NOW // 86400 * 144 - 3 * 144
    batches = []
    for i in range(KEYS // outbox.BATCH_KEYS):
        keys = sorted(secrets.token_bytes(16) for _ in range(outbox.BATCH_KEYS))
        data = encoding.encode(DN, [encoding.FederatedKey(ExposureKey(k, day, 144, 4, ReportType(1), 1)) for k in keys])
        batches.append((StoredBatch(f"t{i}", "2026-05-28", DN, DN, NOW, len(keys), data, b"sig", "x"), keys))
    plain, checked = GatewayStore(other), GatewayStore(location)
    try:
        started = time.perf_counter()
        for b, _ in batches:
            with plain.db.transaction() as c:
                c.execute(f"INSERT INTO batches ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                          (b.tag, b.date, b.origin, b.uploader, b.uploaded_at, b.key_count, b.data, b.signature,
                           b.sha256))
        rows_only = time.perf_counter() - started
        started = time.perf_counter()
        for b, keys in batches:
            assert checked.insert(b, keys)
        with_digests = time.perf_counter() - started
    finally:
        plain.close()
        checked.close()
    return rows_only, with_digests


def main() -> None:
    from bluezone_authority.server import pg_testing

    with tempfile.TemporaryDirectory() as d:
        print("-- gateway on SQLite")
        lite = asyncio.run(run(Path(d) / "sqlite", Path(d) / "sqlite" / "gateway.db"))
    cluster = pg_testing.start_cluster()
    try:
        with tempfile.TemporaryDirectory() as d:
            print("-- gateway on PostgreSQL")
            pg = asyncio.run(run(Path(d) / "pg", cluster.new_database("gw")))
    finally:
        cluster.stop()
    with tempfile.TemporaryDirectory() as d:
        cluster = pg_testing.start_cluster()
        try:
            store = {"SQLite": store_cost(Path(d) / "a.db", Path(d) / "b.db", Path(d)),
                     "PostgreSQL": store_cost(cluster.new_database("a"), cluster.new_database("b"), Path(d))}
        finally:
            cluster.stop()
    print("-- the gateway's store alone: batch rows, then batch rows and one digest per key (the duplicate check)")
    for name, (rows_only, with_digests) in store.items():
        print(f"{name:10s} rows only {KEYS / rows_only:10,.0f} keys/s   with digests {KEYS / with_digests:10,.0f} keys/s"
              f"   x{with_digests / rows_only:5.2f} the time of rows only")
    print("-- the gateway's backends (provinces on SQLite in both)")
    for stage in lite:
        print(f"{stage:12s} SQLite {KEYS / lite[stage]:9,.0f} keys/s   PostgreSQL {KEYS / pg[stage]:9,.0f} keys/s"
              f"   PostgreSQL/SQLite time x{pg[stage] / lite[stage]:4.2f}")


if __name__ == "__main__":
    main()
