"""The gateway's ``database`` setting, through the operator's real commands
(``bluezone gateway province add``, ``bluezone gateway --config``): a SQLite
file or a ``postgresql://`` URL, and one line when the database cannot be
reached (as ``bluezone serve`` says it); the gateway's schema revisions
(gateway/migrations) on both backends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bluezone_authority.gateway import certs
from bluezone_authority.gateway.store import GatewayStore, KeysAlreadyStored
from bluezone_authority.server.keys import public_pem

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def gateway_config(folder: Path, database: str) -> Path:
    certs.init_ca(folder / "ca")
    certs.issue(folder / "ca", "gateway", folder / "gateway", server_hosts=["127.0.0.1"])
    config = folder / "gateway.toml"
    config.write_text(f'[gateway]\nport = 1\ndatabase = "{database}"\nca = "ca/ca.pem"\n'
                      'cert = "gateway.pem"\nkey = "gateway.key"\n')
    return config


def signing_key(folder: Path) -> tuple[Path, str]:
    pem = public_pem(ec.generate_private_key(ec.SECP256R1()))
    path = folder / "48.pub.pem"
    path.write_text(pem)
    return path, pem


def test_province_add_registers_in_the_configured_database(tmp_path, gateway_database):
    config = gateway_config(tmp_path, gateway_database)
    key, pem = signing_key(tmp_path)
    out = subprocess.run([BLUEZONE, "gateway", "province", "add", "--config", str(config), "--code", "48",
                          "--signing-key", str(key)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    store = GatewayStore(gateway_database)
    try:
        assert store.signing_key("48") == pem and store.signing_key("64") is None
    finally:
        store.close()


def test_an_unreachable_gateway_database_is_one_line_without_its_password(tmp_path):
    url = f"postgresql://bz:hunter2@/gateway?host={tmp_path}/nowhere&port=5"
    config = gateway_config(tmp_path, url)
    key, _ = signing_key(tmp_path)
    for args in (["gateway", "--config", str(config)],
                 ["gateway", "province", "add", "--config", str(config), "--code", "48", "--signing-key", str(key)]):
        out = subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode != 0, args
        said = out.stderr + out.stdout
        assert "Traceback" not in said and "hunter2" not in said, said
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "postgresql://bz:***@/gateway" in lines[0], out.stderr


@pytest.mark.parametrize("url", ["postgresql://bz:hunter2@[::1/gateway",           # libpq quotes the URI it cannot parse
                                 "postgresql://bz:hunt%65r2@[::1/gateway",         # percent-encoded, quoted as written
                                 "postgresql://bz@127.0.0.1:1/gateway?password=hunter2"])  # libpq's query parameter
def test_a_gateway_database_url_libpq_refuses_is_one_line_without_its_password(tmp_path, url):
    """libpq's own reason may quote the whole URI, and a password may be a query
    parameter: neither may print it."""
    config = gateway_config(tmp_path, url)
    out = subprocess.run([BLUEZONE, "gateway", "--config", str(config)], capture_output=True, text=True, timeout=120)
    said = out.stderr + out.stdout
    assert out.returncode != 0 and "Traceback" not in said, said
    assert "hunter2" not in said and "hunt%65r2" not in said, said
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "***" in lines[0], out.stderr


def test_every_gateway_error_code_is_in_its_docs():
    """docs/federation.md's table of the gateway's answers lists every code the gateway's routes raise."""
    import re

    root = Path(__file__).parents[2]
    doc = (root / "docs" / "federation.md").read_text()
    table = set(re.findall(r"`([a-z_]+)`", "".join(re.findall(r"^\| \d{3} \| (.*?) \|", doc, re.M))))
    codes = set()
    for path in (root / "authority" / "bluezone_authority" / "gateway").glob("*.py"):
        codes |= set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', path.read_text()))
    assert {"duplicate_keys", "bad_signature", "unknown_province"} <= codes
    assert sorted(codes - table) == []


def test_batch_numbers_only_grow_even_after_the_newest_batch_is_deleted(gateway_database):
    """``seq`` orders downloads. SQLite's AUTOINCREMENT never hands out a number
    again after a delete; on PostgreSQL the same column is an identity column
    (server/database.py translates it), which promises the same."""
    from bluezone_authority.gateway.store import StoredBatch
    from bluezone_authority.server.database import to_postgresql_ddl

    assert to_postgresql_ddl("CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER)") == \
        "CREATE TABLE t (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT)"
    store = GatewayStore(gateway_database)
    try:
        def put(tag: str, key: bytes) -> int:
            assert store.insert(StoredBatch(tag, "2026-05-28", "48", "48", 0, 1, b"d", b"s", "x"), [key])
            return int(store.db.one("SELECT seq FROM batches WHERE tag = ?", (tag,))[0])
        first, second = put("t1", b"a" * 16), put("t2", b"b" * 16)
        store.db.execute("DELETE FROM batch_keys WHERE batch_seq = ?", (second,))
        store.db.execute("DELETE FROM batches WHERE tag = 't2'")
        assert first < second < put("t3", b"c" * 16)
    finally:
        store.close()


