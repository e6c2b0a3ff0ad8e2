"""Server-side browser sessions.

The cookie holds 32 random bytes; the database keeps only their SHA-256, so
a copy of the database cannot be replayed as a cookie. Each session has its
own CSRF token (synchroniser-token pattern). A session ends after
``session_idle_minutes`` without a request, ``session_max_hours`` after
login, on logout, or when the account is removed or its password changed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from .users import PortalUser


@dataclass(frozen=True)
class Session:
    id_hash: bytes
    user: PortalUser
    csrf: str
    created_at: int
    last_seen: int


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


def new_session(db: Any, username: str, now: int) -> str:
    """Start a session; returns the cookie value (shown to the browser only)."""
    cookie = secrets.token_urlsafe(32)
    with db.transaction() as c:
        c.execute("INSERT INTO portal_sessions (id_hash, username, csrf, created_at, last_seen) VALUES (?,?,?,?,?)",
                  (_digest(cookie), username, secrets.token_urlsafe(32), now, now))
    return cookie


def load_session(db: Any, cookie: str | None, now: int, idle_seconds: int, max_seconds: int) -> Session | None:
    """The live session behind a cookie, touched; ``None`` (and the row
    deleted) when it is unknown, idle too long or too old."""
    if not cookie or len(cookie) > 100:
        return None
    digest = _digest(cookie)
    row = db.one("SELECT s.csrf, s.created_at, s.last_seen, u.username, u.name, u.role, u.failed_logins,"
                 " u.locked_until, u.created_at, u.last_login_at FROM portal_sessions s"
                 " JOIN portal_users u ON u.username = s.username WHERE s.id_hash = ?", (digest,))
    if row is None:
        return None
    csrf, created, last_seen = row[0], row[1], row[2]
    if now - last_seen >= idle_seconds or now - created >= max_seconds:
        end_session(db, cookie)
        return None
    with db.transaction() as c:
        c.execute("UPDATE portal_sessions SET last_seen = ? WHERE id_hash = ?", (now, digest))
    return Session(digest, PortalUser(*row[3:]), csrf, created, now)


def end_session(db: Any, cookie: str | None) -> None:
    if cookie:
        with db.transaction() as c:
            c.execute("DELETE FROM portal_sessions WHERE id_hash = ?", (_digest(cookie),))


def purge_sessions(db: Any, now: int, idle_seconds: int, max_seconds: int) -> int:
    """Delete every expired session (run at each login)."""
    with db.transaction() as c:
        return c.execute("DELETE FROM portal_sessions WHERE last_seen <= ? OR created_at <= ?",
                         (now - idle_seconds, now - max_seconds)).rowcount
