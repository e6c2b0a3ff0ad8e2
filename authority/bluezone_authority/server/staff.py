"""Staff API tokens and roles.

A staff token is 32 random bytes shown once when created (``bluezone
authority token create``) and stored as its SHA-256. The core's roles:

* ``admin`` — everything, including running exports and retention by hand;
* ``case-officer`` — issue verification codes (F0 and F1);
* ``declarations`` — list and download sealed health declarations.

Plugins add their own through ``bluezone_staff_roles`` (the QR check-in
plugin adds ``venue-tracer``); :func:`known_roles` is the set a server
accepts, and a token or account with any other role is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bluezone.i18n import N_, Message, _

from .db import ServerDB
from .errors import ApiError


@dataclass(frozen=True)
class StaffRole:
    """A staff role: its name, its label (an English msgid marked with
    ``N_``, shown translated through the message catalogue), and the purposes
    of the one-time authority tokens it may issue."""

    name: str
    label: str
    token_purposes: tuple[str, ...] = ()


CORE_ROLES = (
    StaffRole("admin", N_("administrator")),
    StaffRole("case-officer", N_("case officer")),
    StaffRole("declarations", N_("declarations officer")),
)
#: The core's role names (plugins' roles come from :func:`known_roles`).
ROLES = tuple(r.name for r in CORE_ROLES)
ROLE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


class RoleError(ValueError):
    """A plugin's role is malformed or clashes with another's."""


def known_roles(pm: Any = None) -> dict[str, StaffRole]:
    """The core's roles plus those the plugins of ``pm`` add (sync hook)."""
    roles = {r.name: r for r in CORE_ROLES}
    hook = getattr(getattr(pm, "hook", None), "bluezone_staff_roles", None)
    for result in (hook() if hook is not None else []):
        for role in result or ():
            if not isinstance(role, StaffRole) or not ROLE_NAME.match(role.name) or not isinstance(role.label, str):
                raise RoleError(_("bluezone_staff_roles: {role} is not a StaffRole with a name of a-z, 0-9, '-' "
                                  "and a label", role=repr(role)))
            if role.name in roles:
                raise RoleError(_("bluezone_staff_roles: two roles are named '{name}'", name=role.name))
            roles[role.name] = role
    return roles


def unknown_role(role: str, roles: Iterable[str]) -> Message:
    """The refusal of a role the server does not know (tokens and portal accounts)."""
    return _("unknown role '{role}'; roles: {roles}", role=role, roles=", ".join(roles))


def roles_for_purpose(roles: Mapping[str, StaffRole], purpose: str) -> tuple[str, ...]:
    """The roles that may issue one-time tokens for ``purpose`` (admin always may)."""
    return ("admin", *(r.name for r in roles.values() if purpose in r.token_purposes))


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_staff_token(db: ServerDB, name: str, role: str, now: int,
                       roles: Iterable[str] = ROLES) -> tuple[StaffMember, str]:
    """A new staff member's token (returned once; only its hash is kept);
    ``roles`` are the names this server knows (:func:`known_roles`)."""
    roles = tuple(roles)
    if role not in roles:
        raise ValueError(unknown_role(role, roles))
    if not name.strip():
        raise ValueError(_("a staff token needs a name"))
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
        raise ApiError(401, "unauthenticated", _("staff API token required (Authorization: Bearer ...)"),
                       {"WWW-Authenticate": "Bearer"})
    digest = token_hash(authorization[7:].strip())
    row = db.one("SELECT id, name, role, token_hash, revoked_at FROM staff_tokens WHERE token_hash = ?", (digest,))
    # compare_digest keeps the final check constant-time even though the lookup is by hash
    if row is None or not hmac.compare_digest(row[3], digest) or row[4] is not None:
        raise ApiError(401, "unauthenticated", _("unknown or revoked staff token"), {"WWW-Authenticate": "Bearer"})
    return StaffMember(row[0], row[1], row[2])


def require_role(member: StaffMember, *roles: str) -> StaffMember:
    if not member.has_role(*roles):
        raise ApiError(403, "forbidden", _("this needs one of the roles {roles}", roles=", ".join(roles)))
    return member
