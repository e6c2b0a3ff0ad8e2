"""The phone's own report: after uploading with a code it knows it is a case.

Why: a person who reported as a confirmed case (F0) is isolating already; a
warning that they met a case, or a contact of one, tells them nothing and
contradicts what the health station told them. Worse, their own check-in
at a venue comes back as a venue trace naming the visit that caused it. So
an upload with an F0 code puts the phone in a "reported positive" state
until ``reported day + [risk] isolation_days``: contact and venue matches on
days up to that date are kept as information (an exposure row marked
``suppressed``) and raise no F1 or F2 warning. An upload with an F1 code
(a recursive report, the person is a contact) does the same for F2
warnings only: the F2s of its own chain are the people it warned itself.
A new F0 met by an F1 still warns.

The state is rows of the store (``own_reports``), so it survives restarts
and is purged with the rest once the isolation and retention have passed.

A report found false ends it: staff give a code of test type "negative",
the phone sends its keys again with it as revoked, and a revocation row is
remembered; reports before it no longer count (:func:`standing`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .i18n import N_, _
from .models import Exposure, ReportType, Tier, utc_date

#: ``Exposure.details["suppressed"]`` values.
REPORTED_POSITIVE = "reported_positive"
REPORTED_CONTACT = "reported_contact"

#: What ``status`` says while the report lasts (fields: the two dates).
_TEXT = {
    Tier.F0: N_("REPORTED AS A CASE (F0) on {reported}. Self-isolate at home until the end of {until} and follow "
                "your local health station's advice; call it at once if you have trouble breathing. Until then "
                "this phone gives you no F1/F2 warnings (contacts are only kept for information)."),
    Tier.F1: N_("REPORTED AS A CONTACT (F1) on {reported}. Keep self-isolating until the end of {until} as the "
                "health station advised. Until then this phone gives you no F2 warnings."),
}


@dataclass(frozen=True)
class OwnReport:
    """One upload this phone made with an authority code."""

    reported_at: int
    report_type: int
    tier: Tier  # the uploader's tier: F0 (confirmed or likely) or F1 (recursive)
    isolate_until: dt.date
    keys: int
    revision_token: str = ""

    @property
    def reported_on(self) -> dt.date:
        return utc_date(self.reported_at)

    def message(self, language: str) -> str:
        from .matching.alerts import format_date

        return _(_TEXT[self.tier], reported=format_date(self.reported_on, language),
                 until=format_date(self.isolate_until, language)).text(language)

    def as_json(self, language: str) -> dict[str, Any]:
        return {"tier": self.tier.label, "report_type": ReportType(self.report_type).name.lower(),
                "reported_on": self.reported_on.isoformat(), "isolate_until": self.isolate_until.isoformat(),
                "message": self.message(language)}


class NothingToRevoke(Exception):
    """A revoking code on a phone that has no report (or no token) to revoke."""

    message = N_("This code withdraws an earlier report, but this phone has no report to withdraw: nothing was "
                 "sent. Ask the health station; the code must be used on the phone that reported.")


def tier_of(report_type: int) -> Tier:
    """The uploader's tier for a code's report type (RECURSIVE → F1, REVOKED →
    none: a revocation makes nobody a case, else F0)."""
    rt = ReportType(report_type)
    return Tier.F1 if rt is ReportType.RECURSIVE else Tier.NONE if rt is ReportType.REVOKED else Tier.F0


def record(store: Any, *, report_type: int, keys: int, isolation_days: int, revision_token: str = "",
           now: int | None = None) -> OwnReport:
    """Remember an upload (call once the server accepted it)."""
    now = store.now() if now is None else now
    report = OwnReport(now, int(report_type), tier_of(report_type),
                       utc_date(now) + dt.timedelta(days=int(isolation_days)), keys, revision_token)
    store.add_own_report(reported_at=now, report_type=report.report_type, tier=int(report.tier),
                         isolate_until=report.isolate_until, keys=keys, revision_token=revision_token)
    return report


def reports(store: Any) -> list[OwnReport]:
    """Every remembered upload, oldest first."""
    return [OwnReport(r["reported_at"], r["report_type"], r["tier"], r["isolate_until"], r["keys"],
                      r["revision_token"]) for r in store.own_reports()]


def standing(every: list[OwnReport]) -> list[OwnReport]:
    """The reports that still count: those after the newest revocation."""
    last = max((i for i, r in enumerate(every) if ReportType(r.report_type) is ReportType.REVOKED), default=-1)
    return every[last + 1:]


def revoked(store: Any) -> OwnReport | None:
    """The newest revocation, when nothing was reported after it."""
    every = reports(store)
    return every[-1] if every and ReportType(every[-1].report_type) is ReportType.REVOKED else None


def current(store: Any, today: dt.date | None = None) -> OwnReport | None:
    """The gravest standing report whose isolation has not ended (latest first on a tie)."""
    today = utc_date(store.now()) if today is None else today
    live = [r for r in standing(reports(store)) if r.isolate_until >= today]
    return max(live, key=lambda r: (int(r.tier), r.reported_at), default=None)


def latest_revision_token(store: Any) -> str:
    """The revision token of the newest upload (sent with the next one)."""
    tokens = [r.revision_token for r in reports(store) if r.revision_token]
    return tokens[-1] if tokens else ""


def suppression(own: list[OwnReport], exposure: Exposure) -> str | None:
    """Why ``exposure`` must not warn this phone, or ``None`` when it may.

    An F0 report covers every F1/F2 exposure dated up to its isolation end;
    an F1 report covers F2 exposures dated up to its isolation end; a
    revoked report covers nothing."""
    for r in standing(own):
        if exposure.date > r.isolate_until:
            continue
        if r.tier is Tier.F0 and exposure.tier in (Tier.F1, Tier.F2):
            return REPORTED_POSITIVE
        if r.tier is Tier.F1 and exposure.tier is Tier.F2:
            return REPORTED_CONTACT
    return None
