"""Cover traffic on the phone: decoy reports and declarations on their own schedule.

Why a schedule of its own: a decoy that always follows a sync (right after
the index downloads) is told apart by its place in the sequence, whatever
its size. Each kind of decoy (:data:`bluezone.transports.wire.DECOY_KINDS`)
therefore has its own due time, drawn from an exponential distribution
(a Poisson process: the time of one decoy says nothing about the next, nor
about a real upload), kept in the store's meta table, and is sent by
``bluezone cover`` (from cron, or ``--loop`` to keep running) whenever it
is due, on its own connection, as a real report or declaration would be.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .models import DAY_SECONDS
from .upload import next_decoy_delay, send_decoys

#: Mean seconds between two decoys of each kind. Reports are the traffic most
#: worth hiding; declarations are rarer in real life and get rarer decoys.
MEAN_SECONDS = {"report": DAY_SECONDS, "declaration": 3 * DAY_SECONDS}


def _meta_key(kind: str) -> str:
    return f"next_decoy_at:{kind}"


@dataclass(frozen=True)
class CoverResult:
    """What one pass sent, and when the next decoy of any kind is due."""

    sent: list[str]
    next_due: int


def due_at(store: Any, kind: str, rng: random.Random | None = None) -> int:
    """When the next decoy of ``kind`` is due; a store that has none yet draws one
    from now (so a fresh phone does not send a decoy at once, which would mark
    the moment it was set up)."""
    value = store.get_meta(_meta_key(kind))
    if value is None:
        due = store.now() + int(next_decoy_delay(rng, MEAN_SECONDS[kind]))
        store.set_meta(_meta_key(kind), str(due))
        return due
    return int(value)


async def send_due(store: Any, transport: Any, rng: random.Random | None = None) -> CoverResult:
    """Send each kind of decoy that is due, then draw its next time.

    A decoy that cannot be sent (network down) is not retried: its next time
    is drawn as if it had gone, so failures leave no pattern either."""
    from .transport import TransportError

    sent: list[str] = []
    for kind in MEAN_SECONDS:
        if store.now() >= due_at(store, kind, rng):
            try:
                await send_decoys(transport, kind)
                sent.append(kind)
            except TransportError:
                pass
            store.set_meta(_meta_key(kind), str(store.now() + int(next_decoy_delay(rng, MEAN_SECONDS[kind]))))
    return CoverResult(sent, min(due_at(store, kind, rng) for kind in MEAN_SECONDS))
