"""Verification codes → tokens → certificates (GAEN verification protocol).

The health authority issues a one-time code for a case; the device redeems
it for a token, then exchanges the token and the HMAC of its keys for a
certificate that the publish step checks. Each step is one-way: a code gives
one token, a token one certificate, a certificate one publish.

Codes are stored as HMAC-SHA256 with the server's code key, tokens as SHA-256.
Short codes: 8 digits, 15 minutes. Long codes: 16 characters of [a-z0-9],
24 hours. See docs/server.md for why guessing one is infeasible.

What is kept links nothing to an upload: times are stored to the hour
(``created_at``, ``certified_at``, ``used_at``), and once the keys are
published :func:`mark_used` forgets the staff member who issued the code
and the code's and token's hashes, so neither the code (which a linked
declaration may carry) nor the staff log leads to the published keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from bluezone.i18n import _
from bluezone.models import INTERVALS_PER_DAY, ReportType, day_start_interval

from . import jws
from .db import ServerDB
from .errors import ApiError, bad_request
from .keys import ServerKeys
from .publish import hour_of
from .settings import ServerSettings

LONG_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
#: What staff may issue a code for. "negative" (Google's verification server's
#: test type for a report found false) certifies a revocation: the phone that
#: reported re-sends its keys with it and its revision token (docs/server.md).
REPORT_TYPES = {"confirmed": ReportType.CONFIRMED_TEST, "likely": ReportType.CONFIRMED_CLINICAL_DIAGNOSIS,
                "negative": ReportType.REVOKED}
CERT_AUDIENCE = "bluezone-publish"


@dataclass(frozen=True)
class IssuedCode:
    code: str
    kind: str
    expires_at: int
    report_type: int
    id: str


def new_code(kind: str) -> str:
    if kind == "short":
        return f"{secrets.randbelow(10 ** 8):08d}"
    return "".join(secrets.choice(LONG_ALPHABET) for _i in range(16))


def code_hash(keys: ServerKeys, code: str) -> bytes:
    return hmac.new(keys.code_key, code.strip().lower().encode(), hashlib.sha256).digest()


def check_recursive_allowed(report_type: Any, allow_recursive: bool) -> None:
    """Refuse an F1 (RECURSIVE) code, token or certificate while the deployment
    has ``recursive_reports`` off. Checked at every step (issue, verify,
    certificate, publish), not only when the code is issued: switching the
    setting off must stop codes that were handed out while it was on."""
    if report_type == int(ReportType.RECURSIVE) and not allow_recursive:
        raise ApiError(403, "recursive_disabled", _("this deployment does not publish F1 (recursive) reports"))


def _date_interval(value: Any, what: str, now: int, max_days_ago: int) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_request("invalid_date", _("{what} must be a date YYYY-MM-DD", what=what))
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise bad_request("invalid_date", _("{what} must be a date YYYY-MM-DD", what=what)) from None
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    if day > today:
        raise bad_request("invalid_date", _("{what} is in the future", what=what))
    if (today - day).days > max_days_ago:
        raise bad_request("invalid_date", _("{what} is more than {days} days ago", what=what, days=max_days_ago))
    epoch = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()
    return day_start_interval(epoch)


def issue_code(db: ServerDB, keys: ServerKeys, settings: ServerSettings, request: dict[str, Any], *,
               now: int, issued_by: str | None, allow_recursive: bool) -> IssuedCode:
    """Validate an authority request and store a new one-time code."""
    tier = request.get("tier", "F0")
    kind = request.get("kind", "short")
    # every field is checked for its JSON type first: a list or an object
    # must be a 400, never a TypeError (``[] in {...}`` is unhashable)
    if not isinstance(kind, str) or kind not in ("short", "long"):
        raise bad_request("invalid_kind", _("kind must be 'short' or 'long'"))
    if not isinstance(tier, str):
        raise bad_request("invalid_tier", _("tier must be 'F0' or 'F1'"))
    if tier == "F0":
        rt = request.get("reportType", "confirmed")
        if not isinstance(rt, str) or rt not in REPORT_TYPES:
            raise bad_request("invalid_report_type", _("reportType must be 'confirmed', 'likely' or 'negative'"))
        report_type = REPORT_TYPES[rt]
    elif tier == "F1":
        check_recursive_allowed(ReportType.RECURSIVE, allow_recursive)
        report_type = ReportType.RECURSIVE
    else:
        raise bad_request("invalid_tier", _("tier must be 'F0' or 'F1'"))
    onset = _date_interval(request.get("symptomOnsetDate"), "symptomOnsetDate", now, 14)
    test = _date_interval(request.get("testDate"), "testDate", now, 14)
    lifetime = settings.short_code_minutes * 60 if kind == "short" else settings.long_code_hours * 3600
    for _attempt in range(8):  # a collision with a live code is astronomically rare; retry anyway
        code = new_code(kind)
        digest = code_hash(keys, code)
        if db.one("SELECT 1 FROM codes WHERE code_hash = ?", (digest,)) is None:
            break
    code_id = secrets.token_hex(12)
    with db.transaction() as c:
        c.execute(
            "INSERT INTO codes (id, code_hash, kind, report_type, symptom_onset_interval, test_date_interval,"
            " created_at, expires_at, state, issued_by) VALUES (?,?,?,?,?,?,?,?,'issued',?)",
            (code_id, digest, kind, int(report_type), onset, test, hour_of(now), now + lifetime, issued_by))
    return IssuedCode(code, kind, now + lifetime, int(report_type), code_id)


def redeem_code(db: ServerDB, keys: ServerKeys, settings: ServerSettings, code: Any, *, now: int) -> dict[str, Any]:
    """Code → token. Raises 400 ``invalid_code`` for any unknown code (no hint
    whether it ever existed), ``code_expired`` or ``code_used``."""
    if not isinstance(code, str) or not 8 <= len(code.strip()) <= 16:
        raise bad_request("invalid_code", _("the code is not valid"))
    row = db.one("SELECT id, expires_at, state, report_type, symptom_onset_interval, test_date_interval, code_hash"
                 " FROM codes WHERE code_hash = ?", (code_hash(keys, code),))
    if row is None or not hmac.compare_digest(row[6], code_hash(keys, code)):
        raise bad_request("invalid_code", _("the code is not valid"))
    code_id, expires_at, state, report_type, onset, test, _hash = row
    if state != "issued":
        raise bad_request("code_used", _("this code was already used"))
    if now >= expires_at:
        raise bad_request("code_expired", _("this code has expired; ask the health authority for a new one"))
    check_recursive_allowed(report_type, settings.recursive_reports)
    token = "bzt_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    token_expires = now + settings.token_hours * 3600
    with db.transaction() as c:
        cur = c.execute("UPDATE codes SET state='claimed', token_hash=?, token_expires_at=? WHERE id=? AND state='issued'",
                        (hashlib.sha256(token.encode()).digest(), token_expires, code_id))
        if cur.rowcount != 1:
            raise bad_request("code_used", _("this code was already used"))
    return {"token": token, "reportType": report_type, "symptomOnsetInterval": onset,
            "testDateInterval": test, "expiresAt": token_expires}


def issue_certificate(db: ServerDB, keys: ServerKeys, settings: ServerSettings, token: Any, ekeyhmac: Any, *,
                      now: int) -> dict[str, Any]:
    """Token + HMAC of the keys → certificate (ES256 JWT, short-lived)."""
    if not isinstance(token, str) or not token.startswith("bzt_") or len(token) > 100:
        raise bad_request("invalid_token", _("the token is not valid"))
    try:
        mac = base64.b64decode(ekeyhmac, validate=True) if isinstance(ekeyhmac, str) else b""
    except ValueError:
        mac = b""
    if len(mac) != 32:
        raise bad_request("invalid_hmac", _("ekeyhmac must be the base64 of a 32-byte HMAC-SHA256"))
    digest = hashlib.sha256(token.encode()).digest()
    row = db.one("SELECT id, state, token_expires_at, report_type, symptom_onset_interval, test_date_interval,"
                 " token_hash FROM codes WHERE token_hash = ?", (digest,))
    if row is None or not hmac.compare_digest(row[6], digest):
        raise bad_request("invalid_token", _("the token is not valid"))
    code_id, state, token_expires, report_type, onset, test, _hash = row
    if state != "claimed":
        raise bad_request("token_used", _("this token was already used"))
    if now >= token_expires:
        raise bad_request("token_expired", _("this token has expired"))
    check_recursive_allowed(report_type, settings.recursive_reports)
    exp = now + settings.certificate_minutes * 60
    claims = {"iss": "bluezone", "aud": CERT_AUDIENCE, "jti": code_id, "iat": now, "exp": exp,
              "tekmac": base64.b64encode(mac).decode(), "reportType": report_type,
              "symptomOnsetInterval": onset, "testDateInterval": test}
    cert = jws.sign(claims, keys.certificate_key, kid="cert-v1")
    with db.transaction() as c:
        cur = c.execute("UPDATE codes SET state='certified', certified_at=? WHERE id=? AND state='claimed'",
                        (hour_of(now), code_id))
        if cur.rowcount != 1:
            raise bad_request("token_used", _("this token was already used"))
    return {"certificate": cert, "expiresAt": exp}


def mark_used(conn: Any, code_id: Any, now: int) -> None:
    """Spend a code whose keys are being published (inside the publish transaction).

    The row stays (the dashboard counts uploads per day; retention deletes
    it), but with nothing that leads from a person to the keys: the issuing
    staff member is forgotten, the code and token hashes are replaced by
    random bytes (a code read from a linked declaration finds no row), and
    every time is cut to its hour."""
    conn.execute("UPDATE codes SET state = 'used', used_at = ?, issued_by = NULL, code_hash = ?, token_hash = NULL,"
                 " created_at = created_at / 3600 * 3600, certified_at = certified_at / 3600 * 3600,"
                 " expires_at = expires_at / 3600 * 3600, token_expires_at = token_expires_at / 3600 * 3600"
                 " WHERE id = ?", (hour_of(now), secrets.token_bytes(32), code_id))


def scrub_used(conn: Any) -> None:
    """:func:`mark_used`'s forgetting, applied to codes spent before it existed (a migration step)."""
    for (code_id,) in conn.execute("SELECT id FROM codes WHERE state = 'used'").fetchall():
        conn.execute("UPDATE codes SET issued_by = NULL, code_hash = ?, token_hash = NULL,"
                     " created_at = created_at / 3600 * 3600, certified_at = certified_at / 3600 * 3600,"
                     " expires_at = expires_at / 3600 * 3600, token_expires_at = token_expires_at / 3600 * 3600,"
                     " used_at = used_at / 3600 * 3600 WHERE id = ?", (secrets.token_bytes(32), code_id))
    conn.execute("UPDATE codes SET created_at = created_at / 3600 * 3600,"
                 " certified_at = certified_at / 3600 * 3600 WHERE state != 'used'")


def check_certificate(keys: ServerKeys, certificate: Any, *, now: int) -> dict[str, Any]:
    """The claims of a certificate this server signed and that has not expired."""
    try:
        claims = jws.verify(certificate, keys.certificate_key.public_key())
    except jws.JWSError:
        raise bad_request("invalid_certificate", _("the certificate is not valid")) from None
    if claims.get("aud") != CERT_AUDIENCE or not isinstance(claims.get("exp"), int):
        raise bad_request("invalid_certificate", _("the certificate is not for publishing"))
    if now >= claims["exp"]:
        raise bad_request("certificate_expired", _("the certificate has expired; redeem a new code"))
    return claims


def onset_from_claims(claims: dict[str, Any]) -> int | None:
    """Symptom onset interval; the test date stands in when onset is unknown (as GAEN does)."""
    onset = claims.get("symptomOnsetInterval")
    if onset is None:
        onset = claims.get("testDateInterval")
    return onset if isinstance(onset, int) else None


__all__ = ["IssuedCode", "check_recursive_allowed", "issue_code", "redeem_code", "issue_certificate", "check_certificate",
           "onset_from_claims", "mark_used", "scrub_used", "INTERVALS_PER_DAY"]