# --- the gateway's schema on Alembic (gateway/migrations, branch "gateway") -------------

#: The gateway's tables as gateways before Alembic created them at every start (verbatim).
PRE_ALEMBIC_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS provinces (
        code TEXT PRIMARY KEY, signing_key_pem TEXT NOT NULL, added_at INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL UNIQUE, date TEXT NOT NULL,
        origin TEXT NOT NULL, uploader TEXT NOT NULL, uploaded_at INTEGER NOT NULL,
        key_count INTEGER NOT NULL, data BLOB NOT NULL, signature BLOB NOT NULL, sha256 TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS batches_by_date ON batches(date, seq)",
    """CREATE TABLE IF NOT EXISTS batch_keys (
        key_sha256 BLOB PRIMARY KEY, batch_seq INTEGER NOT NULL REFERENCES batches(seq))""",
    "CREATE INDEX IF NOT EXISTS batch_keys_by_batch ON batch_keys(batch_seq)",
]


def gateway_revisions(store: GatewayStore) -> list[str]:
    return [r[0] for r in store.db.all("SELECT version_num FROM gateway_alembic_version")]


def test_a_gateway_database_from_before_alembic_is_adopted_with_its_rows(gateway_database):
    """A gateway that created its tables itself at every start: opening it now
    records the first revision and changes nothing else; every row is still there
    and the next batch is numbered after them."""
    from bluezone_authority.gateway.store import StoredBatch, key_digest
    from bluezone_authority.server.database import open_database

    old = open_database(gateway_database)
    try:
        with old.transaction() as c:
            for stmt in PRE_ALEMBIC_SCHEMA:
                c.execute(stmt)
            c.execute("INSERT INTO provinces (code, signing_key_pem, added_at) VALUES ('48', 'PEM', 1)")
            c.execute("INSERT INTO batches (tag, date, origin, uploader, uploaded_at, key_count, data, signature,"
                      " sha256) VALUES ('old-1', '2026-05-28', '48', '48', 3600, 1, ?, ?, 'x')", (b"d", b"s"))
            c.execute("INSERT INTO batch_keys (key_sha256, batch_seq) VALUES (?, 1)", (key_digest(b"k" * 16),))
    finally:
        old.close()

    store = GatewayStore(gateway_database)
    try:
        assert [str(r) for r in store.migrations_applied] == ["gateway/001_gateway_schema"]
        assert gateway_revisions(store) == ["001_gateway_schema"]
        assert store.signing_key("48") == "PEM" and store.count() == 1 and store.stored_keys() == 1
        old_batch = store.get("old-1")
        assert old_batch is not None and (old_batch.data, old_batch.key_count) == (b"d", 1)
        # the key of the old batch is still known: the same key under a new tag is refused
        with pytest.raises(KeysAlreadyStored):
            store.insert(StoredBatch("new-1", "2026-05-28", "48", "48", 0, 1, b"d2", b"s", "y"), [b"k" * 16])
        assert store.insert(StoredBatch("new-2", "2026-05-28", "48", "48", 0, 1, b"d3", b"s", "z"), [b"m" * 16])
        assert store.after("2026-05-28", "old-1")[0].tag == "new-2"
    finally:
        store.close()


def test_a_new_gateway_database_gets_the_schema_once(gateway_database):
    """A new database gets every table from the revisions; the next open runs nothing."""
    first = GatewayStore(gateway_database)
    try:
        assert [str(r) for r in first.migrations_applied] == ["gateway/001_gateway_schema"]
        first.add_province("48", "PEM", 1)
        assert first.count() == 0 and first.stored_keys() == 0
    finally:
        first.close()
    again = GatewayStore(gateway_database)
    try:
        assert again.migrations_applied == [] and gateway_revisions(again) == ["001_gateway_schema"]
        assert again.signing_key("48") == "PEM"
    finally:
        again.close()


def test_two_gateways_opening_one_new_database_together_migrate_it_once(gateway_database):
    """Two gateway processes start on one new database: the lock ``gateway-migrate``
    lets one migrate; the other finds nothing to do (and neither fails)."""
    code = ("import sys; from bluezone_authority.gateway.store import GatewayStore;"
            "s = GatewayStore(sys.argv[1]); print(len(s.migrations_applied)); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, gateway_database], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(out.strip() for out, _ in outs) == ["0", "1"]


@pytest.mark.parametrize("command", ["current", "upgrade"])
def test_authority_db_on_the_gateways_file_says_what_the_file_is(tmp_path, command):
    """An operator following the migrations section tries `authority db current`
    on gateway.toml: the line said "unknown section [gateway]" and sent them to
    `config check`, which finds the file fine. Now it names the gateway's file
    and what migrates it; nothing is opened or written."""
    import os

    config = gateway_config(tmp_path, "gateway.db")
    out = subprocess.run([BLUEZONE, "authority", "db", command, "--config", str(config)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
    assert "the federation gateway's file" in out.stderr and "bluezone gateway --config" in out.stderr, out.stderr
    assert "config check" not in out.stderr
    assert "gateway.db" not in os.listdir(tmp_path)
