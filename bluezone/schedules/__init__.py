"""Key schedules: how a daily secret becomes rotating broadcast identifiers.

A schedule is offered by a plugin through ``bluezone_key_schedules`` and
chosen by name in the deployment's ``[schedule]`` section. The built-in ones,
``gaen`` and ``dp3t-lowcost``, live in this package and register through
entry points like any third-party schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..models import DerivedIdentifier, ExposureKey


class ScheduleError(ValueError):
    """Bad input to a key schedule (wrong key length, bad metadata...)."""


@runtime_checkable
class KeySchedule(Protocol):
    """What a key schedule provides. See ``docs/hooks.md#bluezone_key_schedules``."""

    #: Name used in the deployment config and on the command line.
    name: str
    #: Length of the daily secret in bytes.
    key_length: int
    #: Length of one broadcast identifier in bytes.
    identifier_length: int
    #: How many intervals either side of an identifier's own interval a
    #: sighting may be and still match (clock skew between phones).
    match_tolerance_intervals: int

    def new_key(self, now: int) -> ExposureKey:
        """A fresh random key starting at the interval of ``now`` and running
        to the end of that UTC day."""

    def derive(
        self, key_data: bytes, start_interval: int, count: int, metadata: bytes | None = None
    ) -> Iterator[DerivedIdentifier]:
        """The identifiers broadcast for ``count`` consecutive identifier slots
        from ``start_interval`` on, with encrypted metadata when given."""

    def identifiers(self, key: ExposureKey) -> Iterator[DerivedIdentifier]:
        """Every identifier of a published key, for matching (no metadata)."""

    def broadcast(self, key_data: bytes, key_start: int, at_interval: int, metadata: bytes) -> DerivedIdentifier:
        """The identifier (with encrypted metadata) to advertise at ``at_interval``."""

    def decrypt_metadata(self, key_data: bytes, identifier: bytes, encrypted: bytes) -> bytes:
        """Recover the metadata a matched sighting carried (TX power lives there)."""


def parse_hex(value: str, what: str = "value") -> bytes:
    """Hex text → bytes with an error message a person can act on."""
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ScheduleError(f"{what} is not valid hex: {value!r}") from None
