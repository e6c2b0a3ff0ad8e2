"""The authority server's logic, independent of HTTP.

:class:`AuthorityServer` owns the database, the secrets and the settings and
offers one method per operation, taking and returning JSON-able dicts. The
aiohttp handlers are thin wrappers around it, and the in-process
``loopback`` transport calls it directly, so both paths run exactly the same
validation. Plugins reach it from their routes with :func:`server_of`
(``request.app[SERVER]``) and use the helpers documented in docs/server.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bluezone.i18n import _
from bluezone.models import DAY_SECONDS, INTERVALS_PER_DAY, ReportType

from . import codes, declaration_pages, declaration_quota, exporter, publish, revision, staff
from .database import lock_in
from .db import ServerDB
from .errors import ApiError, bad_request
from .keys import ServerKeys, load_or_create
from .settings import ServerSettings

# Declarations keep only the hour they arrived: enough for retention and
# triage, too coarse to join with network logs.
HOUR = 3600
#: The form name a device sends with a declaration (``ncovi``, ``ncovi/1+gia-lai-2``).
FORM_NAME = re.compile(r"^[a-z0-9][a-z0-9._+/-]{0,31}$")
#: A declaration's receipt, as :meth:`AuthorityServer.accept_declaration` makes it.
RECEIPT = re.compile(r"^[0-9a-f]{24}$")
log = logging.getLogger("bluezone.server")


class AuthorityServer:
    def __init__(self, settings: ServerSettings, *, clock: Callable[[], float] = time.time,
                 config: Any = None):
        self.settings = settings
        self.config = config
        self.clock = clock
        # checked first, so two plugins claiming one role stop the server before it opens anything
        self._roles: dict[str, staff.StaffRole] = staff.known_roles(getattr(config, "pm", None))
        self.db = ServerDB(settings.database, plugins=getattr(config, "pm", None))
        self._quota_logged_hour: int | None = None
        self.keys: ServerKeys = load_or_create(Path(settings.secrets_file), settings.signing_key)
        Path(settings.export_dir).mkdir(parents=True, exist_ok=True)
        exporter.sync_directory(self.db, settings.export_dir)
        from ..gateway.province import FederationSettings

        #: ``[federation]`` (docs/federation.md), None when this province does not federate
        self.federation: FederationSettings | None = FederationSettings.from_config(config) if config else None

    @classmethod
    def from_config(cls, config: Any, **kw: Any) -> "AuthorityServer":
        return cls(ServerSettings.from_config(config), config=config, **kw)

    def now(self) -> int:
        return int(self.clock())

    def close(self) -> None:
        self.db.close()

    # -- staff -------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, *roles: str) -> staff.StaffMember:
        """The staff member behind the header, checked for one of ``roles`` (admin passes all)."""
        member = staff.authenticate(self.db, authorization)
        return staff.require_role(member, *roles) if roles else member

    @property
    def roles(self) -> dict[str, staff.StaffRole]:
        """The core's staff roles plus the plugins' (``bluezone_staff_roles``)."""
        return self._roles

    def create_staff_token(self, name: str, role: str) -> tuple[staff.StaffMember, str]:
        return staff.create_staff_token(self.db, name, role, self.now(), self.roles)

    # -- verification --------------------------------------------------------------------

    def issue_code(self, request: dict[str, Any], issued_by: str | None = None) -> dict[str, Any]:
        issued = codes.issue_code(self.db, self.keys, self.settings, _obj(request), now=self.now(),
                                  issued_by=issued_by, allow_recursive=self.settings.recursive_reports)
        return {"code": issued.code, "kind": issued.kind, "expiresAt": issued.expires_at,
                "reportType": issued.report_type, "id": issued.id}

    def verify(self, body: Any) -> dict[str, Any]:
        return codes.redeem_code(self.db, self.keys, self.settings, _obj(body).get("code"), now=self.now())

    def certificate(self, body: Any) -> dict[str, Any]:
        body = _obj(body)
        return codes.issue_certificate(self.db, self.keys, self.settings, body.get("token"), body.get("ekeyhmac"),
                                       now=self.now())

    # -- publish ---------------------------------------------------------------------------

    def publish(self, body: Any) -> dict[str, Any]:
        """Validate everything first, then store keys and spend the certificate
        in one transaction: a refused upload leaves no trace."""
        body = _obj(body)
        now = self.now()
        claims = codes.check_certificate(self.keys, body.get("verificationPayload"), now=now)
        # a certificate for an F1 code issued while recursive reports were on
        # must not publish after they are switched off
        codes.check_recursive_allowed(claims.get("reportType"), self.settings.recursive_reports)
        share = body.get("shareBeyondProvince", False)
        if not isinstance(share, bool):
            raise bad_request("invalid_consent", _("shareBeyondProvince must be true or false"))
        keys = publish.parse_keys(body.get("temporaryExposureKeys"))
        publish.check_keys(keys, now=now)
        publish.check_hmac(keys, body.get("hmacKey"), str(claims.get("tekmac", "")))
        report_type = int(claims["reportType"])
        stored = publish.derive(keys, report_type, codes.onset_from_claims(claims), now=now,
                                embargo_seconds=int(self.settings.embargo_hours * 3600))
        token = body.get("revisionToken")
        with self.db.transaction() as conn:
            lock_in(conn, f"code:{claims.get('jti')}")  # PostgreSQL: a second upload of this certificate waits, then sees it used
            row = conn.execute("SELECT state FROM codes WHERE id = ?", (claims.get("jti"),)).fetchone()
            if row is None or row[0] != "certified":
                raise ApiError(409, "certificate_used", _("this certificate was already used"))
            # keys already stored are revisions: allowed only with this device's token (see revision.py)
            new, revisions, listed = revision.plan(conn, keys, report_type, token, self.keys.code_key)
            fresh = {k.key_data for k in new}
            conn.executemany(
                "INSERT INTO exposure_keys (key_data, rolling_start, rolling_period, transmission_risk,"
                " report_type, dsos, created_at, available_at, share_beyond) VALUES (?,?,?,?,?,?,?,?,?)",
                [(s.key.key_data, s.key.rolling_start_interval_number, s.key.rolling_period,
                  s.key.transmission_risk_level, int(s.key.report_type), s.key.days_since_onset_of_symptoms,
                  publish.hour_of(now), s.available_at, int(share)) for s in stored if s.key.key_data in fresh])
            # a revoked key keeps its risk fields; a confirmed one takes those of its new report type
            kept = report_type == int(ReportType.REVOKED)
            revised = revision.apply(
                conn, revisions, now=now,
                transmission_risk={} if kept else {s.key.key_data: s.key.transmission_risk_level for s in stored},
                dsos={} if kept else {s.key.key_data: s.key.days_since_onset_of_symptoms for s in stored})
            codes.mark_used(conn, claims["jti"], now)
        # the token lists every key of this device as stored (what a revision is checked against)
        covered = {**listed, **{s.key.key_data: (s.key.rolling_start_interval_number, s.key.rolling_period)
                                for s in stored if s.key.key_data in fresh}}
        return {"insertedExposures": len(new), "revisedExposures": revised,
                "revisionToken": revision.make_token(self.keys.code_key, covered)}

    def embargo(self) -> dict[str, Any]:
        """Keys not yet published, by when they may be (counts and times only):
        those still under embargo, those waiting for the next export, and
        revisions waiting to be announced."""
        now = self.now()
        waiting = self.db.all(
            "SELECT available_at, count(*) FROM exposure_keys WHERE batch IS NULL AND report_type != ?"
            " AND available_at > ? GROUP BY available_at ORDER BY available_at", (int(ReportType.REVOKED), now))
        ready = self.db.one("SELECT count(*) FROM exposure_keys WHERE batch IS NULL AND report_type != ?"
                            " AND available_at <= ?", (int(ReportType.REVOKED), now))
        revised = self.db.one("SELECT count(*) FROM exposure_keys WHERE revised_at IS NOT NULL"
                              " AND revised_batch IS NULL AND batch IS NOT NULL")
        return {"now": now, "embargoHours": self.settings.embargo_hours, "batchMinutes": self.settings.batch_minutes,
                "embargoed": [{"availableAt": t, "keys": n} for t, n in waiting],
                "readyForNextExport": ready[0] if ready else 0, "revisionsForNextExport": revised[0] if revised else 0}

    # -- feeds -------------------------------------------------------------------------------

    def export_now(self) -> dict[str, Any]:
        """Build a key batch now (the scheduler calls this every ``batch_minutes``)."""
        batch = exporter.build_key_batch(self.db, self.keys, self.settings, now=self.now())
        # keys imported from other provinces go into a file of their own (docs/federation.md)
        other = exporter.build_key_batch(self.db, self.keys, self.settings, now=self.now(), imported=True)
        out: dict[str, Any] = {"batch": None}
        if batch is not None:
            out = {"batch": batch.name, "feed": batch.feed, "realKeys": batch.real_items, "bytes": batch.size}
        if other is not None:
            out["otherProvinceBatch"] = {"batch": other.name, "realKeys": other.real_items, "bytes": other.size}
        return out

    def publish_payload(self, feed: str, payload: bytes, *, start_ts: int, end_ts: int,
                        real_items: int = 1, conn: Any = None) -> exporter.Batch:
        """Helper for plugins: sign ``payload`` with the export key and append it to ``feed``.

        Pass ``conn`` (inside :meth:`ServerDB.transaction`) to append the batch in
        the same transaction as what authorised it (a one-time token), so a
        crash cannot spend one without the other; then call
        :meth:`write_feed_files` after the commit."""
        return exporter.publish_payload(self.db, self.keys, self.settings, feed, payload, start_ts=start_ts,
                                        end_ts=end_ts, now=self.now(), real_items=real_items, conn=conn)

    def write_feed_files(self, feed: str) -> None:
        """Bring the export directory's files of ``feed`` up to date with the database."""
        exporter.sync_directory(self.db, self.settings.export_dir, feeds=[feed])

    def feed_index(self, feed: str) -> tuple[str, str]:
        """(index text, ETag) of a feed."""
        exporter.check_feed_name(feed)
        text = exporter.index_text(self.db, feed)
        return text, exporter.etag_of(text)

    def feed_file(self, feed: str, name: str) -> bytes | None:
        exporter.check_feed_name(feed)
        return exporter.batch_data(self.db, feed, name)

    # -- one-time authority tokens (venue traces and other plugins) -------------------------

    def issue_one_time_token(self, purpose: str, meta: dict[str, Any] | None = None,
                             issued_by: str | None = None) -> dict[str, Any]:
        """A token that authorises exactly one later request for ``purpose``;
        stored hashed, expires after ``one_time_token_hours``."""
        if not isinstance(purpose, str) or not exporter.FEED_NAME.match(purpose):
            raise bad_request("invalid_purpose", _("purpose must be 1-32 of a-z, 0-9 and '-'"))
        token = "bzo_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        now = self.now()
        expires = now + self.settings.one_time_token_hours * 3600
        with self.db.transaction() as c:
            c.execute("INSERT INTO one_time_tokens (token_hash, purpose, meta, created_at, expires_at, issued_by)"
                      " VALUES (?,?,?,?,?,?)",
                      (staff.token_hash(token), purpose, json.dumps(meta or {}), now, expires, issued_by))
        return {"token": token, "purpose": purpose, "expiresAt": expires}

    def _usable_token(self, c: Any, token: Any, purpose: str) -> dict[str, Any]:
        """The meta of an unspent, unexpired token for ``purpose``, or the ApiError that refuses it."""
        if not isinstance(token, str) or not token.startswith("bzo_") or len(token) > 100:
            raise ApiError(403, "invalid_authority_token", _("the authority token is not valid"))
        row = c.execute("SELECT purpose, meta, expires_at, used_at FROM one_time_tokens WHERE token_hash = ?",
                        (staff.token_hash(token),)).fetchone()
        if row is None or row[0] != purpose:
            raise ApiError(403, "invalid_authority_token", _("the authority token is not valid"))
        if row[3] is not None:
            raise ApiError(409, "authority_token_used", _("the authority token was already used"))
        if self.now() >= row[2]:
            raise ApiError(403, "authority_token_expired", _("the authority token has expired"))
        return json.loads(row[1])

    def check_one_time_token(self, token: Any, purpose: str) -> dict[str, Any]:
        """Check a one-time token without spending it; returns its meta.

        For routes whose work is expensive: refuse a bad token with one
        indexed lookup before doing any of it, then spend the token with
        :meth:`consume_one_time_token` once the work is done."""
        with self.db.transaction() as c:
            return self._usable_token(c, token, purpose)

    def consume_one_time_token(self, token: Any, purpose: str, conn: Any = None) -> dict[str, Any]:
        """Spend a one-time token; returns the meta it was issued with.

        Pass ``conn`` (inside :meth:`ServerDB.transaction`) to spend it in the
        same transaction as what it authorises, so a failure spends nothing."""
        def spend(c: Any) -> dict[str, Any]:
            lock_in(c, f"one-time-token:{token}")  # PostgreSQL: spent once even by two requests at the same moment
            meta = self._usable_token(c, token, purpose)
            c.execute("UPDATE one_time_tokens SET used_at = ? WHERE token_hash = ?", (self.now(), staff.token_hash(token)))
            return meta
        if conn is not None:
            return spend(conn)
        with self.db.transaction() as c:
            return spend(c)

    # -- declarations ------------------------------------------------------------------------

    def accept_declaration(self, body: Any) -> dict[str, Any]:
        """Store a sealed declaration as received: the server has no key to open it."""
        body = _obj(body)
        sealed_b64, form = body.get("sealed"), body.get("form", "ncovi")
        if not isinstance(sealed_b64, str):
            raise bad_request("invalid_declaration", _("sealed must be base64 text"))
        if not isinstance(form, str) or not FORM_NAME.match(form):  # shown to staff: no control or bidi characters
            raise bad_request("invalid_declaration", _("form must be 1-32 of a-z, 0-9 and . _ + / -"))
        try:
            sealed = base64.b64decode(sealed_b64, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("invalid_declaration", _("sealed is not valid base64")) from None
        if len(sealed) < 48:  # a libsodium sealed box is at least 48 bytes (32 + 16)
            raise bad_request("invalid_declaration", _("sealed is too short to be a sealed box"))
        if len(sealed) > self.settings.declaration_max_bytes:
            raise ApiError(413, "too_large", _("the declaration is too large"))
        receipt = secrets.token_hex(12)
        hour = self.now() // HOUR * HOUR
        try:
            with self.db.transaction() as c:
                declaration_quota.reserve(c, hour, len(sealed), since=self._retention_cutoff(),
                                          max_count=self.settings.declaration_quota_count,
                                          max_bytes=self.settings.declaration_quota_bytes)
                c.execute("INSERT INTO declarations (id, sealed, received_hour, form) VALUES (?,?,?,?)",
                          (receipt, sealed, hour, form))
        except ApiError as err:
            if err.code == "declarations_full" and self._quota_logged_hour != hour:
                self._quota_logged_hour = hour  # one line an hour, not one per refused upload
                u = self.declaration_usage()
                log.warning("declaration quota reached: %d declarations, %d bytes stored within the retention "
                            "window (caps %d, %d); new declarations are refused with 507 until some expire "
                            "or [server] declaration_quota_count/_bytes is raised",
                            u.count, u.bytes, u.max_count, u.max_bytes)
            raise
        return {"receipt": receipt}

    def _retention_cutoff(self) -> int:
        return self.now() - self.settings.retention_days * DAY_SECONDS

    def declaration_usage(self) -> declaration_quota.Usage:
        """Declarations stored within the retention window against the caps (portal, logs)."""
        with self.db.transaction() as c:
            return declaration_quota.usage(c, self._retention_cutoff(), self.settings.declaration_quota_count,
                                           self.settings.declaration_quota_bytes)

    def list_declarations(self) -> list[dict[str, Any]]:
        """Every declaration's metadata (no ciphertext). Unbounded: the staff
        API and the portal use :meth:`declarations_page` instead."""
        return [{"id": r[0], "receivedHour": r[1], "form": r[2], "bytes": r[3]} for r in
                self.db.all("SELECT id, received_hour, form, length(sealed) FROM declarations ORDER BY received_hour, id")]

    def declarations_page(self, limit: Any = None, after: Any = None) -> dict[str, Any]:
        """One page of declaration metadata in reception order:
        ``{"declarations": [...], "next": cursor or None}``. ``after`` is the
        ``next`` of the previous page; keyset pagination, so a page costs the
        same however deep it is and retention between pages skips nothing."""
        n = declaration_pages.parse_limit(limit)
        start = declaration_pages.parse_cursor(after)
        rows = self.db.all("SELECT id, received_hour, form, length(sealed) FROM declarations"
                           " WHERE (received_hour, id) > (?, ?) ORDER BY received_hour, id LIMIT ?", (*start, n + 1))
        more = len(rows) > n
        rows = rows[:n]
        return {"declarations": [{"id": r[0], "receivedHour": r[1], "form": r[2], "bytes": r[3]} for r in rows],
                "next": declaration_pages.cursor(rows[-1][1], rows[-1][0]) if more else None}

    def sealed_page(self, after: tuple[int, str], limit: int) -> list[tuple[str, int, str, bytes]]:
        """(id, receivedHour, form, sealed) of up to ``limit`` declarations after
        ``after`` = (receivedHour, id) in reception order: the unit of the
        portal's streamed download, so memory stays at one page."""
        return [tuple(r) for r in self.db.all(
            "SELECT id, received_hour, form, sealed FROM declarations WHERE (received_hour, id) > (?, ?)"
            " ORDER BY received_hour, id LIMIT ?", (*after, limit))]

    def declaration(self, receipt: str) -> bytes | None:
        row = self.db.one("SELECT sealed FROM declarations WHERE id = ?", (receipt,))
        return row[0] if row else None

    def delete_declaration(self, receipt: Any) -> bool:
        """Delete one declaration by the receipt its sender was given (the
        person asked for their data to be deleted). True when it was there.
        Raises a 400 :class:`ApiError` for something that is not a receipt."""
        if not isinstance(receipt, str) or not RECEIPT.match(receipt):
            raise bad_request("invalid_receipt", _("a receipt is the 24 hexadecimal characters the phone was given"))
        with self.db.transaction() as c:
            lock_in(c, f"declaration:{receipt}")  # PostgreSQL: two deletions give its quota back once
            row = c.execute("SELECT received_hour, length(sealed) FROM declarations WHERE id = ?",
                            (receipt,)).fetchone()
            if row is None:
                return False
            c.execute("DELETE FROM declarations WHERE id = ?", (receipt,))
            declaration_quota.release(c, row[0], row[1])
        return True

    # -- retention -------------------------------------------------------------------------------

    def purge(self) -> dict[str, int]:
        """Delete what is older than the retention window: keys (by their
        rolling start), batches and their files, declarations, spent or
        expired codes and tokens, and what plugins keep (``bluezone_server_retention``)."""
        now = self.now()
        cutoff = now - self.settings.retention_days * DAY_SECONDS
        cutoff_interval = cutoff // 600
        feeds = [r[0] for r in self.db.all("SELECT DISTINCT feed FROM batches")]
        with self.db.transaction() as c:
            out = {
                "keys": c.execute("DELETE FROM exposure_keys WHERE rolling_start + rolling_period < ?",
                                  (cutoff_interval,)).rowcount,
                "batches": c.execute("DELETE FROM batches WHERE end_ts < ?", (cutoff,)).rowcount,
                "declarations": c.execute("DELETE FROM declarations WHERE received_hour < ?", (cutoff,)).rowcount,
                "codes": c.execute("DELETE FROM codes WHERE (state = 'used' AND used_at < ?) OR "
                                   "(coalesce(token_expires_at, expires_at) < ? AND state != 'certified') OR "
                                   "created_at < ?", (cutoff, now - DAY_SECONDS, cutoff)).rowcount,
                "one_time_tokens": c.execute("DELETE FROM one_time_tokens WHERE expires_at < ? OR used_at < ?",
                                             (now, cutoff)).rowcount,
                # federation (docs/federation.md): sent batches hold keys, so they go with the keys
                "fed_outbox": c.execute("DELETE FROM fed_outbox WHERE created_at < ?", (cutoff,)).rowcount,
                "fed_imports": c.execute("DELETE FROM fed_imports WHERE at < ?", (cutoff,)).rowcount,
            }
            declaration_quota.forget_before(c, cutoff)
            pm = getattr(self.config, "pm", None)
            if pm is not None:  # what plugins keep on the server (bluezone_server_retention)
                for counts in pm.hook.bluezone_server_retention(conn=c, cutoff=cutoff, now=now):
                    out.update(counts or {})
        exporter.sync_directory(self.db, self.settings.export_dir, feeds=feeds or None)
        return out


def _obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("invalid_json", _("the body must be a JSON object"))
    return body


__all__ = ["AuthorityServer", "INTERVALS_PER_DAY", "ReportType"]
