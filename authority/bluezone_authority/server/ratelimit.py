"""Per-client rate limits for every unauthenticated write, and the guard
against guessing verification codes.

Who is a client: :func:`client_address` — the TCP peer, or, only when the
peer is one of ``[server] trusted_proxies``, the right-most address in
``X-Forwarded-For`` that is not a trusted proxy (the address our own proxy
saw; everything left of it is whatever the client claimed). IPv6 clients are
counted per /64, the block one subscriber gets.

Nothing here holds a readable address: clients are keyed by an HMAC of the
address with a key made at start-up and never written anywhere, so the
tables cannot be turned back into addresses and nothing survives a restart.
State is in fixed one-minute windows, per process by default; the workers of
``bluezone serve --workers N`` share one HMAC key and count in the database
(:mod:`.shared_limits`), so each budget holds once for all of them.

The limits are built so that an attacker cannot turn them against real users
(docs/server.md has the arithmetic):

* :meth:`RateLimits.hit` — ``per_minute`` requests per client and bucket
  (``verify``, ``upload``, ``declaration``, ``decoy``, and any bucket a
  plugin names through :func:`limit`). One client's flood never spends
  another client's budget.
* :meth:`RateLimits.guess_allowed` / :meth:`RateLimits.guess_succeeded` —
  code redemption; every attempt counts as failed until its code is accepted. While all clients together fail fewer than
  ``verify_failures_per_minute`` times a minute, only the per-client budget
  applies. Above it the server is "under attack": a client that failed in
  this or the previous minute is refused until it has been clean for a full
  minute, while a client that has not failed — a citizen typing a valid code
  — is still served. The global bound costs only those who guess.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable

from aiohttp import web

from bluezone.i18n import _

from .errors import ApiError
from .offload import Runner, in_place
from .shared_limits import Guess, MemoryWindows, WindowStore

#: At most this many clients are tracked per table and minute (about 100 bytes
#: each); beyond it new clients are refused until the minute ends, so a flood
#: of addresses cannot exhaust memory.
MAX_CLIENTS = 200_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (``"10.0.0.0/8"``, ``"::1/128"``, or a single address); ValueError names a bad one."""
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(str(v).strip(), strict=False))
        except ValueError:
            raise ValueError(_("trusted_proxies: '{value}' is not an IP address or CIDR network", value=v)) from None
    return tuple(out)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    candidates = [text]
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        candidates.append(text[1:text.index("]")])
    elif text.count(":") == 1:  # "203.0.113.7:5000"
        candidates.append(text.split(":", 1)[0])
    for c in candidates:
        try:
            ip = ipaddress.ip_address(c.split("%", 1)[0])
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        return ip
    return None


def _trusted(text: str, networks: tuple[Network, ...]) -> bool:
    ip = _parse_ip(text)
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)


