"""The server's SQLite database deletes for real: a purged row's bytes are
overwritten (``secure_delete``), not left in the file's free space where a
copy of the disk would find them. Upstream SQLite's default keeps them;
Debian's build (this machine's) turns secure_delete on at compile time, so
the server sets it itself for every other build, and the control below
shows what the test would find without it."""

from __future__ import annotations

import os

from bluezone_authority.server.db import ServerDB


def deleted_rows_left(tmp_path, secure_delete: bool | None) -> int:
    path = tmp_path / "server.db"
    db = ServerDB(path)
    assert db.conn.execute("PRAGMA secure_delete").fetchone() == (1,)
    if secure_delete is False:
        db.conn.execute("PRAGMA secure_delete = OFF")
    secrets = [os.urandom(24).hex() for _ in range(200)]
    with db.transaction() as c:
        c.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [(f"k{n}", s) for n, s in enumerate(secrets)])
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secrets[0].encode() in path.read_bytes()  # the rows are in the file, in clear
    with db.transaction() as c:
        c.execute("DELETE FROM meta WHERE key LIKE 'k%'")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("server.db*"))
    return sum(s.encode() in raw for s in secrets)


def test_a_deleted_row_leaves_no_bytes_in_the_server_database(tmp_path):
    assert deleted_rows_left(tmp_path, None) == 0


def test_control_without_secure_delete_the_bytes_stay(tmp_path):
    assert deleted_rows_left(tmp_path, False) > 0
