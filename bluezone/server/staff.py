"""Staff API tokens and roles.

A staff token is 32 random bytes shown once when created (``bluezone
authority token create``) and stored as its SHA-256. Roles, widest first:

* ``admin`` — everything, including running exports and retention by hand;
* ``case-officer`` — issue verification codes (F0 and F1);
* ``venue-tracer`` — issue one-time tokens for venue-trace uploads;
* ``declarations`` — list and download sealed health declarations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from .db import ServerDB
from .errors import ApiError

ROLES = ("admin", "case-officer", "venue-tracer", "declarations")


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_staff_token(db: ServerDB, name: str, role: str, now: int) -> tuple[StaffMember, str]:
    """A new staff member's token (returned once; only its hash is kept)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a staff token needs a name")
    token = "bzs_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    member = StaffMember(secrets.token_hex(8), name.strip(), role)
    with db.transaction() as c:
        c.execute("INSERT INTO staff_tokens (id, name, role, token_hash, created_at) VALUES (?,?,?,?,?)",
                  (member.id, member.name, role, token_hash(token), now))
    return member, token


def revoke_staff_token(db: ServerDB, member_id: str, now: int) -> bool:
    with db.transaction() as c:
        cur = c.execute("UPDATE staff_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        (now, member_id))
    return cur.rowcount == 1


def authenticate(db: ServerDB, authorization: str | None) -> StaffMember:
    """The staff member behind an ``Authorization: Bearer`` header, or 401."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "unauthenticated", "staff API token required (Authorization: Bearer ...)",
                       "cần mã truy cập của cán bộ (Authorization: Bearer ...)",
                       {"WWW-Authenticate": "Bearer"})
    digest = token_hash(authorization[7:].strip())
    row = db.one("SELECT id, name, role, token_hash, revoked_at FROM staff_tokens WHERE token_hash = ?", (digest,))
    # compare_digest keeps the final check constant-time even though the lookup is by hash
    if row is None or not hmac.compare_digest(row[3], digest) or row[4] is not None:
        raise ApiError(401, "unauthenticated", "unknown or revoked staff token",
                       "mã truy cập không hợp lệ hoặc đã bị thu hồi", {"WWW-Authenticate": "Bearer"})
    return StaffMember(row[0], row[1], row[2])


def require_role(member: StaffMember, *roles: str) -> StaffMember:
    if not member.has_role(*roles):
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}",
                       f"cần vai trò {' hoặc '.join(roles)}")
    return member
