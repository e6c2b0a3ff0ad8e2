"""The database interface (server/database.py) keeps its promises on both backends.

Each test runs on SQLite and on a real PostgreSQL (started by the session's
``postgresql_cluster`` fixture); see docs/server.md, "Databases"."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bluezone_authority.server import database
from bluezone_authority.server.database import Busy, open_database, to_pyformat

#: the core's Alembic revisions (authority/bluezone_authority/server/migrations/versions)
CORE_REVISIONS = ["001_schema", "002_coarse_upload_times", "003_key_revisions", "004_rate_windows", "005_federation",
                  "006_outbox_refusals"]


def _table(db):
    with db.transaction() as c:
        c.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, data BLOB NOT NULL, note TEXT)")


def test_url_selects_backend(server_database):
    with open_database(server_database) as db:
        assert db.kind == ("postgresql" if server_database.startswith("postgresql://") else "sqlite")
        assert db.target.kind == db.kind


def test_transaction_commits_or_leaves_nothing(server_database):
    with open_database(server_database) as db:
        _table(db)
        with db.transaction() as c:
            c.execute("INSERT INTO items (id, data, note) VALUES (?, ?, ?)", (1, b"\x00\xff", "50% done?"))
        with pytest.raises(RuntimeError), db.transaction() as c:
            c.execute("INSERT INTO items (id, data) VALUES (?, ?)", (2, b"x"))
            c.execute("UPDATE items SET note = ? WHERE id = ?", ("changed", 1))
            raise RuntimeError("refused")
        # a byte string round-trips as bytes; '%' and '?' in values and literals are data, not placeholders
        assert db.all("SELECT id, data, note FROM items WHERE note LIKE '50%' OR note = '?'") == [(1, b"\x00\xff", "50% done?")]
        assert db.one("SELECT count(*) FROM items WHERE id > ?", (0,)) == (1,)
        assert db.execute("DELETE FROM items WHERE id = ?", (1,)) == 1
        assert db.one("SELECT count(*) FROM items")[0] == 0


def test_integers_are_64_bit(server_database):
    with open_database(server_database) as db:
        _table(db)
        big = 2**40 + 7  # microseconds since 1970 and byte totals exceed 32 bits
        with db.transaction() as c:
            c.execute("INSERT INTO items (id, data) VALUES (?, ?)", (big, b""))
        assert db.one("SELECT id FROM items")[0] == big
        with db.transaction() as c:
            assert db.table_exists(c, "items") and not db.table_exists(c, "nothing_here")
            assert db.columns(c, "items") == {"id", "data", "note"}


def test_exclusive_is_one_holder_at_a_time(server_database):
    """Two connections (as two workers would have): while one holds "export",
    the other is told Busy (wait=False) or waits until the holder commits."""
    with open_database(server_database) as a, open_database(server_database) as b:
        _table(a)
        order = []
        with a.exclusive("export") as c:
            c.execute("INSERT INTO items (id, data) VALUES (1, ?)", (b"a",))
            with pytest.raises(Busy):
                with b.exclusive("export", wait=False):
                    pass
            def waiter():
                with b.exclusive("export") as c2:
                    order.append(c2.execute("SELECT count(*) FROM items").fetchone()[0])
            t = threading.Thread(target=waiter)
            t.start()
            t.join(0.3)
            order.append("holder done")
        t.join(30)
        assert order == ["holder done", 1]  # the waiter ran after the holder's commit, and saw it
        with b.exclusive("export", wait=False):
            pass  # a released lock is free again
        if a.kind == "postgresql":  # (SQLite has one writer, so two transactions never overlap there)
            with b.exclusive("other-name", wait=False), a.exclusive("export", wait=False):
                pass  # different names never block each other


_HOLDER = """
import sys, time
from bluezone_authority.server.database import open_database
db = open_database(sys.argv[1])
with db.exclusive("export"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_exclusive_holds_across_processes(server_database):
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, server_database], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with open_database(server_database) as db, pytest.raises(Busy):
            with db.exclusive("export", wait=False):
                pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
        with open_database(server_database) as db, db.exclusive("export", wait=False):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_placeholders_and_urls():
    assert to_pyformat("SELECT '?', \"a?\", ? -- why?\n") == "SELECT '?', \"a?\", %s -- why?\n"
    assert to_pyformat("SELECT x FROM t WHERE n LIKE '5%' AND m = ?") == "SELECT x FROM t WHERE n LIKE '5%%' AND m = %s"
    assert database.target("postgres://u:secret@h/db").display == "postgres://u:***@h/db"
    assert database.target("sqlite:////var/lib/x.db") == database.Target("sqlite", "/var/lib/x.db")
    assert database.target("relative/server.db").kind == "sqlite"
    with pytest.raises(database.DatabaseError, match="postgresql://"):
        database.target("mysql://h/db")