def client_address(request: web.Request, trusted: tuple[Network, ...] = ()) -> str:
    """The address a request is counted under (see the module docstring).

    ``X-Forwarded-For`` is read only when the direct peer is a trusted proxy;
    otherwise anyone could pick a fresh address per request."""
    peer = request.remote or ""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for line in request.headers.getall("X-Forwarded-For", []) for h in line.split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _normalise(address: str) -> str:
    ip = _parse_ip(address)
    if ip is None:
        return address  # opaque (e.g. a unix socket); still only ever stored as an HMAC
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimits:
    """The rules behind :func:`limit` and the verify guard; the counting is
    done by a window store (:mod:`.shared_limits`): this process's memory by
    default, the database when several workers must share one budget.

    ``key`` is the HMAC key that turns addresses into client keys; workers
    sharing a store must share it (their parent makes it and never writes it).
    ``run`` is where the store's counting runs (:mod:`.offload`): right on the
    event loop for the in-memory store and SQLite, in a thread when the store
    is a PostgreSQL table (a network round trip per check)."""

    def __init__(self, clock: Callable[[], float], trusted_proxies: Iterable[str] = (),
                 max_clients: int = MAX_CLIENTS, store: WindowStore | None = None, key: bytes | None = None,
                 run: Runner = in_place):
        self.clock = clock
        self.trusted = parse_networks(trusted_proxies)
        self.max_clients = max_clients
        self.store: WindowStore = store if store is not None else MemoryWindows()
        self._key = key if key is not None else secrets.token_bytes(32)
        self._run = run

    def _window(self) -> int:
        return int(self.clock()) // 60

    def retry_after(self) -> int:
        """Seconds until the current window ends (for ``Retry-After``)."""
        return 60 - int(self.clock()) % 60

    def client_key(self, request: web.Request) -> bytes:
        """HMAC of the request's client address (never the address itself)."""
        address = _normalise(client_address(request, self.trusted))
        return hmac.new(self._key, address.encode(), hashlib.sha256).digest()[:16]

    async def hit(self, request: web.Request, bucket: str, per_minute: int) -> int:
        """Count one request of this client in ``bucket``: 0 if allowed, else
        the seconds to wait."""
        if await self._run(self.store.hit, self._window(), bucket, self.client_key(request), per_minute,
                           self.max_clients):
            return 0
        return self.retry_after()

    # -- code redemption --------------------------------------------------------------

    async def under_attack(self, failures_per_minute: int) -> bool:
        """True while all clients together fail at least ``failures_per_minute``
        times in this or the previous minute."""
        window = self._window()
        now, before = await self._run(lambda: (self.store.failures(window), self.store.failures(window - 1)))
        return max(now, before) >= failures_per_minute

    async def guess_allowed(self, request: web.Request, per_client: int, failures_per_minute: int) -> int:
        """0 when this client may try a code now, else the seconds to wait.

        An admitted attempt counts as a failure at once, and stops counting
        only when :meth:`guess_succeeded` says its code was accepted: requests
        in flight cannot overrun the global bound, and under attack parallel
        requests of one client get one guess, not one each."""
        wait = await self.hit(request, "verify", per_client)
        if wait:
            return wait
        answer = await self._run(self.store.guess, self._window(), self.client_key(request), failures_per_minute,
                                 self.max_clients)
        if answer == Guess.FAILED_NOW:
            return self.retry_after() + 60  # clean for a whole minute first
        if answer in (Guess.FAILED_BEFORE, Guess.FULL):
            return self.retry_after()
        return 0

    async def guess_succeeded(self, request: web.Request) -> None:
        """The client's code was accepted: it is not a guesser (undoes the
        failure :meth:`guess_allowed` counted in advance)."""
        await self._run(self.store.succeeded, self._window(), self.client_key(request))


LIMITS: web.AppKey[RateLimits] = web.AppKey("bluezone_rate_limits", RateLimits)


def limits_of(request: web.Request) -> RateLimits:
    """The server's :class:`RateLimits` (from a plugin route or a sub-application too)."""
    return request.config_dict[LIMITS]


def too_many(retry_after: int) -> ApiError:
    """The 429 every limit answers with: bilingual, with ``Retry-After``."""
    return ApiError(429, "rate_limited", _("too many requests; try again in {seconds} s", seconds=retry_after),
                    {"Retry-After": str(retry_after)})


async def limit(request: web.Request, bucket: str, per_minute: int) -> None:
    """Allow ``per_minute`` requests per client in ``bucket``, else raise a 429.

    The helper for plugin routes, e.g. ``await limit(request, "venue-trace", 10)``
    at the top of an unauthenticated handler, before any expensive work. A
    coroutine because with several workers on PostgreSQL the count is a
    database round trip, run off the event loop."""
    wait = await limits_of(request).hit(request, bucket, per_minute)
    if wait:
        raise too_many(wait)


__all__ = ["LIMITS", "RateLimits", "client_address", "limit", "limits_of", "parse_networks", "too_many"]
