"""What ``bluezone authority issue-code`` shows the staff member at the desk.

The code is read aloud or written on a slip for the person, so the lines
say what a person at the desk needs: the code, what it is for in words (not
a GAEN report-type number) and until when it works, in the deployment's
time zone as Vietnamese people write dates (not a Unix time). ``--json``
keeps the server's answer for scripts.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from bluezone.i18n import N_, Message, _
from bluezone.models import ReportType

#: the code's purpose in words, by the report type its upload will carry
PURPOSES: dict[int, str] = {
    int(ReportType.CONFIRMED_TEST): N_("F0, a case confirmed by a positive test"),
    int(ReportType.CONFIRMED_CLINICAL_DIAGNOSIS): N_("F0, a case confirmed by a clinical diagnosis"),
    int(ReportType.RECURSIVE): N_("F1, a close contact who publishes to warn their own contacts (F2)"),
    int(ReportType.REVOKED): N_("withdraws this person's earlier report (the test was negative)"),
}


def local_time(timestamp: int, timezone: str) -> str:
    """``14:05 ngày 06/12/2026`` style: hour and day/month/year in the deployment's zone."""
    when = dt.datetime.fromtimestamp(timestamp, zoneinfo.ZoneInfo(timezone))
    return when.strftime("%H:%M %d/%m/%Y")


def code_lines(issued: dict[str, Any], timezone: str) -> list[Message]:
    """The lines for one issued code (``issued`` is the server's answer)."""
    purpose = PURPOSES.get(int(issued["reportType"]))
    return [
        _("Code: {code}", code=issued["code"]),
        _("For: {purpose}", purpose=Message(purpose) if purpose else issued["reportType"]),
        _("Valid until: {when} ({timezone})", when=local_time(int(issued["expiresAt"]), timezone),
          timezone=timezone),
    ]
