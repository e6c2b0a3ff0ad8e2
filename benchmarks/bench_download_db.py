"""The database work of one download (the index, then a batch), per backend.

Why: ``bench_backends`` found PostgreSQL downloads several times slower than
SQLite's. A download is two reads (``index_text``, ``batch_data``); this
bench times them in one process, without HTTP, so the database layer's own
cost shows:

* SQLite (the baseline of the ratios);
* PostgreSQL, each read in an explicit transaction (``BEGIN``, the
  statement, ``COMMIT``: three round trips; how ``one``/``all`` ran before);
* PostgreSQL, each read as one autocommit statement (one round trip; how
  ``one``/``all`` run now outside a transaction).

Printed: µs per download and the ratio to SQLite. What remains on
PostgreSQL is the round trip to the server process, which on a loaded
machine waits for that process to be scheduled.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bluezone_authority.server import AuthorityServer, pg_testing
from bluezone_authority.server.testing import settings_for

DOWNLOADS = 2000
#: a day inside the retention window (the server purges older keys at start)
YESTERDAY = (int(time.time()) // 86400 - 1) * 144


def _server(database: str | None) -> tuple[AuthorityServer, str]:
    folder = Path(tempfile.mkdtemp(prefix="bz-bench-dl-"))
    extra = {"database": database} if database else {}
    server = AuthorityServer(settings_for(folder, min_batch_keys=0, **extra))
    with server.db.transaction() as c:
        for _ in range(1000):
            c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                      (os.urandom(16), YESTERDAY))
    return server, server.export_now()["batch"]


def _as_before(server: AuthorityServer, name: str) -> None:
    """The two reads, each in an explicit transaction."""
    with server.db.transaction() as c:
        names = [r[0] for r in c.execute("SELECT name FROM batches WHERE feed = ? ORDER BY seq", ("keys",))]
    with server.db.transaction() as c:
        data = c.execute("SELECT data FROM batches WHERE feed = ? AND name = ?", ("keys", name)).fetchone()
    assert names and data


def _as_served(server: AuthorityServer, name: str) -> None:
    """The two reads as the download route makes them."""
    assert server.feed_index("keys")[0] and server.feed_file("keys", name)


def _per_download(work, server: AuthorityServer, name: str) -> float:
    for _ in range(100):  # warm: pool, prepared statements
        work(server, name)
    started = time.perf_counter()
    for _ in range(DOWNLOADS):
        work(server, name)
    return (time.perf_counter() - started) / DOWNLOADS * 1e6


def main() -> None:
    cluster = pg_testing.start_cluster()
    try:
        sqlite, name = _server(None)
        base = _per_download(_as_served, sqlite, name)
        sqlite.close()
        pg, pg_name = _server(cluster.new_database("dl"))
        before = _per_download(_as_before, pg, pg_name)
        now = _per_download(_as_served, pg, pg_name)
        pg.close()
    finally:
        cluster.stop()
    print(f"database work of one download (index + batch), {DOWNLOADS} in one process:")
    print(f"  SQLite                                   {base:7.0f} µs (1.00x)")
    print(f"  PostgreSQL, reads in transactions        {before:7.0f} µs ({before / base:.2f}x)")
    print(f"  PostgreSQL, reads as single statements   {now:7.0f} µs ({now / base:.2f}x; "
          f"{before / now:.2f}x faster than in transactions)")


if __name__ == "__main__":
    main()