async def test_postgresql_request_waits_off_the_event_loop(tmp_path, postgresql_cluster):
    """While a redeem waits on a row another connection has locked, the same
    server still answers other requests: the database wait is in a worker
    thread, not on the event loop. Afterwards the redeem completes, once."""
    import asyncio

    import psycopg

    from bluezone.transports import HttpTransport
    from bluezone_authority.server.testing import start

    url = postgresql_cluster.new_database()
    # bounds the wait, so code that waited on the event loop fails here instead of hanging the test
    postgresql_cluster.psql(f"ALTER DATABASE {url.split('/')[3].split('?')[0]} SET lock_timeout = '20s'")
    r = await start(tmp_path, database=url)
    try:
        code = r.server.issue_code({"tier": "F0"})["code"]
        with psycopg.connect(r.server.settings.database) as other:
            other.execute("SELECT id FROM codes FOR UPDATE")  # holds the row until this transaction ends
            async with HttpTransport(r.url, retries=0, timeout=60) as t, HttpTransport(r.url, retries=0) as t2:
                redeem = asyncio.create_task(t.redeem_code(code))
                while r.server.db.one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0] == 0:
                    assert not redeem.done(), redeem  # (it must be waiting on the lock, not finished)
                    await asyncio.sleep(0.05)
                # the redeem's transaction is blocked now; another request is answered meanwhile
                index = await asyncio.wait_for(t2.fetch_index("keys"), 30)
                assert index is not None and not redeem.done()
                other.rollback()
                verified = await asyncio.wait_for(redeem, 60)
        assert verified.token
        assert r.server.db.one("SELECT state FROM codes") == ("claimed",)
    finally:
        await r.http.close()


def test_serve_with_an_unreachable_database_says_so_in_one_line(tmp_path):
    """A wrong or unreachable PostgreSQL URL stops `bluezone serve` with one
    line naming the database, its password hidden, and no traceback."""
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   f'[server]\ndatabase = "postgresql://bz:hunter2@/bluezone?host={tmp_path}/nowhere&port=5"\n'
                   'secrets_file = "s.secrets"\nexport_dir = "out"\n')
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "serve", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout and "hunter2" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "postgresql://bz:***@/bluezone" in lines[0], out.stderr


@pytest.mark.parametrize("url", ["postgresql://bz:hunter2@[::1/bluezone",
                                 "postgresql://bz@127.0.0.1:1/bluezone?password=hunter2"])
@pytest.mark.parametrize("command", [["authority", "db", "current"], ["authority", "db", "upgrade"]])
def test_db_current_and_upgrade_with_a_url_libpq_refuses_say_so_without_the_password(tmp_path, url, command):
    """libpq quotes a URI it cannot parse whole in its reason, and takes a
    password as a query parameter too: the one line hides both."""
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   f'[server]\ndatabase = "{url}"\nsecrets_file = "s.secrets"\nexport_dir = "out"\n')
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), *command, "--config", str(cfg)],
                         capture_output=True, text=True, timeout=120)
    said = out.stderr + out.stdout
    assert out.returncode != 0 and "Traceback" not in said and "hunter2" not in said, said
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "***" in lines[0], out.stderr


def test_db_current_on_a_fifo_is_one_line_and_writes_nothing_beside_it(tmp_path):
    """SQLite opened a FIFO (or /dev/null) as the database, failed with a
    traceback and left its journal and the migrate lock file beside it."""
    import os

    os.mkfifo(tmp_path / "server.db")
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   '[server]\ndatabase = "server.db"\nsecrets_file = "s.secrets"\nexport_dir = "out"\n')
    before = sorted(os.listdir(tmp_path))
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "authority", "db", "current",
                          "--config", str(cfg)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr + out.stdout, out.stderr
    assert len(out.stderr.splitlines()) == 1 and "not a regular file" in out.stderr, out.stderr
    assert sorted(os.listdir(tmp_path)) == before


