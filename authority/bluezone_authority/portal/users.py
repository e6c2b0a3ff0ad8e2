"""Portal staff accounts: create, look up, lock out, unlock, remove.

Roles are the server's (the core's plus its plugins', see
:func:`bluezone_authority.server.staff.known_roles`) with the same meaning as for API
tokens, so a portal user and a token holder with the same role may do the
same things.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bluezone.i18n import Message, _

from ..server.staff import ROLES, StaffMember, unknown_role
from . import passwords
from .db import ensure_schema

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


def no_user(username: str) -> Message:
    """The refusal of a user name no account has."""
    return _("no user {username}", username=username)


class UserError(ValueError):
    """A refused account operation (its message is a catalogue text)."""


@dataclass(frozen=True)
class PortalUser:
    username: str
    name: str
    role: str
    failed_logins: int
    locked_until: int | None
    created_at: int
    last_login_at: int | None

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles

    def member(self) -> StaffMember:
        """The same principal as the server's staff API sees it (``issued_by`` = ``portal:<name>``)."""
        return StaffMember(f"portal:{self.username}", self.name, self.role)

    def locked(self, now: int) -> bool:
        return self.locked_until is not None and now < self.locked_until


_COLUMNS = "username, name, role, failed_logins, locked_until, created_at, last_login_at"


def _user(row: tuple | None) -> PortalUser | None:
    return PortalUser(*row) if row else None


def add_user(db: Any, username: str, name: str, role: str, password: str, now: int,
             roles: Iterable[str] = ROLES) -> PortalUser:
    """``roles``: the role names the server knows (``AuthorityServer.roles``)."""
    roles = tuple(roles)
    ensure_schema(db)
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise UserError(_("the user name must be 2-32 of a-z, 0-9, '.', '_', '-'"))
    if role not in roles:
        raise UserError(unknown_role(role, roles))
    if not name.strip():
        raise UserError(_("a display name is needed"))
    try:
        passwords.check_policy(password, username)
    except passwords.PasswordPolicyError as e:
        raise UserError(*e.args) from None
    digest = passwords.hash_password(password)
    with db.transaction() as c:
        if c.execute("SELECT 1 FROM portal_users WHERE username = ?", (username,)).fetchone():
            raise UserError(_("the user {username} exists", username=username))
        c.execute("INSERT INTO portal_users (username, name, role, password_hash, created_at) VALUES (?,?,?,?,?)",
                  (username, name.strip(), role, digest, now))
    return get_user(db, username)  # type: ignore[return-value]


def set_password(db: Any, username: str, password: str) -> None:
    """Replace a password; ends the user's sessions and clears a lockout."""
    ensure_schema(db)
    try:
        passwords.check_policy(password, username)
    except passwords.PasswordPolicyError as e:
        raise UserError(*e.args) from None
    digest = passwords.hash_password(password)
    with db.transaction() as c:
        cur = c.execute("UPDATE portal_users SET password_hash = ?, failed_logins = 0, locked_until = NULL"
                        " WHERE username = ?", (digest, username))
        if cur.rowcount != 1:
            raise UserError(no_user(username))
        c.execute("DELETE FROM portal_sessions WHERE username = ?", (username,))


def get_user(db: Any, username: str) -> PortalUser | None:
    return _user(db.one(f"SELECT {_COLUMNS} FROM portal_users WHERE username = ?", (username.strip().lower(),)))


def password_hash(db: Any, username: str) -> str | None:
    row = db.one("SELECT password_hash FROM portal_users WHERE username = ?", (username,))
    return row[0] if row else None


def list_users(db: Any) -> list[PortalUser]:
    ensure_schema(db)
    return [PortalUser(*r) for r in db.all(f"SELECT {_COLUMNS} FROM portal_users ORDER BY username")]


def record_failure(db: Any, username: str, now: int, limit: int, lock_seconds: int) -> bool:
    """Count one wrong password; lock the account when the count reaches
    ``limit``. Returns True when this failure locked it. The counter is
    incremented in SQL so concurrent attempts cannot undercount."""
    with db.transaction() as c:
        c.execute("UPDATE portal_users SET failed_logins = failed_logins + 1 WHERE username = ?", (username,))
        row = c.execute("SELECT failed_logins FROM portal_users WHERE username = ?", (username,)).fetchone()
        if row and row[0] >= limit:
            c.execute("UPDATE portal_users SET failed_logins = 0, locked_until = ? WHERE username = ?",
                      (now + lock_seconds, username))
            return True
    return False


def record_success(db: Any, username: str, now: int, new_hash: str | None = None,
                   failures_before: int | None = None) -> bool:
    """Record a right password. Returns False (and changes nothing) when the
    account was locked meanwhile by attempts that ran beside this one.

    ``failures_before``: the settled failures when this attempt was admitted
    (:mod:`bluezone_authority.portal.attempts`); only those are cleared, so failures
    recorded by concurrent attempts still count. ``None`` clears all."""
    with db.transaction() as c:
        cur = c.execute(
            # CASE rather than SQLite's two-argument max(): the same SQL runs on PostgreSQL
            "UPDATE portal_users SET failed_logins = CASE WHEN ? = 1 OR failed_logins <= ? THEN 0"
            " ELSE failed_logins - ? END, locked_until = NULL, last_login_at = ?"
            " WHERE username = ? AND (locked_until IS NULL OR locked_until <= ?)",
            (int(failures_before is None), failures_before or 0, failures_before or 0, now, username, now))
        if cur.rowcount != 1:
            return False
        if new_hash:
            c.execute("UPDATE portal_users SET password_hash = ? WHERE username = ?", (new_hash, username))
    return True


def unlock(db: Any, username: str) -> bool:
    ensure_schema(db)
    with db.transaction() as c:
        cur = c.execute("UPDATE portal_users SET failed_logins = 0, locked_until = NULL WHERE username = ?",
                        (username,))
    return cur.rowcount == 1


def remove_user(db: Any, username: str) -> bool:
    """Delete an account and end its sessions at once."""
    ensure_schema(db)
    with db.transaction() as c:
        c.execute("DELETE FROM portal_sessions WHERE username = ?", (username,))
        cur = c.execute("DELETE FROM portal_users WHERE username = ?", (username,))
    return cur.rowcount == 1
