"""Purges on a schedule inside long-running commands.

A store is purged when it opens and on every sync; a command that keeps it
open for days (``trace`` on the real radio, anything that loops) would
otherwise keep contact data past the retention window for as long as it
runs. The loop calls :meth:`PurgeTimer.tick` at each step (each scan); the
timer purges at most once per ``every`` seconds of the store's clock, so a
step costs a subtraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Retention is counted in days; an hour late is the most a running command may be.
PURGE_EVERY_SECONDS = 3600


@dataclass
class PurgeTimer:
    """Purge ``store`` (a :class:`~.device.DeviceStore`) when ``every``
    seconds have passed since the last purge (the store purged on open)."""

    store: Any
    every: int = PURGE_EVERY_SECONDS
    last: int = field(default=-1)

    def __post_init__(self) -> None:
        if self.last < 0:
            self.last = self.store.now()

    def tick(self) -> dict[str, int] | None:
        """Purge if due; returns the counts of a purge, else None."""
        now = self.store.now()
        if now - self.last < self.every:
            return None
        self.last = now
        return self.store.purge(now)