OLD_DUMP = Path(__file__).parent / "data" / "server_db_7d64aa6"
OLD_ADMIN = "bzs_Pt_nNbAT8Uyamu-KO4GCs2kFwOPazNONIh1scpVspA4"


def test_a_database_made_before_this_backend_layer_opens_unchanged_and_works(tmp_path):
    """A SQLite file written by the code before server/database.py (with its
    _migrations rows, from before Alembic) is adopted: stamped at the revisions
    those rows name, it takes only the revisions added since, keeps every row,
    and the server goes on from it: the old admin token works, pending keys export."""
    import sqlite3

    from bluezone_authority.server import AuthorityServer
    from bluezone_authority.server.testing import Clock, settings_for

    path = tmp_path / "server.db"
    conn = sqlite3.connect(path)
    conn.executescript((OLD_DUMP / "server.sql").read_text())
    conn.close()
    server = AuthorityServer(settings_for(tmp_path, database=path), clock=Clock())
    try:
        # only the steps written after that code: rate_windows and federation
        assert [str(r) for r in server.db.migrations_applied] == ["core/004_rate_windows", "core/005_federation",
                                                                  "core/006_outbox_refusals"]
        assert server.db.all("SELECT version_num FROM alembic_version") == [("006_outbox_refusals",)]
        assert "_migrations" not in server.db.table_names()  # the old ledger went with the adoption
        assert server.db.counts() == {"staff_tokens": 1, "codes": 3, "exposure_keys": 5, "batches": 1,
                                      "one_time_tokens": 0, "declarations": 1, "declaration_usage": 1,
                                      "fed_outbox": 0, "fed_imports": 0}
        assert server.authenticate(f"Bearer {OLD_ADMIN}", "admin").role == "admin"
        assert server.db.one("SELECT count(*) FROM exposure_keys WHERE batch IS NULL")[0] == 2
        assert server.export_now()["batch"]
        assert server.db.one("SELECT count(*) FROM exposure_keys WHERE batch IS NULL")[0] == 0
        assert server.db.one("SELECT count(*) FROM batches")[0] == 2
    finally:
        server.close()


_OPENER = """
import sys
from bluezone_authority.server.db import ServerDB
sys.stdin.readline()  # all start together
with ServerDB(sys.argv[1]) as db:
    print(len(db.migrations_applied))
"""


