"""Revising published keys: revision tokens and the allowed transitions.

Follows google/exposure-notifications-server (``internal/revision`` and
``Exposure.Revise``):

* every publish answers with a **revision token**: the uploaded keys (key
  bytes, rolling start, rolling period), plus those of the token the device
  sent, sealed with AES-GCM under a key derived from the server's code key
  and padded to a multiple of 30 entries so its size does not say how many
  keys it holds. It is opaque to the device, which keeps it and sends it
  back (``revisionToken``) with its next publish;
* a publish whose keys are already stored must carry a token that lists
  each of them with the same rolling start and period: only the device that
  uploaded a key can revise it (it also needs a new verification code);
* the report type may only move from **likely** (clinical diagnosis) to
  **confirmed** (a test), or from likely or confirmed to **revoked**; a key
  is revised at most once; publishing a key again with the type it already
  has changes nothing. Anything else is refused with ``invalid_revision``;
* a revocation is certified like any report: staff issue a code of test
  type "negative" and the person's own phone publishes its keys again with
  it and its revision token. Keys the token does not list are not stored
  then (a revocation publishes nothing new), and one without a token is
  ``revision_token_required``. So no stored key names the code, the staff
  member or the upload it came with: only the phone's token can find them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bluezone.i18n import _
from bluezone.models import ExposureKey, ReportType

from .errors import ApiError, bad_request

#: Entries are padded to a multiple of this (a publish carries at most 30 keys).
PAD_TO = 30
_ENTRY = struct.Struct(">16sIH")  # key bytes, rolling start, rolling period
_AAD = b"bluezone revision token v1"
#: A token the server wrote is at most a few kB; anything longer is not one.
MAX_TOKEN_CHARS = 8192

#: GAEN report types as the publish API names them.
NAMES = {ReportType.CONFIRMED_TEST: "confirmed", ReportType.CONFIRMED_CLINICAL_DIAGNOSIS: "likely",
         ReportType.SELF_REPORT: "self_report", ReportType.RECURSIVE: "recursive", ReportType.REVOKED: "revoked",
         ReportType.UNKNOWN: "unknown"}


def _key(code_key: bytes) -> bytes:
    return hmac.new(code_key, b"bluezone revision token key", hashlib.sha256).digest()


def make_token(code_key: bytes, keys: dict[bytes, tuple[int, int]]) -> str:
    """The token for ``keys`` (key bytes → (rolling start, rolling period))."""
    entries = [_ENTRY.pack(k, start, period) for k, (start, period) in sorted(keys.items())]
    while not entries or len(entries) % PAD_TO:
        entries.append(_ENTRY.pack(bytes(16), 0, 0))
    nonce = os.urandom(12)
    sealed = AESGCM(_key(code_key)).encrypt(nonce, b"".join(entries), _AAD)
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def open_token(code_key: bytes, token: Any) -> dict[bytes, tuple[int, int]]:
    """The keys a token lists, or a 400 ``invalid_revision_token``."""
    refused = bad_request("invalid_revision_token", _("the revision token is not valid"))
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        plain = AESGCM(_key(code_key)).decrypt(raw[:12], raw[12:], _AAD)
    except (binascii.Error, ValueError, InvalidTag):
        raise refused from None
    if len(plain) % _ENTRY.size:
        raise refused
    out = {}
    for i in range(0, len(plain), _ENTRY.size):
        k, start, period = _ENTRY.unpack_from(plain, i)
        if period:  # padding has period 0
            out[k] = (start, period)
    return out


@dataclass(frozen=True)
class Revision:
    """One stored key moving to a new report type."""

    key_data: bytes
    old: ReportType
    new: ReportType


def check_transition(old: int, revised_at: int | None, new: int) -> bool:
    """Whether moving a key from ``old`` to ``new`` is a revision (True), a
    repeat that changes nothing (False), or refused (409 ``invalid_revision``)."""
    old_t, new_t = ReportType(old), ReportType(new)
    if old_t is new_t:
        return False
    if revised_at is not None:
        raise ApiError(409, "invalid_revision", _("this key was already revised and cannot be revised again"))
    likely = (ReportType.CONFIRMED_CLINICAL_DIAGNOSIS, ReportType.UNKNOWN)
    if not ((old_t in likely and new_t in (ReportType.CONFIRMED_TEST, ReportType.REVOKED))
            or (old_t is ReportType.CONFIRMED_TEST and new_t is ReportType.REVOKED)):
        raise ApiError(409, "invalid_revision",
                       _("a report can only move from likely to confirmed, or from likely or confirmed to revoked, "
                         "not {old} → {new}",
                         old=NAMES[old_t], new=NAMES[new_t]))
    return True


def plan(conn: Any, keys: list[ExposureKey], report_type: int, token: Any, code_key: bytes
         ) -> tuple[list[ExposureKey], list[Revision], dict[bytes, tuple[int, int]]]:
    """Split a publish into new keys and revisions of stored ones, checking
    the token and every transition first (nothing is written here).
    Returns (new keys, revisions, the keys the token listed)."""
    marks = ",".join("?" * len(keys))
    stored = {r[0]: r[1:] for r in conn.execute(
        f"SELECT key_data, rolling_start, rolling_period, report_type, revised_at FROM exposure_keys"
        f" WHERE key_data IN ({marks})", [k.key_data for k in keys])}
    listed = open_token(code_key, token) if token else {}
    revoking = ReportType(report_type) is ReportType.REVOKED
    if revoking and not token:
        raise ApiError(409, "revision_token_required",
                       _("a revocation is sent by the phone that reported, with the revision token of its upload"))
    if stored and not token:
        raise ApiError(409, "duplicate_upload",
                       _("these keys were already published; send the revision token of that upload to revise them"))
    new: list[ExposureKey] = []
    revisions: list[Revision] = []
    for k in keys:
        if k.key_data not in stored:
            if not revoking:  # a revocation publishes nothing new
                new.append(k)
            continue
        start, period, old, revised_at = stored[k.key_data]
        # The token lists keys as they were stored (the server may have widened
        # a key's interval when it stored it), so the stored values are compared.
        if listed.get(k.key_data) != (start, period):
            raise ApiError(403, "revision_token_mismatch", _("the revision token does not cover these keys"))
        if check_transition(old, revised_at, report_type):
            revisions.append(Revision(k.key_data, ReportType(old), ReportType(report_type)))
    return new, revisions, listed


def apply(conn: Any, revisions: list[Revision], *, now: int, transmission_risk: dict[bytes, int],
          dsos: dict[bytes, int | None]) -> int:
    """Store revisions: the new report type, when (to the hour: no exact second
    of an upload is kept), and from what. A key not
    yet in any file is simply published with its new type (``revised_batch``
    empty: nothing to announce again); a published one waits for the next
    export, which lists it under ``revised_keys``."""
    for r in revisions:
        conn.execute(
            "UPDATE exposure_keys SET revised_from = report_type, report_type = ?, revised_at = ?,"
            " transmission_risk = coalesce(?, transmission_risk), dsos = coalesce(?, dsos),"
            " revised_batch = CASE WHEN batch IS NULL THEN '' ELSE NULL END WHERE key_data = ?",
            (int(r.new), now // 3600 * 3600, transmission_risk.get(r.key_data), dsos.get(r.key_data), r.key_data))
    return len(revisions)
