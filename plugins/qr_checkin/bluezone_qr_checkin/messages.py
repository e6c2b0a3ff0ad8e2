"""The texts a person reads when a QR code cannot be used, in one place.

Each is a :class:`bluezone.i18n.Message` (English msgid; the Vietnamese and
any other language come from the ``bluezone_qr_checkin`` catalogue), shown
in the deployment's languages where it is finally printed.
"""

from __future__ import annotations

from bluezone.i18n import _

NOT_A_VENUE_CODE = _("This QR code is not a Bluezone venue check-in code")
DAMAGED_CODE = _("The QR code is damaged or incomplete")
WRONG_VERSION = _("Unsupported QR code version")
NOT_YET_VALID = _("This event's QR code is not valid yet")
EXPIRED = _("This event's QR code has expired")
NO_QR_IN_IMAGE = _("No QR code found in the image")
NOT_A_TRACING_CODE = _("This QR code is not a Bluezone tracing code")
