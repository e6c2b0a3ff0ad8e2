"""Delivering a declaration: the submitter contract, retries and reporting.

Submitters come from the ``bluezone_declaration_submitters`` hook by name;
the deployment chooses which run (``[declarations] submitters``). Each gets
a :class:`Submission` — the sealed bytes for the health authority and the
plaintext for submitters the person explicitly agreed to (an external NCOVI
endpoint needs the answers themselves) — and returns a receipt or raises
:class:`SubmitError`. :func:`submit_all` runs them all and returns one
:class:`SubmitResult` each: a failure is reported to the person, never
swallowed, and never stops the other submitters.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..i18n import N_, _, _n, text
from ..plugins import call_hook, collect_named
from .declaration import Declaration
from .form import Form

T = TypeVar("T")


class SubmitError(Exception):
    """A submitter could not deliver. ``retryable`` says whether trying again
    (now or later) may help; ``attempts`` how many tries were made."""

    def __init__(self, message: str, *, retryable: bool = False, attempts: int = 1, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.attempts = attempts
        self.status = status


@dataclass(frozen=True)
class Submission:
    """What a submitter may deliver. ``sealed`` opens only with the authority's key."""

    sealed: bytes
    declaration: Declaration
    form: Form


@dataclass
class SubmitResult:
    """The outcome of one submitter, shown to the person and testable."""

    submitter: str
    ok: bool
    receipt: str | None = None
    error: str | None = None
    attempts: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    def line(self, language: str = "en") -> str:
        """The outcome in the person's language (a built-in submitter by its name in words)."""
        name = submitter_words(self.submitter, language)
        if self.ok:
            return _("{name}: delivered (receipt {receipt})", name=name, receipt=self.receipt).text(language)
        return _n("{name}: NOT delivered after {n} attempt — {error}", "{name}: NOT delivered after {n} attempts — {error}",
                  self.attempts, name=name, error=self.error).text(language)


#: Built-in submitters as a person reads them; a plugin's submitter keeps its own name.
SUBMITTER_WORDS = {"authority": N_("The health authority")}


def submitter_words(name: str, language: str) -> str:
    return text(SUBMITTER_WORDS[name], language) if name in SUBMITTER_WORDS else name


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: ``base · 2^(n-1)``, capped."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        if hint is not None:
            return min(self.max_delay, max(0.0, hint))
        d = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return d * (0.5 + random.random() / 2)


async def with_retries(
    operation: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """Run ``operation(attempt)`` until it succeeds or a non-retryable
    :class:`SubmitError` (or the last attempt) ends it. Returns (value, attempts)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation(attempt), attempt
        except SubmitError as e:
            e.attempts = attempt
            if not e.retryable or attempt >= policy.attempts:
                raise
            await sleep(policy.delay(attempt, getattr(e, "retry_after", None)))


def installed_submitters(pm: Any) -> dict[str, Any]:
    """Submitter factories by name, from every installed plugin."""
    return collect_named(call_hook(pm.hook.bluezone_declaration_submitters), "declaration submitter")


async def submit_all(submission: Submission, names: list[str], config: Any, pm: Any = None) -> list[SubmitResult]:
    """Deliver through each named submitter; one result per name, in order."""
    factories = installed_submitters(pm if pm is not None else config.pm)
    results: list[SubmitResult] = []
    for name in names:
        if name not in factories:
            known = ", ".join(sorted(factories)) or "none"
            results.append(SubmitResult(name, False, attempts=0, error=str(_(
                "no submitter named {name!r} (installed: {known})", name=name, known=known))))
            continue
        try:
            submitter = factories[name](config)
            value = submitter.submit(submission)
            receipt = await value if inspect.isawaitable(value) else value
            attempts = getattr(submitter, "last_attempts", 1)
            results.append(SubmitResult(name, True, receipt=str(receipt), attempts=attempts))
        except SubmitError as e:
            results.append(SubmitResult(name, False, error=e.message, attempts=e.attempts))
        except Exception as e:  # a plugin bug must still be reported, not lost
            results.append(SubmitResult(name, False, error=f"{type(e).__name__}: {e}"))
    return results
