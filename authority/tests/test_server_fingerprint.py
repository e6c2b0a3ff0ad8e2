"""The database fingerprint that "a refused request changed nothing" tests rely on
covers every table the file holds: the core's, ``meta``, the portal's and any a
plugin's migration adds. A fingerprint that skipped a table would let a refused
request write there unseen (a refused login counting a failure did exactly that)."""

from __future__ import annotations

from bluezone_authority.portal.db import ensure_schema
from bluezone_authority.server import AuthorityServer
from bluezone_authority.server.testing import settings_for

#: One value of each declared column type, for a probe row in any table.
PROBE = {"INTEGER": "7", "INT": "7", "REAL": "1.5", "BLOB": "x'00'", "TEXT": "'z'", "": "'z'"}


def test_every_table_is_fingerprinted_and_any_change_shows(tmp_path):
    server = AuthorityServer(settings_for(tmp_path))
    db = server.db
    ensure_schema(db)  # what the portal does when it starts
    try:
        with db.transaction() as c:
            c.execute("INSERT INTO portal_users (username, name, role, password_hash, created_at)"
                      " VALUES ('u', 'U', 'admin', 'x', 0)")
            c.execute("CREATE TABLE plugin_added (v INTEGER)")  # what a plugin's migration could add
            c.execute("INSERT INTO plugin_added VALUES (1)")
        tables = db.table_names()
        assert {"meta", "portal_users", "portal_sessions", "plugin_added", "codes", "exposure_keys"} <= set(tables)
        db.conn.execute("PRAGMA foreign_keys = OFF")  # this probe writes rows no request could
        db.conn.execute("PRAGMA ignore_check_constraints = ON")
        for table in tables:
            values = [PROBE.get(kind.upper().split("(")[0], "'z'") for _, _, kind, *_ in db.all(f'PRAGMA table_info("{table}")')]
            before = db.fingerprint()
            with db.transaction() as c:
                c.execute(f'INSERT INTO "{table}" VALUES ({", ".join(values)})')
            assert db.fingerprint() != before, f"a new row in {table} is not in the fingerprint"
        before = db.fingerprint()
        with db.transaction() as c:  # what a refused login that counted a failure would leave
            c.execute("UPDATE portal_users SET failed_logins = failed_logins + 1 WHERE username = 'u'")
        assert db.fingerprint() != before
    finally:
        server.close()
