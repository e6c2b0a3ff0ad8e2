"""On PostgreSQL the announcer and the shared rate limits never wait on the
event loop, and the LISTEN connection comes back after it is cut.

Each test runs a real server application on loopback against a database of
the test's own PostgreSQL cluster (Debian's package, started by the tests).
A table another connection has locked makes a database call wait as long as
the test wants: the server must still answer other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import aiohttp
import psycopg
import pytest
from aiohttp.test_utils import TestServer

from bluezone_authority.server import AuthorityServer, create_app
from bluezone_authority.server.announce import ANNOUNCER, Announcer, PgNotifySource
from bluezone_authority.server.testing import settings_for
from bluezone_authority.server.workers import WorkerInfo

#: a day inside the retention window
YESTERDAY = (int(time.time()) // 86400 - 1) * 144

pytestmark = pytest.mark.skipif("postgresql" not in os.environ.get("BLUEZONE_TEST_DATABASE", "postgresql"),
                                reason="PostgreSQL tests not selected (BLUEZONE_TEST_DATABASE)")


def fresh_database(cluster) -> str:
    url = cluster.new_database("ev")
    # bounds every wait, so code that waited on the event loop fails here instead of hanging the test
    cluster.psql(f"ALTER DATABASE {url.split('/')[3].split('?')[0]} SET lock_timeout = '20s'")
    return url


def add_keys(server: AuthorityServer, n: int = 2) -> None:
    with server.db.transaction() as c:
        for _ in range(n):
            c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                      (os.urandom(16), YESTERDAY))


async def started(tmp_path, url: str, poll_seconds: float = 0.1) -> tuple[AuthorityServer, TestServer]:
    server = AuthorityServer(settings_for(tmp_path, database=url, answer_floor_ms=0, min_batch_keys=0,
                                          events_poll_seconds=poll_seconds))
    # one of two workers: the rate limits are counted in the database, as with `serve --workers 2`
    app = create_app(server, background=False, worker=WorkerInfo(1, 2, secrets.token_bytes(32)))
    http = TestServer(app, host="127.0.0.1")
    await http.start_server()
    return server, http


async def answered_while_waiting(http: TestServer, waiting: asyncio.Future, blocker: psycopg.Connection,
                                 commit: bool = False) -> None:
    """``waiting`` is held by ``blocker``'s table lock; ``/v1/health`` is still
    answered meanwhile (the loop is free); then the lock goes and it ends."""
    probe = psycopg.connect(http.app[ANNOUNCER].source.db.backend.target.location, autocommit=True)
    deadline = time.monotonic() + 30
    try:
        while probe.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0] == 0:
            assert not waiting.done(), waiting  # it must be waiting on the lock, not finished
            assert time.monotonic() < deadline, "nothing waits on the lock (a wait on the event loop timed out?)"
            await asyncio.sleep(0.05)
    finally:
        probe.close()
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{str(http.make_url('')).rstrip('/')}/v1/health") as r:
            assert r.status == 200
    assert not waiting.done()  # still waiting on the database, and yet the server answered
    if commit:
        blocker.commit()
    else:
        blocker.rollback()
    await asyncio.wait_for(waiting, 30)


async def test_a_rate_limit_count_waits_in_a_thread_not_on_the_event_loop(tmp_path, postgresql_cluster):
    url = fresh_database(postgresql_cluster)
    server, http = await started(tmp_path, url)
    try:
        with psycopg.connect(url) as blocker:
            blocker.execute("LOCK TABLE rate_windows IN ACCESS EXCLUSIVE MODE")

            async def decoy() -> int:
                async with aiohttp.ClientSession() as s:
                    async with s.post(f"{str(http.make_url('')).rstrip('/')}/v1/decoy", data=b"{}") as r:
                        return r.status

            waiting = asyncio.create_task(decoy())
            await answered_while_waiting(http, waiting, blocker)
        assert waiting.result() == 200
        assert server.db.one("SELECT sum(count) FROM rate_windows WHERE bucket = 'decoy'") == (1,)  # counted once
    finally:
        await http.close()


async def test_a_replay_of_batches_waits_in_a_thread_not_on_the_event_loop(tmp_path, postgresql_cluster):
    url = fresh_database(postgresql_cluster)
    server, http = await started(tmp_path, url)
    try:
        add_keys(server)
        name = server.export_now()["batch"]
        with psycopg.connect(url) as blocker:
            blocker.execute("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")

            async def replay() -> str:
                async with aiohttp.ClientSession() as s:
                    async with s.get(f"{str(http.make_url('')).rstrip('/')}/v1/feeds/keys/events",
                                     headers={"Last-Event-ID": "0"}) as r:
                        while not (line := (await r.content.readline()).decode()).startswith("data: "):
                            pass
                        return line[len("data: "):].strip()

            waiting = asyncio.create_task(replay())
            await answered_while_waiting(http, waiting, blocker)
        assert waiting.result() == name
    finally:
        await http.close()


async def test_the_announcers_poll_waits_in_a_thread_not_on_the_event_loop(tmp_path, postgresql_cluster):
    """A NOTIFY arrives while the batches table is locked: the poll that reads
    the new batch waits in a thread; when the lock goes the batch is announced."""
    url = fresh_database(postgresql_cluster)
    server, http = await started(tmp_path, url)
    announcer: Announcer = http.app[ANNOUNCER]
    try:
        while not announcer.source.listening:
            await asyncio.sleep(0.05)
        queue = announcer.listen("keys")
        with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as other:
            blocker.execute("LOCK TABLE batches IN ACCESS EXCLUSIVE MODE")
            blocker.execute("INSERT INTO batches (feed, seq, name, start_ts, end_ts, created_at, real_items, data,"
                            " sha256) VALUES ('keys', 1, '1-2-00001.zip', 1, 2, 0, 0, '', '')")
            other.execute("NOTIFY bluezone_batches")  # now, while the lock is held (the blocker's own comes at commit)
            waiting = asyncio.ensure_future(queue.get())
            await answered_while_waiting(http, waiting, blocker, commit=True)
        assert waiting.result() == (1, "1-2-00001.zip")
    finally:
        await http.close()


async def test_a_terminated_listen_connection_comes_back_and_the_next_batch_is_announced(tmp_path,
                                                                                         postgresql_cluster):
    url = fresh_database(postgresql_cluster)
    server, http = await started(tmp_path, url)
    announcer: Announcer = http.app[ANNOUNCER]
    source = announcer.source
    assert isinstance(source, PgNotifySource)
    try:
        async def until(condition, what: str) -> None:
            deadline = time.monotonic() + 30
            while not condition():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await asyncio.sleep(0.05)

        await until(lambda: source.listening, "the LISTEN connection")
        first = source.backend_pid
        queue = announcer.listen("keys")
        add_keys(server)
        one = await asyncio.to_thread(lambda: server.export_now()["batch"])
        assert await asyncio.wait_for(queue.get(), 30) == (1, one)

        killed = server.db.one("SELECT pg_terminate_backend(?)", (first,))
        assert killed == (True,)
        # a new LISTEN backend, not a fallback that asks the database at every poll for good
        await until(lambda: source.listening and source.backend_pid != first, "the LISTEN connection again")
        listeners = server.db.all("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN bluezone_batches'")
        assert [tuple(r) for r in listeners] == [(source.backend_pid,)]
        await asyncio.sleep(0.3)  # a few polls: with nothing committed, the source says "unchanged" again
        assert not source.changed()

        add_keys(server)
        two = await asyncio.to_thread(lambda: server.export_now()["batch"])
        assert await asyncio.wait_for(queue.get(), 30) == (2, two)
        assert queue.empty()  # each batch once
    finally:
        await http.close()


async def test_a_notify_wakes_the_announcer_before_its_poll_period(tmp_path, postgresql_cluster):
    """The poll period is a minute (the longest allowed); a batch is still
    announced well within the test's 30 s: the NOTIFY itself woke the announcer."""
    url = fresh_database(postgresql_cluster)
    server, http = await started(tmp_path, url, poll_seconds=60)
    announcer: Announcer = http.app[ANNOUNCER]
    try:
        while not announcer.source.listening:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the poll the connection's own signal woke has run
        queue = announcer.listen("keys")
        add_keys(server)
        name = await asyncio.to_thread(lambda: server.export_now()["batch"])
        assert await asyncio.wait_for(queue.get(), 30) == (1, name)
    finally:
        await http.close()


