"""Login admission: which attempts may spend an Argon2 verification, and when.

A password check takes tens of milliseconds on a worker thread, so many
attempts can be in flight at once. Checking the lockout before that wait and
counting the failure after it lets a burst of parallel guesses all be tried
(and a right password among them clear the count). Here the decision is made
*before* the wait, in one step on the event loop (no ``await`` between the
database read and the in-flight count), and the in-flight attempts count
against the account's budget:

* an account that is locked is refused at once (no hash);
* an account may have at most ``per_account`` attempts in flight, and its
  settled failures plus its attempts in flight must stay under
  ``lockout_failures``. An attempt over either bound is refused at once **and
  counted as a failure** — it was never shown to know the password — so
  N parallel wrong passwords lock the account just as N in a row do;
* all unknown user names share one in-flight allowance, so junk for made-up
  accounts cannot fill the queue;
* at most ``max_pending`` verifications are in flight or queued in total;
  beyond that an attempt is refused at once (429) without a hash and without
  touching any account. A real user of another account therefore waits for
  at most ``max_pending`` hashes, never an unbounded queue.

After the check (:meth:`LoginGate.release`), a wrong password is recorded as
usual, and a right one succeeds only if no lock was set meanwhile; it clears
the failures that were settled before it started, not those recorded by
attempts that ran beside it (:func:`bluezone_authority.portal.users.record_success`).

State is per process, like the rate limits (one ``bluezone serve``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import users

#: The in-flight key shared by every user name that has no account.
UNKNOWN = "\0unknown"


@dataclass(frozen=True)
class Decision:
    """``admitted``: verify, then call :meth:`LoginGate.release`. Otherwise
    ``locked`` (423, ``lock_minutes``) or ``busy`` (429)."""

    admitted: bool
    locked: bool = False
    busy: bool = False
    lock_minutes: int = 0
    account: str = ""
    failures_before: int = 0


class LoginGate:
    def __init__(self, per_account: int, max_pending: int):
        self.per_account = per_account
        self.max_pending = max_pending
        self.in_flight: dict[str, int] = {}
        self.pending = 0

    def admit(self, db: Any, username: str, known: bool, now: int, limit: int, lock_seconds: int) -> Decision:
        """Decide about one attempt. Synchronous on purpose: it must not yield
        to other attempts between reading the account and counting itself."""
        if self.pending >= self.max_pending:
            return Decision(False, busy=True)
        account = username if known else UNKNOWN
        flying = self.in_flight.get(account, 0)
        failures = 0
        if known:
            user = users.get_user(db, username)
            if user is None:  # removed meanwhile
                account, flying, known = UNKNOWN, self.in_flight.get(UNKNOWN, 0), False
            elif user.locked(now):
                return Decision(False, locked=True, lock_minutes=max(1, -(-(user.locked_until - now) // 60)))  # type: ignore[operator]  # locked() means locked_until is set
            elif flying >= self.per_account or user.failed_logins + flying >= limit:
                if users.record_failure(db, username, now, limit, lock_seconds):
                    return Decision(False, locked=True, lock_minutes=max(1, lock_seconds // 60))
                return Decision(False, busy=True)
            else:
                failures = user.failed_logins
        if not known and flying >= self.per_account:
            return Decision(False, busy=True)
        self.in_flight[account] = flying + 1
        self.pending += 1
        return Decision(True, account=account, failures_before=failures)

    def release(self, decision: Decision) -> None:
        """The verification of an admitted attempt is over (whatever its outcome)."""
        if not decision.admitted:
            return
        self.pending -= 1
        left = self.in_flight.get(decision.account, 1) - 1
        if left > 0:
            self.in_flight[decision.account] = left
        else:
            self.in_flight.pop(decision.account, None)
