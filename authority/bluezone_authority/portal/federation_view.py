"""The portal's federation page: what the staff API's federation status says, for people.

Administrators see whether batches leave (the outbox: waiting, sent, the last
round and its error) and what came from each other province (batches and keys
imported, F1 keys left out, batches refused with their reason), so a broken
certificate or a province whose key changed is noticed without reading logs.
It shows only the counts, tags and codes that the status holds, never a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluezone.i18n import N_

from ..gateway import status as federation_status

#: What a refusal or a round's error code means, in words (the code is shown beside it).
REASONS = {
    "bad_signature": N_("the signature does not match the province's signing key"),
    "no_signing_key": N_("no signing key of this province is configured ([federation] signing_keys)"),
    "malformed_batch": N_("the batch is not well formed"),
    "origin_mismatch": N_("the origin inside the batch is not the one the gateway announced"),
    "unreachable": N_("the gateway could not be reached"),
    "repeated_batch": N_("the gateway sent the same batch twice in one round"),
    "malformed_answer": N_("the gateway's answer was malformed"),
    "answer_too_large": N_("the gateway's answer was too large"),
    "unknown_province": N_("the gateway does not know this province's certificate"),
    "http_error": N_("the gateway answered with an HTTP error"),
}


@dataclass(frozen=True)
class FederationPage:
    """What the template shows."""

    configured: bool
    gateway_url: str | None
    origin: str | None
    include_recursive: bool
    recursive_reports: bool
    status: federation_status.FederationStatus


def collect(server: Any) -> FederationPage:
    settings = server.federation
    return FederationPage(configured=settings is not None,
                          gateway_url=settings.gateway_url if settings else None,
                          origin=settings.origin if settings else None,
                          include_recursive=bool(settings and settings.include_recursive),
                          recursive_reports=server.settings.recursive_reports,
                          status=federation_status.collect(server.db))


def reason(code: str | None) -> str | None:
    """The msgid describing ``code`` (None for a code this page has no words for)."""
    return REASONS.get(code) if code else None
