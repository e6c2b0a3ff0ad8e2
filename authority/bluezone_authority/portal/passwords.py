"""Staff passwords, hashed with Argon2id (argon2-cffi, RFC 9106 parameters).

Why Argon2id: it is memory-hard, so a stolen database is expensive to
attack on GPUs; it is the first choice of the OWASP password storage
guidance. Hashing takes tens of milliseconds on purpose, so the portal runs
it in a small worker pool (:func:`verify_async`, :func:`pool_size`) and never blocks the server's
event loop, which also serves devices (``benchmarks/bench_portal.py``
measures the device API's latency during a burst of logins).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bluezone.i18n import _

MIN_LENGTH = 12
MAX_LENGTH = 256

_HASHER = PasswordHasher()


def pool_size(cores: int | None = None) -> int:
    """Half the cores, 1 to 4 workers: Argon2 already uses several lanes, and
    a small pool keeps a burst of logins from taking every core away from the
    device API. The queue in front of it is bounded by
    :mod:`bluezone_authority.portal.attempts`, so a small pool never means a long wait."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(4, cores // 2))


_POOL = ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="bluezone-argon2")
# A hash of a random password: unknown user names are checked against it so
# that a wrong name costs as long as a wrong password (no timing oracle).
_DUMMY = _HASHER.hash("not a password: timing equaliser")


class PasswordPolicyError(ValueError):
    """A new password that the policy refuses (message in English / Vietnamese)."""


@dataclass(frozen=True)
class Checked:
    ok: bool
    new_hash: str | None = None  # set when the stored hash used weaker parameters


def check_policy(password: str, username: str = "") -> None:
    """Length rules as in NIST SP 800-63B: at least 12 characters, no composition rules."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(_("the password needs at least {n} characters", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(_("the password is longer than {n} characters", n=MAX_LENGTH))
    if username and password.strip().lower() == username.lower():
        raise PasswordPolicyError(_("the password must not be the user name"))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> Checked:
    """Check ``password`` against ``stored`` (``None``: check against a dummy, always False)."""
    if len(password) > MAX_LENGTH:
        return Checked(False)
    try:
        _HASHER.verify(stored or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Checked(False)
    if stored is None:
        return Checked(False)
    return Checked(True, _HASHER.hash(password) if _HASHER.check_needs_rehash(stored) else None)


async def verify_async(stored: str | None, password: str) -> Checked:
    return await asyncio.get_running_loop().run_in_executor(_POOL, verify, stored, password)
