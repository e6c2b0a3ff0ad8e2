"""Linking a declaration to an alert the device showed.

After an F1, F2 or venue alert the client offers to declare. What travels
with the declaration is deliberately tiny: the tier and the UTC date of the
exposure, plus a verification code when the authority asked for one. Never
keys, identifiers, scores, the alert's source or a venue (docs/privacy.md):
:meth:`Linkage.to_dict` is the *only* way linkage enters a declaration, and
a test checks its keys.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ..i18n import _
from ..models import Alert, Tier

#: Verification codes as the authority issues them (google/exposure-notifications-verification-server):
#: short = 8 digits, long = 16 characters of [a-z0-9].
CODE_PATTERN = re.compile(r"^(?:\d{8}|[a-z0-9]{16})$")

#: Tiers for which the client offers a linked declaration.
LINKABLE_TIERS = (Tier.F1, Tier.F2)


class LinkageError(ValueError):
    """Linkage data is malformed (bad tier, date or code)."""


def normalise_code(code: str) -> str:
    """Accept a code as people type it (spaces, dashes, capitals) or refuse it."""
    compact = re.sub(r"[\s-]", "", code).lower()
    if not CODE_PATTERN.fullmatch(compact):
        raise LinkageError(_("a verification code is 8 digits or 16 letters and digits"))
    return compact


@dataclass(frozen=True)
class Linkage:
    """The tier and exposure date of an alert (and an optional authority code)."""

    tier: Tier
    exposure_date: dt.date
    verification_code: str | None = None

    def __post_init__(self) -> None:
        if self.tier not in LINKABLE_TIERS:
            raise LinkageError(f"only {', '.join(t.name for t in LINKABLE_TIERS)} alerts link to a declaration")
        if self.verification_code is not None:
            object.__setattr__(self, "verification_code", normalise_code(self.verification_code))

    @classmethod
    def from_alert(cls, alert: Alert, verification_code: str | None = None) -> "Linkage":
        """Keep only tier and date of the alert; everything else stays on the phone."""
        return cls(alert.tier, alert.exposure_date, verification_code)

    def with_code(self, code: str | None) -> "Linkage":
        return Linkage(self.tier, self.exposure_date, code)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tier": self.tier.name, "exposure_date": self.exposure_date.isoformat()}
        if self.verification_code:
            out["verification_code"] = self.verification_code
        return out

    @classmethod
    def from_dict(cls, data: Any) -> "Linkage":
        if not isinstance(data, dict) or set(data) - {"tier", "exposure_date", "verification_code"}:
            raise LinkageError("linkage must be {tier, exposure_date[, verification_code]}")
        try:
            tier = Tier[str(data["tier"])]
            day = dt.date.fromisoformat(str(data["exposure_date"]))
        except (KeyError, ValueError):
            raise LinkageError("linkage needs a tier (F1, F2) and an exposure_date (YYYY-MM-DD)") from None
        code = data.get("verification_code")
        if code is not None and not isinstance(code, str):
            raise LinkageError("verification_code must be text")
        return cls(tier, day, code)


def offers(alerts: list[Alert]) -> list[Linkage]:
    """Linkages the client offers, newest exposure first, one per (tier, day).

    BLE and venue alerts of the same tier and day collapse into one offer, so
    the authority cannot even tell which kind of alert it was.
    """
    seen: dict[tuple[Tier, dt.date], Linkage] = {}
    for a in alerts:
        if a.tier in LINKABLE_TIERS:
            seen.setdefault((a.tier, a.exposure_date), Linkage(a.tier, a.exposure_date))
    return sorted(seen.values(), key=lambda link: (link.exposure_date, link.tier), reverse=True)


def offers_from_store(store: Any) -> list[Linkage]:
    """Offers for every alert a device store holds (within retention)."""
    return offers(store.alerts())
