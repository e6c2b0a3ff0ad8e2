"""One federation round of a province server: fill the outbox, send it, import.

Run by ``bluezone serve`` every ``[federation] every_seconds`` and by
``bluezone authority federate`` once. Each step commits on its own, so a
gateway that is down stops the round after the outbox is filled: the
batches wait there for the next round.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from . import importer, outbox
from . import status as federation_status
from .client import GatewayClient, GatewayError
from .province import FederationSettings

log = logging.getLogger("bluezone.federation")


@dataclass
class RoundResult:
    batched: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    imported: list[importer.ImportResult] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"batched": len(self.batched), "sent": len(self.sent), "error": self.error,
                "imports": [{"batchTag": r.tag, "origin": r.origin, "result": r.result, "keys": r.keys,
                             "newKeys": r.new_keys, "skippedRecursive": r.skipped_recursive} for r in self.imported]}


def import_dates(now: int) -> list[str]:
    """Yesterday and today (UTC): a batch uploaded just before midnight is not missed."""
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    return [(today - dt.timedelta(days=1)).isoformat(), today.isoformat()]


async def run_round(server: Any, settings: FederationSettings, client: GatewayClient | None = None) -> RoundResult:
    """``server``: the province's :class:`~bluezone_authority.server.AuthorityServer`."""
    out = RoundResult()
    db, now = server.db, server.now()
    with db.transaction() as conn:
        out.batched = outbox.fill(conn, settings, server.keys.export_key, now)
    own_client = client is None
    client = client or GatewayClient(settings)
    try:
        with db.transaction() as conn:
            waiting = outbox.pending(conn)
        for p in waiting:
            await client.upload(p.tag, p.data, p.signature)
            with db.transaction() as conn:
                outbox.mark_sent(conn, p.tag, server.now())
            out.sent.append(p.tag)
        keys = settings.public_keys()
        for date in import_dates(now):
            last = db.one("SELECT tag FROM fed_imports WHERE date = ? ORDER BY seq DESC LIMIT 1", (date,))
            after = last[0] if last else None
            seen = {after}
            while True:
                batch = await client.download(date, after)
                if batch is None:
                    break
                if batch.tag in seen:  # a gateway that answers in a circle would keep this round forever
                    raise GatewayError("repeated_batch", f"the gateway sent batch {batch.tag} again")
                seen.add(batch.tag)
                with db.transaction() as conn:
                    out.imported.append(importer.import_batch(conn, date, batch, own_origin=settings.origin,
                                                              import_from=settings.import_from, public_keys=keys,
                                                              now=server.now(),
                                                              accept_recursive=server.settings.recursive_reports))
                after = batch.tag
    except GatewayError as e:
        out.error = e.code
        log.warning("federation: gateway %s: %s (the outbox keeps %d batches for the next round)",
                    settings.gateway_url, e, len(db.all("SELECT tag FROM fed_outbox WHERE sent_at IS NULL")))
    finally:
        if own_client:
            await client.close()
    federation_status.record_round(db, server.now(), out.error)
    return out


def status(server: Any) -> dict[str, Any]:
    """Counts for staff (GET /v1/authority/federation, the portal's page): nothing about people."""
    return federation_status.collect(server.db).as_json()