def test_workers_starting_together_migrate_once(server_database):
    """Two processes open a new database at the same moment (as workers of
    one server would): each starts, the core revisions are applied once, and
    exactly one process applied them (the named lock "migrate")."""
    procs = [subprocess.Popen([sys.executable, "-c", _OPENER, server_database], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        p.stdin.write("\n")
        p.stdin.flush()
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    assert sorted(int(out) for out, _ in results) == [0, len(CORE_REVISIONS)]
    with open_database(server_database) as db:
        assert db.all("SELECT version_num FROM alembic_version") == [(CORE_REVISIONS[-1],)]


def _waiting_for_migrate(location: str) -> int:
    """How many processes wait for the lock "migrate" now: PostgreSQL's
    ungranted advisory locks, or the kernel's blocked flocks (/proc/locks)
    on SQLite's ``<db>.migrate.lock``."""
    import os

    from bluezone_authority.server.database import lock_key

    if location.startswith("postgresql://"):
        key = lock_key("migrate")
        with open_database(location) as db:
            return db.one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                          " AND ((classid::bigint << 32) | objid::bigint) = ?", (key,))[0]
    inode = os.stat(f"{location}.migrate.lock").st_ino
    return sum(1 for line in Path("/proc/locks").read_text().splitlines()
               if "->" in line and line.split()[-3].endswith(f":{inode}"))


def test_workers_wait_for_the_migrate_lock_and_one_of_them_migrates(server_database):
    """While another process holds the lock "migrate" (an operator's `db
    upgrade`, say), two workers starting wait for it and touch nothing; once
    it is released, exactly one applies the revisions."""
    import time

    with open_database(server_database) as holder:
        held = holder.exclusive("migrate") if holder.kind == "postgresql" else holder.file_lock("migrate")
        with held:
            procs = [subprocess.Popen([sys.executable, "-c", _OPENER, server_database], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
            for p in procs:
                p.stdin.write("\n")
                p.stdin.flush()
            deadline = time.monotonic() + 120  # a condition awaited, not a duration measured
            while _waiting_for_migrate(server_database) < 2:
                assert all(p.poll() is None for p in procs), "a worker went on without the lock"
                assert time.monotonic() < deadline, "the workers never waited for the lock"
                time.sleep(0.05)
            with open_database(server_database) as db, db.transaction() as c:
                assert not db.table_exists(c, "alembic_version") and not db.table_exists(c, "codes")
        results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    assert sorted(int(out) for out, _ in results) == [0, len(CORE_REVISIONS)]


def test_db_commands_show_and_apply_the_schema_steps(tmp_path, postgresql_cluster):
    """`bluezone authority db current` reads without changing; `db upgrade`
    applies what is missing, once; the server then starts with nothing to do.
    Both say the current heads (Alembic's)."""
    from bluezone_authority.server.db import ServerDB

    url = postgresql_cluster.new_database()
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   f'[server]\ndatabase = "{url}"\nsecrets_file = "s.secrets"\nexport_dir = "out"\n')
    bluezone = str(Path(sys.executable).with_name("bluezone"))

    def run(*args: str) -> list[str]:
        out = subprocess.run([bluezone, "authority", "db", *args, "--config", str(cfg)], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()

    before = run("current")
    assert "  core/003_key_revisions" not in before  # listed as pending, with a note
    assert any(line.startswith("  core/003_key_revisions ") for line in before)
    assert not any("core/" in line for line in before if not line.startswith("  "))  # no current heads yet

    def heads(lines: list[str]) -> str:
        """The line naming the current heads (worded in the deployment's languages)."""
        [line] = [line for line in lines if not line.startswith("  ") and "core/" in line]
        return line

    with open_database(url) as db, db.transaction() as c:
        assert not db.table_exists(c, "alembic_version")  # `current` changed nothing
        assert not db.table_exists(c, "staff_tokens")
    applied = run("upgrade")
    assert "  core/001_schema" in applied and "  core/003_key_revisions" in applied
    assert "core/006_outbox_refusals" in heads(applied).split(": ", 1)[1].split(", ")
    assert [line for line in run("upgrade") if line.startswith("  ")] == []  # nothing left to apply
    after = run("current")
    assert "core/006_outbox_refusals" in heads(after) and "  core/006_outbox_refusals" in after
    assert [line for line in after if line.startswith("  ") and " " in line.strip()] == []  # nothing pending
    with open_database(url) as db:  # a plugin that recorded a revision here, then was uninstalled
        db.execute("INSERT INTO alembic_version (version_num) VALUES ('gone_001_x')")
    for command in ("current", "upgrade"):
        [line] = [line for line in run(command) if "gone_001_x" in line]
        assert line.startswith("  gone_001_x (") and "core/" not in line  # reported, not taken for a head
    with ServerDB(url) as db:
        assert db.migrations_applied == []


async def test_postgresql_one_certificate_publishes_once_even_at_the_same_moment(tmp_path, postgresql_cluster):
    """Two uploads with the same certificate reach PostgreSQL together (held
    at the door by a lock another connection has, then let go at once): one
    stores the keys, the other is told 409 certificate_used and writes
    nothing. (SQLite lets one writer in at a time; PostgreSQL needs the
    per-code lock the publish step takes.)"""
    import asyncio
    import secrets as pysecrets

    import psycopg

    from bluezone.transport import TransportError
    from bluezone.transports import HttpTransport
    from bluezone.upload import keys_hmac
    from bluezone_authority.server.database import lock_key
    from bluezone_authority.server.testing import past_keys, start

    url = postgresql_cluster.new_database()
    postgresql_cluster.psql(f"ALTER DATABASE {url.split('/')[3].split('?')[0]} SET lock_timeout = '20s'")
    r = await start(tmp_path, database=url)
    try:
        keys = past_keys(3)
        secret = pysecrets.token_bytes(32)
        async with HttpTransport(r.url, retries=0, timeout=60) as t:
            verified = await t.redeem_code(r.server.issue_code({"tier": "F0"})["code"])
            cert = await t.request_certificate(verified.token, keys_hmac(secret, keys))
            (jti,) = r.server.db.one("SELECT id FROM codes")
            with psycopg.connect(url, autocommit=False) as other:
                # hold both doors a publish passes: the per-code lock (taken first when it exists)
                # and the code's row (which mark_used writes), so the two uploads queue together
                other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"code:{jti}"),))
                other.execute("SELECT id FROM codes FOR UPDATE")
                uploads = [asyncio.create_task(t.upload_keys(keys, cert, secret)) for _ in range(2)]
                while r.server.db.one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0] < 2:
                    assert not any(u.done() for u in uploads), [u.exception() for u in uploads if u.done()]
                    await asyncio.sleep(0.05)
                other.rollback()
                results = await asyncio.gather(*uploads, return_exceptions=True)
        refused = [x for x in results if isinstance(x, TransportError)]
        assert len(refused) == 1 and refused[0].code == "certificate_used", results
        assert r.server.db.counts()["exposure_keys"] == 3
    finally:
        await r.http.close()


