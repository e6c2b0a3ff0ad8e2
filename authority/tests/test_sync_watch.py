"""Pushed announcements end to end: a real ``bluezone serve --workers 2`` and
real ``bluezone sync --watch`` phones (subprocesses), batches made through
the staff API, Ctrl-C at the end.

What is proved: each phone syncs once at start and exactly once per batch;
announcements reach listeners on both workers; ``Last-Event-ID`` replays
what a phone missed while the server was down, and the phone reconnects by
itself; a server without the events route is polled instead."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bluezone.config import load_config
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.database import open_database
from bluezone_authority.server.process import ServerProcess, province_server
from bluezone_authority.server.workers import HEADER_ENV

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
PHONES = 5
SYNC_DONE = re.compile(r"^Sync done: (\d+) new batch(?:es)?,", re.M)
FAST = "answer_floor_ms = 0\nmin_batch_keys = 0\nevents_poll_seconds = 0.2\nevents_heartbeat_seconds = 1\n"

#: a day inside the retention window (the server purges older keys at start)
YESTERDAY = (int(time.time()) // 86400 - 1) * 144


def admin_token(folder: Path) -> str:
    server = AuthorityServer.from_config(load_config(folder / "server.toml"))
    _, token = server.create_staff_token("test admin", "admin")
    server.close()
    return token


def add_keys(folder: Path, n: int = 3, database: str = "server.db") -> None:
    """Keys ready for the next export (written as an upload would leave them),
    in the SQLite file in ``folder`` or the PostgreSQL database ``database``."""
    db = open_database(database if database.startswith("postgresql://") else folder / "server.db")
    with db.transaction() as c:
        for _ in range(n):
            c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                       " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                       (os.urandom(16), YESTERDAY))
    db.close()


def export(url: str, token: str) -> str:
    import json
    import urllib.request

    req = urllib.request.Request(f"{url}/v1/authority/exports", method="POST",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        name = json.load(r)["batch"]
    assert name
    return name


def init_phones(folder: Path, n: int) -> list[Path]:
    stores = [folder / f"phone{i}.db" for i in range(n)]
    procs = [subprocess.Popen([BLUEZONE, "init", "--config", str(folder / "province.toml"), "--store", str(s),
                               "--language", "en", "--consent", "all"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for s in stores]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    return stores


class Phone:
    """One ``bluezone sync --watch`` process, its output in a file."""

    def __init__(self, folder: Path, store: Path, *extra: str, config: str = "province.toml"):
        self.out = store.with_suffix(".out")
        self._file = open(self.out, "w")
        self.proc = subprocess.Popen([BLUEZONE, "sync", "--watch", "--config", str(folder / config),
                                      "--store", str(store), *extra],
                                     stdout=self._file, stderr=subprocess.STDOUT,
                                     # as a shell's background job starts it: Ctrl-C must still stop it
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))

    def text(self) -> str:
        return self.out.read_text()

    def syncs(self) -> list[int]:
        """New batches of each sync so far."""
        return [int(n) for n in SYNC_DONE.findall(self.text())]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._file.close()


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


async def listen(url: str, last_event_id: str | None, want: int) -> tuple[str, list[tuple[str, str]]]:
    """A raw listener (new connection): its worker's pid and the first ``want`` events."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    events: list[tuple[str, str]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        async with s.get(f"{url}/v1/feeds/keys/events", headers=headers) as r:
            assert r.status == 200 and r.content_type == "text/event-stream"
            assert r.headers["Cache-Control"] == "no-store"
            pid = r.headers["X-Bluezone-Worker"]
            event_id = None
            while len(events) < want:
                line = (await asyncio.wait_for(r.content.readline(), 30)).decode().rstrip("\n")
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    events.append((event_id, line[6:]))
    return pid, events


def test_five_watching_phones_sync_once_per_batch_from_two_workers(tmp_path, server_database):
    """On SQLite (data_version) and on PostgreSQL (LISTEN/NOTIFY, every read off the loop)."""
    os.environ[HEADER_ENV] = "1"
    try:
        server = province_server(tmp_path, database=server_database, server_extra="workers = 2\n" + FAST)
        token = admin_token(tmp_path)
        stores = init_phones(tmp_path, PHONES)
        with server:
            phones = [Phone(tmp_path, s, "--max-delay", "0.5", "--poll-seconds", "600") for s in stores]
            try:
                wait_for(lambda: all(p.syncs() == [0] for p in phones), "the first sync of every phone")
                time.sleep(1)  # every phone is on its stream (they connect right after the first sync)

                async def listeners_and_batch() -> list[tuple[str, list]]:
                    tasks = [asyncio.ensure_future(listen(server.url, None, 1)) for _ in range(8)]
                    await asyncio.sleep(1)
                    add_keys(tmp_path, database=server_database)
                    name = await asyncio.to_thread(export, server.url, token)
                    got = await asyncio.gather(*tasks)
                    assert all(events == [("1", name)] for _, events in got), got
                    return got

                got = asyncio.run(listeners_and_batch())
                # the batch was built by one worker; listeners on both heard of it
                assert len({pid for pid, _ in got}) == 2, got
                wait_for(lambda: all(p.syncs() == [0, 1] for p in phones), "one sync per phone for batch 1")
                add_keys(tmp_path, database=server_database)
                second = export(server.url, token)
                wait_for(lambda: all(p.syncs() == [0, 1, 1] for p in phones), "one sync per phone for batch 2")
                time.sleep(1.5)  # longer than the delay: no phone syncs twice for one batch
                # a late listener asking from event 0 gets both batches replayed, in order
                pid, replay = asyncio.run(listen(server.url, "0", 2))
                assert [e[0] for e in replay] == ["1", "2"] and replay[1][1] == second
            finally:
                codes = [p.stop() for p in phones]
            for p, code in zip(phones, codes, strict=True):
                out = p.text()
                assert code == 0 and p.syncs() == [0, 1, 1], out
                assert out.count("New batch announced") == 2 and out.rstrip().endswith("Stopped watching.")
                assert "Traceback" not in out
    finally:
        os.environ.pop(HEADER_ENV, None)


