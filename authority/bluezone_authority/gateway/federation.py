"""One federation round of a province server: fill the outbox, send it, import.

Run by ``bluezone serve`` every ``[federation] every_seconds`` and by
``bluezone authority federate`` once. Each step commits on its own, so a
gateway that is down stops the round after the outbox is filled: the
batches wait there for the next round. A batch the gateway refuses for good
(:data:`.outbox.PERMANENT_REFUSALS`) is set aside instead, and the round goes
on with the next batch and the imports.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..server.database import off_loop
from . import importer, outbox
from . import status as federation_status
from .client import GatewayClient, GatewayError
from .province import FederationSettings

log = logging.getLogger("bluezone.federation")
T = TypeVar("T")


@dataclass
class RoundResult:
    batched: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    imported: list[importer.ImportResult] = field(default_factory=list)
    #: (tag, the gateway's code) of each outbox batch refused for good in this round
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: keys of batches refused with ``duplicate_keys`` that the gateway did not hold, set free to go again
    released: int = 0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"batched": len(self.batched), "sent": len(self.sent), "error": self.error,
                "refused": [{"batchTag": tag, "reason": code} for tag, code in self.refused],
                "released": self.released,
                "imports": [{"batchTag": r.tag, "origin": r.origin, "result": r.result, "keys": r.keys,
                             "newKeys": r.new_keys, "skippedRecursive": r.skipped_recursive} for r in self.imported]}


def import_dates(now: int) -> list[str]:
    """Yesterday and today (UTC): a batch uploaded just before midnight is not missed."""
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    return [(today - dt.timedelta(days=1)).isoformat(), today.isoformat()]


def _in_transaction(db: Any, fn: Callable[..., T], *args: Any) -> T:
    """``fn(conn, *args)`` in one transaction of ``db`` (what each step commits)."""
    with db.transaction() as conn:
        return fn(conn, *args)


async def run_round(server: Any, settings: FederationSettings, client: GatewayClient | None = None) -> RoundResult:
    """``server``: the province's :class:`~bluezone_authority.server.AuthorityServer`.

    Every database step goes through :func:`~..server.database.off_loop`, as the
    request handlers' do: on PostgreSQL a worker thread waits for the database,
    so the server keeps answering phones during a round."""
    out = RoundResult()
    db, now = server.db, server.now()

    async def step(fn: Callable[..., T], *args: Any) -> T:
        return await off_loop(db.backend, _in_transaction, db, fn, *args)

    out.batched = await step(outbox.fill, settings, server.keys.export_key, now)
    own_client = client is None
    client = client or GatewayClient(settings)
    try:
        for p in await step(outbox.pending):
            try:
                await client.upload(p.tag, p.data, p.signature)
            except GatewayError as e:
                if not outbox.is_permanent(e.code, e.status):
                    raise  # the gateway's side: the batch waits for the next round
                # refused for good: sending it again would fail the same way and hold up the rest
                await step(outbox.mark_refused, p.tag, e.code, server.now())
                out.refused.append((p.tag, e.code))
                log.warning("federation: the gateway refused batch %s for good (%s); it is set aside and the "
                            "round goes on", p.tag, e)
                clashing = outbox.clashing_positions(e.detail, p.key_count) if e.code == "duplicate_keys" else None
                if clashing is not None:  # the keys the gateway does not hold leave in a new batch next round
                    out.released += await step(outbox.release_unclashed, p.tag, clashing)
                continue
            await step(outbox.mark_sent, p.tag, server.now())
            out.sent.append(p.tag)
        keys = settings.public_keys()
        for date in import_dates(now):
            last = await off_loop(db.backend, db.one,
                                  "SELECT tag FROM fed_imports WHERE date = ? ORDER BY seq DESC LIMIT 1", (date,))
            after = last[0] if last else None
            seen = {after}
            while True:
                batch = await client.download(date, after)
                if batch is None:
                    break
                if batch.tag in seen:  # a gateway that answers in a circle would keep this round forever
                    raise GatewayError("repeated_batch", f"the gateway sent batch {batch.tag} again")
                seen.add(batch.tag)
                out.imported.append(await step(functools.partial(
                    importer.import_batch, own_origin=settings.origin, import_from=settings.import_from,
                    public_keys=keys, now=server.now(), accept_recursive=server.settings.recursive_reports),
                    date, batch))
                after = batch.tag
    except GatewayError as e:
        out.error = e.code
        waiting = await off_loop(db.backend, db.one,
                                 "SELECT count(*) FROM fed_outbox WHERE sent_at IS NULL AND refused IS NULL")
        log.warning("federation: gateway %s: %s (the outbox keeps %d batches for the next round)",
                    settings.gateway_url, e, waiting[0])
    finally:
        if own_client:
            await client.close()
    await off_loop(db.backend, federation_status.record_round, db, server.now(), out.error)
    return out


def status(server: Any) -> dict[str, Any]:
    """Counts for staff (GET /v1/authority/federation, the portal's page): nothing about people."""
    return federation_status.collect(server.db).as_json()