async def test_a_server_closed_while_listening_stops_its_listen_task(tmp_path, postgresql_cluster):
    """Closing the server cancels the LISTEN task while it waits for a
    notification; the close ends, and no LISTEN connection is left behind
    (psycopg may answer a cancellation with its own error, which the task
    must not take for a lost connection to listen on again). Twenty times,
    so the cancellation lands at different points of the task."""
    url = fresh_database(postgresql_cluster)
    for _ in range(20):
        server, http = await started(tmp_path, url)
        source = http.app[ANNOUNCER].source
        deadline = time.monotonic() + 30
        while not source.listening:
            assert time.monotonic() < deadline, "no LISTEN connection"
            await asyncio.sleep(0.02)
        await asyncio.wait_for(http.close(), 20)  # the close ends, and with it the task (and the server's pool)
        deadline = time.monotonic() + 10  # a closed client's backend takes a moment to leave the list
        while True:
            with psycopg.connect(url) as conn:
                listeners = conn.execute("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN bluezone_batches'"
                                         " AND datname = current_database()").fetchall()
            if not listeners or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert listeners == [], "a LISTEN connection outlived its server"


async def test_the_announcer_stops_when_cancelled_just_as_it_is_woken(tmp_path):
    """The cancellation lands after the wake-up event is set and its waiter has
    finished, before the announcer's loop resumes: the one moment
    ``asyncio.wait_for`` (Python 3.11) swallows it. The announcer must still stop,
    every time (with wait_for its task went on polling for ever)."""
    from bluezone_authority.server.announce import Announcer, DatabaseBatchSource
    from bluezone_authority.server.database import open_database

    db = open_database(tmp_path / "server.db")
    with db.transaction() as c:
        c.execute("CREATE TABLE batches (feed TEXT, seq INTEGER, name TEXT)")
    try:
        for _ in range(50):
            announcer = Announcer(DatabaseBatchSource(db), poll_seconds=60, max_listeners=10)
            await announcer.start()
            await asyncio.sleep(0)  # the loop waits on its event
            run = announcer._tasks[-1]
            announcer._wake.set()
            await asyncio.sleep(0)  # the event's waiter finishes; the loop has not resumed yet
            run.cancel()
            await asyncio.wait_for(asyncio.shield(asyncio.gather(run, return_exceptions=True)), 5)
            assert run.cancelled()
            await announcer.stop()
    finally:
        db.close()