def test_a_phone_reconnects_and_gets_the_batch_made_while_the_server_was_down(tmp_path, server_database):
    server = province_server(tmp_path, database=server_database, server_extra=FAST)
    token = admin_token(tmp_path)
    (store,) = init_phones(tmp_path, 1)
    with server:
        add_keys(tmp_path, database=server_database)
        export(server.url, token)
        phone = Phone(tmp_path, store, "--max-delay", "0.2", "--poll-seconds", "600")
        try:
            wait_for(lambda: phone.syncs() == [1], "the first sync")
            time.sleep(0.5)
            add_keys(tmp_path, database=server_database)
            export(server.url, token)
            wait_for(lambda: phone.syncs() == [1, 1], "the sync of batch 2")  # its Last-Event-ID is now 2
            # the server is down: a batch is exported by the command line meanwhile
            server.__exit__(None, None, None)
            wait_for(lambda: "trying again" in phone.text(), "the phone to notice")
            add_keys(tmp_path, database=server_database)
            out = subprocess.run([BLUEZONE, "authority", "export", "--config", str(tmp_path / "server.toml")],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0 and '"batch": "' in out.stdout, out
            with ServerProcess(tmp_path / "server.toml", server.url, tmp_path / "server2.log"):
                # the same port again: the phone reconnects by itself with Last-Event-ID 2 and hears of 3
                wait_for(lambda: phone.syncs() == [1, 1, 1], "the sync of the batch made while down", 90)
                assert "Connected again" in phone.text()
        finally:
            code = phone.stop()
    assert code == 0, phone.text()
    assert phone.text().count("New batch announced") == 2  # batch 2 live, batch 3 replayed


def test_a_server_without_the_events_route_is_polled(tmp_path):
    """The phone's API address has no events route (an older server behind a
    path, here), its downloads come from the real feeds: it says so and polls."""
    server = province_server(tmp_path, server_extra=FAST)
    token = admin_token(tmp_path)
    with server:
        config = (tmp_path / "province.toml").read_text().replace(f'url = "{server.url}"',
                                                                  f'url = "{server.url}/old"')
        (tmp_path / "old.toml").write_text(config + f'\n[transport]\ndownload_url = "{server.url}/v1/feeds"\n')
        (store,) = init_phones(tmp_path, 1)
        phone = Phone(tmp_path, store, "--poll-seconds", "1", config="old.toml")
        try:
            wait_for(lambda: "does not announce" in phone.text(), "the fallback")
            add_keys(tmp_path)
            export(server.url, token)
            wait_for(lambda: 1 in phone.syncs(), "a poll that finds the batch")
        finally:
            code = phone.stop()
    assert code == 0 and phone.syncs().count(1) == 1 and "New batch announced" not in phone.text()


async def test_a_bad_last_event_id_is_refused_with_a_stable_code_and_a_full_worker_says_so(tmp_path):
    from bluezone_authority.server.testing import start

    r = await start(tmp_path, events_max_clients=1)
    try:
        async with aiohttp.ClientSession() as s:
            for value in ("x", "-1", "9" * 20):
                async with s.get(f"{r.url}/v1/feeds/keys/events", headers={"Last-Event-ID": value}) as resp:
                    body = await resp.json()
                    assert resp.status == 400 and body["error"]["code"] == "invalid_event_id"
                    assert body["error"]["message_vi"] != body["error"]["message"]
            async with s.get(f"{r.url}/v1/feeds/Bad!/events") as resp:
                assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_feed"
            async with s.get(f"{r.url}/v1/feeds/keys/events") as first:
                assert first.status == 200
                async with s.get(f"{r.url}/v1/feeds/keys/events") as second:
                    body = await second.json()
                    assert second.status == 503 and body["error"]["code"] == "too_many_listeners"
                    assert second.headers["Retry-After"] == "60"
    finally:
        await r.http.close()
        r.server.close()


@pytest.mark.parametrize("kind", ["sqlite-data-version", "any-database"])
async def test_each_batch_source_announces_a_new_batch_once(tmp_path, kind):
    from bluezone_authority.server.announce import Announcer, DatabaseBatchSource, SqliteBatchSource
    from bluezone_authority.server.testing import settings_for

    server = AuthorityServer(settings_for(tmp_path, min_batch_keys=0))
    source = SqliteBatchSource(server.db.path) if kind == "sqlite-data-version" else DatabaseBatchSource(server.db)
    announcer = Announcer(source, poll_seconds=3600, max_listeners=10)  # polled by hand below
    await announcer.start()
    try:
        queue = announcer.listen("keys")
        await announcer.poll()
        assert queue.empty()
        with server.db.transaction() as c:
            c.execute("INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                      " report_type, dsos, created_at, available_at) VALUES (?, ?, 144, 4, 1, 0, 0, 0)",
                      (os.urandom(16), YESTERDAY))
        name = server.export_now()["batch"]
        await announcer.poll()
        await announcer.poll()
        assert queue.get_nowait() == (1, name) and queue.empty()
    finally:
        await announcer.stop()
        server.close()