def test_transactions_of_several_threads_take_turns_on_one_database(tmp_path, server_database):
    """Threads (request work off the loop, the QR plugin's trace workers) each
    get a transaction of their own: on SQLite they queue on one lock around
    the one connection. It used to be replaced after every transaction, so a
    thread still waiting on the old lock and one arriving at the new one ran
    on the connection together ("cannot start a transaction within a
    transaction", or one thread's statements in another's transaction)."""
    db = database.open_database(server_database)
    with db.transaction() as c:
        c.execute("CREATE TABLE turns (thread INTEGER, n INTEGER)")
    errors: list[str] = []

    def work(k: int) -> None:
        try:
            for i in range(150):
                with db.transaction() as c:
                    c.execute("INSERT INTO turns (thread, n) VALUES (?, ?)", (k, i))
                    seen = c.execute("SELECT count(*) FROM turns WHERE thread = ?", (k,)).fetchone()[0]
                    assert seen == i + 1, (k, i, seen)
        except Exception as e:  # collected: an exception in a thread would not fail the test
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert db.one("SELECT count(*) FROM turns")[0] == 6 * 150
    finally:
        db.close()


def test_db_current_and_upgrade_print_a_garbage_version_row_escaped_and_keep_it(tmp_path):
    """Any writer of the database can put a row in alembic_version; a row of no
    installed plugin is listed as it is, and it printed terminal escapes raw
    (ESC ]0; sets the operator's terminal title). Shown escaped; the row stays."""
    from bluezone_authority.server.db import ServerDB

    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   '[server]\ndatabase = "server.db"\nsecrets_file = "s.secrets"\nexport_dir = "out"\n')
    ServerDB(tmp_path / "server.db").close()
    garbage = "zz_\x1b]0;PWNED\x07\x1b[31m\u009b2J"
    with open_database(tmp_path / "server.db") as db, db.transaction() as c:
        c.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (garbage,))
    for command in ("current", "upgrade"):
        out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "authority", "db", command,
                              "--config", str(cfg)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u009b" not in out.stdout, out.stdout
        assert "zz_\\x1b]0;PWNED\\x07\\x1b[31m\\x9b2J" in out.stdout, out.stdout
    with open_database(tmp_path / "server.db") as db:
        assert db.one("SELECT count(*) FROM alembic_version WHERE version_num = ?", (garbage,)) == (1,)


def test_db_current_with_a_wrong_password_is_one_line_without_it(tmp_path, postgresql_cluster):
    """A real PostgreSQL asking for a password (scram for one role on this
    test cluster, trust for the rest): a wrong one stops `authority db current`
    in one line naming the database, the password not printed."""
    import os

    hba = postgresql_cluster.root / "data" / "pg_hba.conf"
    if "bz_pw" not in hba.read_text():
        hba.write_text("local all bz_pw scram-sha-256\n" + hba.read_text())
        postgresql_cluster.psql("CREATE ROLE bz_pw LOGIN PASSWORD 'right-horse'")
        postgresql_cluster.psql("SELECT pg_reload_conf()")
    url = postgresql_cluster.new_database().replace("postgresql://postgres@", "postgresql://bz_pw:hunter2@")
    cfg = tmp_path / "deploy.toml"
    cfg.write_text('[deployment]\nname = "t"\nregion = "452"\n[authority]\nurl = "http://127.0.0.1:1"\n'
                   f'[server]\ndatabase = "{url}"\nsecrets_file = "s.secrets"\nexport_dir = "out"\n')
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "authority", "db", "current",
                          "--config", str(cfg)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PGPASSWORD": ""})
    said = out.stderr + out.stdout
    assert out.returncode != 0 and "Traceback" not in said and "hunter2" not in said, said
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "postgresql://bz_pw:***@/" in lines[0] and "bz_pw" in lines[0], out.stderr
    assert "password authentication failed" in lines[0], out.stderr
