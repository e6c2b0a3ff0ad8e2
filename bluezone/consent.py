"""The person's consent, per purpose, kept on the phone with the notice version and time.

Vietnam's Personal Data Protection Law (91/2025/QH15, in force since
1 January 2026) asks for consent that is specific to each purpose, given by
an act (silence is not consent), recorded, and withdrawable at any time, with
processing stopping once withdrawn. Bluezone processes personal data for
five separate purposes, each of which can be refused or withdrawn on its own:

* ``bluetooth`` — record the rolling identifiers of phones nearby and match
  them against published keys (the sightings and the ``keys`` feed);
* ``venues`` — venue check-in by QR code and matching of venue traces;
* ``f2`` — warnings for contacts of contacts (F2; the "F2 opt-in");
* ``declarations`` — sealed health declarations sent to the health authority;
* ``submitters`` — handing a declaration to an external submitter (NCOVI).

Every decision is one row of the store's ``consents`` table: purpose,
granted or not, the version of the processing notice the person was shown
(``[privacy] notice_version``) and when. A store made before consent existed
has no rows; it keeps working as before until its person decides (``bluezone
consent``), so an upgrade does not silently stop tracing, and ``bluezone
privacy`` says that no decision is on record.

Code that processes for a purpose asks :func:`allowed` (or :func:`require`,
which raises :class:`ConsentWithdrawn` with a bilingual message) first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .i18n import N_, _, text

#: Every purpose, in the order they are asked.
PURPOSES: tuple[str, ...] = ("bluetooth", "venues", "f2", "declarations", "submitters")

#: What each purpose means, in English (msgids; shown with :func:`describe`).
DESCRIPTIONS: dict[str, str] = {
    "bluetooth": N_("Record the Bluetooth identifiers of phones nearby and match them against published keys, on this phone"),
    "venues": N_("Check in at venues by QR code and match your visits against venue traces"),
    "f2": N_("Receive F2 warnings (contact with a close contact)"),
    "declarations": N_("Send sealed health declarations to the health authority"),
    "submitters": N_("Hand a declaration to an external submitter (for example NCOVI)"),
}


def describe(purpose: str, language: str) -> str:
    """What ``purpose`` means, in ``language``."""
    return text(DESCRIPTIONS[purpose], language)


#: The meta key the F2 choice has always been kept under; kept in step with the ``f2`` purpose.
F2_META = "f2_opt_in"

_TABLE = """CREATE TABLE IF NOT EXISTS consents (
    purpose TEXT PRIMARY KEY,
    granted INTEGER NOT NULL,
    notice_version TEXT NOT NULL,
    decided_at INTEGER NOT NULL
)"""


def create_table(conn: sqlite3.Connection) -> None:
    """The core migration ``004_consents`` (see :mod:`bluezone.store.migrations`)."""
    conn.execute(_TABLE)


class ConsentError(ValueError):
    """A consent choice that cannot be understood (an unknown purpose...)."""


class ConsentWithdrawn(PermissionError):
    """Processing for a purpose the person refused or withdrew; the message says how to change it."""

    def __init__(self, purpose: str):
        self.purpose = purpose
        super().__init__(purpose)
        self.message = _("You have not agreed to '{purpose}' ({what}); nothing was done. To agree: "
                         "bluezone consent give {purpose}", purpose=purpose, what=_(DESCRIPTIONS[purpose]))

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True, slots=True)
class Decision:
    """One recorded choice."""

    purpose: str
    granted: bool
    notice_version: str
    decided_at: int

    def as_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "granted": self.granted, "notice_version": self.notice_version,
                "decided_at": self.decided_at}


def parse_choice(choice: str) -> dict[str, bool]:
    """``--consent`` text → a decision for every purpose.

    ``all`` grants every purpose, ``none`` refuses every one, a comma list
    (``bluetooth,venues``) grants those named and refuses the rest."""
    choice = choice.strip().lower()
    if choice == "all":
        return {p: True for p in PURPOSES}
    if choice == "none":
        return {p: False for p in PURPOSES}
    named = [p.strip() for p in choice.split(",") if p.strip()]
    unknown = [p for p in named if p not in PURPOSES]
    if unknown or not named:
        raise ConsentError(str(_("--consent takes 'all', 'none' or a comma list of purposes ({purposes}), "
                                 "not {given!r}", purposes=", ".join(PURPOSES), given=choice)))
    return {p: p in named for p in PURPOSES}


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ConsentError(str(_("unknown purpose {purpose!r}; known: {purposes}", purpose=purpose,
                                 purposes=", ".join(PURPOSES))))
    return purpose


def record(store: Any, choices: Mapping[str, bool], notice_version: str, now: int | None = None) -> None:
    """Record decisions (one transaction); the ``f2`` one also sets the F2 opt-in."""
    now = store.now() if now is None else now
    with store.transaction() as conn:
        for purpose, granted in choices.items():
            check_purpose(purpose)
            conn.execute("INSERT OR REPLACE INTO consents(purpose, granted, notice_version, decided_at) "
                         "VALUES (?, ?, ?, ?)", [purpose, int(bool(granted)), notice_version, now])
            if purpose == "f2":
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                             [F2_META, "1" if granted else "0"])


def decisions(store: Any) -> dict[str, Decision]:
    """Every recorded decision by purpose (empty for a store made before consent existed)."""
    rows: Iterable[tuple[str, int, str, int]] = store.db.execute(
        "SELECT purpose, granted, notice_version, decided_at FROM consents ORDER BY purpose")
    return {r[0]: Decision(r[0], bool(r[1]), r[2], r[3]) for r in rows}


def allowed(store: Any, purpose: str) -> bool:
    """Whether processing for ``purpose`` may go on: granted, or never asked
    (a store from before consent existed). A refusal or withdrawal stops it."""
    check_purpose(purpose)
    row = store.db.execute("SELECT granted FROM consents WHERE purpose = ?", [purpose]).fetchone()
    return True if row is None else bool(row[0])


def require(store: Any, purpose: str) -> None:
    """Raise :class:`ConsentWithdrawn` unless :func:`allowed`."""
    if not allowed(store, purpose):
        raise ConsentWithdrawn(purpose)


def f2_wanted(store: Any, config: Any) -> bool:
    """Whether F2 exposures may be processed at all on this phone: the
    deployment offers them (``[risk] f2_alerts``) and the person agreed (the
    ``f2`` purpose and the F2 opt-in). When not, F2 windows are never stored."""
    from .config import RiskSettings

    if not config.typed(RiskSettings).f2_alerts:
        return False
    return allowed(store, "f2") and (store.get_meta(F2_META, "1") or "1") == "1"
