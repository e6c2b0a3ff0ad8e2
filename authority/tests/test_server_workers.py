"""``bluezone serve --workers 2`` as a deployment runs it: a real subprocess on
loopback, its workers forked from it, one SQLite file.

Each test proves its requests really reached both workers: the server runs
with ``BLUEZONE_WORKER_HEADER`` set, so every answer names its worker's pid
(tests only), and every request goes on a new connection."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bluezone.config import load_config
from bluezone_authority.portal.testing import CSRF, PASSWORD
from bluezone_authority.portal.users import add_user
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.coordination import FileLocks
from bluezone_authority.server.database import open_database
from bluezone_authority.server.process import province_server
from bluezone_authority.server.workers import HEADER_ENV

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
DECOYS_PER_MINUTE = 6

#: a day inside the retention window (the server purges older keys at start)
YESTERDAY = (int(time.time()) // 86400 - 1) * 144


BACKENDS = [b.strip() for b in os.environ.get("BLUEZONE_TEST_DATABASE", "sqlite,postgresql").split(",") if b.strip()]


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    """One province with two workers, an admin token and a portal account,
    on SQLite and on PostgreSQL (rate limits, the export lock and sessions
    then live in the server's PostgreSQL database)."""
    folder = tmp_path_factory.mktemp("workers")
    database = "server.db"
    if request.param == "postgresql":
        database = request.getfixturevalue("postgresql_cluster").new_database("w")
    os.environ[HEADER_ENV] = "1"
    proc = province_server(folder, database=database, server_extra=f"workers = 2\nanswer_floor_ms = 0\nmin_batch_keys = 0\n"
                                                f"decoys_per_client_per_minute = {DECOYS_PER_MINUTE}\n")
    # before the start: the parent migrates, the workers open the database after it
    server = AuthorityServer.from_config(load_config(folder / "server.toml"))
    add_user(server.db, "lan", "Lan", "admin", PASSWORD, server.now(), server.roles)
    _, token = server.create_staff_token("test admin", "admin")
    server.close()
    try:
        with proc:
            yield proc, folder, token, database if database != "server.db" else str(folder / "server.db")
    finally:
        os.environ.pop(HEADER_ENV, None)


def fresh_session(**kw) -> aiohttp.ClientSession:
    """Every request on a new connection, so the kernel may give it to either worker."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True), **kw)


def outside_minute_edge() -> None:
    """Limits count per wall-clock minute: start a burst well inside one."""
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


async def test_requests_spread_over_workers_share_one_rate_limit(served):
    proc, _, _, _ = served
    outside_minute_edge()
    answers: list[tuple[int, str]] = []
    async with fresh_session() as s:
        # until both workers have refused one (a worker the kernel gave only early requests proves nothing)
        while len(answers) < 60 and (len(answers) < 2 * DECOYS_PER_MINUTE
                                     or len({p for status, p in answers if status == 429}) < 2):
            async with s.post(f"{proc.url}/v1/decoy", data=b"{}", headers={"Content-Type": "application/json"}) as r:
                await r.read()
                answers.append((r.status, r.headers["X-Bluezone-Worker"]))
    workers = {pid for _, pid in answers}
    assert len(workers) == 2, answers  # both workers answered
    allowed = [pid for status, pid in answers if status == 200]
    # one budget for both: per-process counting would allow up to 2 × 6
    assert len(allowed) == DECOYS_PER_MINUTE, answers
    assert {status for status, _ in answers} == {200, 429}
    # a worker that allowed fewer than the budget still refused: it counted the other's requests
    for pid in workers:
        if allowed.count(pid) < DECOYS_PER_MINUTE:
            assert (429, pid) in answers, answers


async def test_a_portal_session_made_on_one_worker_is_valid_on_the_other(served):
    proc, _, _, _ = served
    async with fresh_session(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.get(f"{proc.url}/portal/login") as r:
            csrf = CSRF.search(await r.text()).group(1)
        async with s.post(f"{proc.url}/portal/login", data={"username": "lan", "password": PASSWORD,
                                                            "csrf": csrf}) as r:
            assert r.status == 200 and not str(r.url).endswith("/login"), await r.text()
        seen = set()
        for _ in range(30):
            async with s.get(f"{proc.url}/portal/", allow_redirects=False) as r:
                assert r.status == 200, (r.status, r.headers.get("Location"))  # never sent back to log in
                seen.add(r.headers["X-Bluezone-Worker"])
            if len(seen) == 2:
                break
        assert len(seen) == 2
    async with fresh_session() as s:  # and without the cookie: the login page
        async with s.get(f"{proc.url}/portal/", allow_redirects=False) as r:
            assert r.status in (302, 303)


async def test_exports_asked_of_both_workers_at_once_make_one_batch_and_one_consistent_folder(served):
    proc, folder, token, database = served
    db = open_database(database)
    with db.transaction() as c:
        for _ in range(20):
            c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                       " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                       (os.urandom(16), YESTERDAY))
    before = db.one("SELECT count(*) FROM batches")[0]
    headers = {"Authorization": f"Bearer {token}"}
    async with fresh_session() as s:
        async def export():
            async with s.post(f"{proc.url}/v1/authority/exports", headers=headers) as r:
                return r.status, await r.json(), r.headers["X-Bluezone-Worker"]
        answers = await asyncio.gather(*[export() for _ in range(8)])
    assert {status for status, _, _ in answers} == {200}
    assert len({pid for _, _, pid in answers}) == 2, answers
    made = [body["batch"] for _, body, _ in answers if body["batch"]]
    assert len(made) == 1, answers  # one batch; every other export found nothing left
    rows = db.all("SELECT name, sha256 FROM batches WHERE feed = 'keys' ORDER BY seq")
    assert len(rows) == before + 1 and rows[-1][0] == made[0]
    keys_dir = folder / "exports" / "keys"
    assert (keys_dir / "index.txt").read_text() == "".join(f"{n}\n" for n, _ in rows)
    assert sorted(p.name for p in keys_dir.iterdir()) == sorted([n for n, _ in rows] + ["index.txt"])  # no temp file
    for name, sha in rows:
        assert hashlib.sha256((keys_dir / name).read_bytes()).hexdigest() == sha
    db.close()


LOCK_HOLDER = """
import sys
from bluezone_authority.server.db import ServerDB
db = ServerDB(sys.argv[1])
with db.exclusive("export") as held:
    print("held" if held else "busy", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def hold_export_lock(database: Path | str) -> subprocess.Popen:
    """Another process holding the export lock until a line is written to its stdin."""
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_export_lock_excludes_other_processes_and_dies_with_its_holder(tmp_path, server_database):
    """SQLite: flock beside the file; PostgreSQL: a session advisory lock,
    dropped by the server when the holder's connection dies."""
    from bluezone_authority.server.db import ServerDB

    holder = hold_export_lock(server_database)
    db = ServerDB(server_database)
    try:
        with db.exclusive("export", wait=False) as got:
            assert got is False  # another process holds it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with db.exclusive("export", wait=False) as got:  # released by the kernel with the dead holder
        assert got is True
        with db.exclusive("export", wait=False) as again:  # re-entrant in its own process
            assert again is True
    db.close()
    with pytest.raises(ValueError):
        FileLocks(tmp_path / "server.db").folder("../x")


def test_removing_every_lock_file_does_not_let_a_second_exporter_in(tmp_path):
    """The lock is the database folder's flock: deleting files beside the
    database (the old ``server.db.export.lock`` among them) while a process
    holds it lets no second process take it, with or without waiting."""
    from bluezone_authority.server.db import ServerDB

    database = tmp_path / "server.db"
    ServerDB(database).close()
    holder = hold_export_lock(database)
    try:
        removed = [p for p in tmp_path.iterdir() if p.name.endswith(".lock")]
        for p in removed:
            p.unlink()
        busy = subprocess.run([sys.executable, "-c", LOCK_HOLDER.replace('db.exclusive("export")',
                                                                         'db.exclusive("export", wait=False)'),
                               str(database)], input="\n", capture_output=True, text=True, timeout=60)
        assert busy.stdout.splitlines()[0] == "busy", busy
        waiter = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(database)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                waiter.communicate("\n", timeout=3)  # still waiting for the lock the holder has
            holder.stdin.write("go\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "released"
            assert waiter.communicate(timeout=60)[0].split() == ["held", "released"]
        finally:
            waiter.kill()
            waiter.wait()
    finally:
        holder.kill()
        holder.wait()


async def test_a_worker_asked_to_export_waits_for_the_lock_another_process_holds(served):
    proc, folder, token, database = served
    db = open_database(database)
    with db.transaction() as c:
        c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                   " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                   (os.urandom(16), YESTERDAY))
    db.close()
    holder = hold_export_lock(database)
    try:
        async with fresh_session() as s:
            request = asyncio.ensure_future(s.post(f"{proc.url}/v1/authority/exports",
                                                   headers={"Authorization": f"Bearer {token}"}))
            done, _ = await asyncio.wait([request], timeout=2)
            assert not done  # the worker cannot build while the lock is held elsewhere
            holder.stdin.write("go\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "released"
            async with await request as r:
                assert r.status == 200 and (await r.json())["batch"]
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_worker_is_replaced_and_sigterm_stops_everything(tmp_path):
    os.environ[HEADER_ENV] = "1"
    try:
        proc = province_server(tmp_path, server_extra="workers = 2\n")
        with proc:
            import urllib.request

            def worker_pid() -> int:
                with urllib.request.urlopen(f"{proc.url}/v1/health", timeout=10) as r:
                    return int(r.headers["X-Bluezone-Worker"])

            victim = worker_pid()
            os.kill(victim, signal.SIGKILL)
            pids = set()
            deadline = time.monotonic() + 30
            while len(pids - {victim}) < 2 and time.monotonic() < deadline:
                try:
                    pids.add(worker_pid())
                except OSError:
                    time.sleep(0.1)
            assert len(pids - {victim}) == 2, pids  # the survivor and the replacement both serve
            workers = pids - {victim}
            proc.__exit__(None, None, None)
            assert proc.proc.returncode == 0
        for pid in workers:  # no worker left behind
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        log = (tmp_path / "server.log").read_text()
        assert f"(pid {victim})" in log and "-9" in log  # the supervisor said which worker died, and how
    finally:
        os.environ.pop(HEADER_ENV, None)


def test_a_clear_error_for_a_port_in_use(tmp_path, served):
    proc, folder, _, _ = served
    out = subprocess.run([BLUEZONE, "serve", "--config", str(folder / "server.toml"), "--workers", "2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") <= 1 and "cannot start the server" in out.stderr


def test_workers_that_keep_dying_stop_the_whole_server_loudly(tmp_path):
    proc = province_server(tmp_path, server_extra="workers = 2\n")
    with proc:
        # from now on no worker can open the database: every restart fails at once
        (tmp_path / "server.db").rename(tmp_path / "moved.db")
        (tmp_path / "server.db").mkdir()
        os.kill(_a_worker_of(proc.proc.pid), signal.SIGKILL)
        assert proc.proc.wait(timeout=60) == 1  # gave up: exit code 1, not a restart loop
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log
    assert log.count("cannot start the server") >= 5  # each failed restart said why, in one line


def _a_worker_of(parent: int) -> int:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    assert children, "the server has no worker"
    return int(children[0])


async def test_a_batch_built_by_one_worker_is_announced_to_streams_on_both(served):
    """Event streams open on both workers; one export (built by whichever
    worker got the request) reaches every stream with the batch name only.
    On PostgreSQL through LISTEN/NOTIFY, on SQLite through data_version."""
    proc, _, token, database = served
    db = open_database(database)
    with db.transaction() as c:
        c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                  " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                  (os.urandom(16), YESTERDAY))
    db.close()
    async with fresh_session(timeout=aiohttp.ClientTimeout(total=60)) as s:
        streams, workers = [], set()
        for _ in range(30):
            r = await s.get(f"{proc.url}/v1/feeds/keys/events")
            assert r.status == 200
            streams.append(r)
            workers.add(r.headers["X-Bluezone-Worker"])
            if len(workers) == 2 and len(streams) >= 4:
                break
        assert len(workers) == 2
        await asyncio.sleep(1.5)  # every worker's announcer has read the current state
        async with s.post(f"{proc.url}/v1/authority/exports", headers={"Authorization": f"Bearer {token}"}) as r:
            name = (await r.json())["batch"]
            assert r.status == 200 and name

        async def next_event(r) -> str:
            while True:
                line = (await r.content.readline()).decode()
                if line.startswith("data: "):
                    return line[len("data: "):].strip()

        got = await asyncio.wait_for(asyncio.gather(*[next_event(r) for r in streams]), 30)
        assert got == [name] * len(streams)
        for r in streams:
            r.close()
