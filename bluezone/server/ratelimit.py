"""In-memory rate limits for code redemption.

Two budgets (docs/server.md has the arithmetic):
* per client: ``verify_per_client_per_minute`` attempts per minute, keyed by
  an HMAC of the client address with a key made at start-up and never
  written anywhere, so the limiter holds no readable address and nothing
  survives a restart;
* global: ``verify_failures_per_minute`` failed redemptions per minute across
  all clients, which bounds a distributed guessing attack.

Fixed one-minute windows; state is a dict that is cleared each window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_client: int, failures: int, clock: Callable[[], float]):
        self.per_client = per_client
        self.failures = failures
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._window = -1
        self._clients: dict[bytes, int] = {}
        self._failed = 0

    def _roll(self) -> None:
        window = int(self.clock()) // 60
        if window != self._window:
            self._window, self._clients, self._failed = window, {}, 0

    def retry_after(self) -> int:
        return 60 - int(self.clock()) % 60

    def client_key(self, address: str | None) -> bytes:
        return hmac.new(self._key, (address or "").encode(), hashlib.sha256).digest()[:16]

    def allow(self, address: str | None) -> bool:
        """Count one attempt; False when this client or the global failure budget is spent."""
        self._roll()
        if self._failed >= self.failures:
            return False
        key = self.client_key(address)
        count = self._clients.get(key, 0)
        if count >= self.per_client:
            return False
        self._clients[key] = count + 1
        return True

    def failed(self) -> None:
        self._roll()
        self._failed += 1
