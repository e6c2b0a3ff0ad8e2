"""The portal's two tables, kept in the authority server's database.

Why the same file: one SQLite file to back up and one transaction model
(``ServerDB.transaction``). Why not the server's ``staff_tokens`` table:
API tokens are for scripts; people log in with a name and a password, need
a lockout counter, and hold browser sessions that can be revoked.

Neither table has a column for an IP address or user agent (privacy
rule 2): the lockout counts failures per account, not per client.
"""

from __future__ import annotations

from typing import Any

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS portal_users (
        username TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
        password_hash TEXT NOT NULL, failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER, created_at INTEGER NOT NULL, last_login_at INTEGER)""",
    """CREATE TABLE IF NOT EXISTS portal_sessions (
        id_hash BLOB PRIMARY KEY, username TEXT NOT NULL REFERENCES portal_users(username) ON DELETE CASCADE,
        csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL)""",
]


def ensure_schema(db: Any) -> None:
    """Create the tables if missing (idempotent; runs when the portal starts or a CLI opens the DB)."""
    with db.transaction() as c:
        for stmt in SCHEMA:
            c.execute(stmt)
