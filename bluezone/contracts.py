"""What a plugin provides, as typed Protocols: the objects the core calls.

Every object a plugin hands to the core through a hook has its contract
here (or, for the two that already had one, re-exported from where the core
uses it), so an author can check a plugin with a type checker and the
core's tests can check the first-party plugins against the same text:

* :class:`ProximitySource`, offered by ``bluezone_proximity_sources``:
  the core awaits ``source.run(store, schedule, config, **options)``;
* :class:`Feed`, offered by ``bluezone_feeds``: ``feed.match(batch, store, config)``;
* :class:`Transport`, made by a :data:`TransportFactory` offered by
  ``bluezone_transports``: its coroutines download and upload;
* :class:`KeySchedule`, offered by ``bluezone_key_schedules``;
* :class:`Scorer`: a plugin implementing ``bluezone_score_exposure_windows``;
* :class:`AlertSink`: a plugin implementing ``bluezone_deliver_alert``;
* :class:`Submitter`, made by a :data:`SubmitterFactory` offered by
  ``bluezone_declaration_submitters``: ``submitter.submit(submission)``;
* :class:`Form`, handed to ``bluezone_declaration_form``: the plugin calls
  its editing methods.

Why Protocols and not base classes: a plugin is any module or object, and
pluggy never asks for a common ancestor; a Protocol states the shape without
making plugins import a class to inherit from. :class:`Scorer` and
:class:`AlertSink` describe a *plugin* (a module or object with that hook
function), because scoring and delivery are hook implementations rather
than objects handed over; a module satisfies them as well as an instance.

This module imports only the data models, so ``import bluezone`` stays
cheap; the heavier types in the annotations are read by type checkers only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .models import Alert, DailyRisk, ExposureWindow
from .schedules import KeySchedule
from .transport import Transport

if TYPE_CHECKING:  # pragma: no cover - types only; these modules are heavier
    from .config import Config
    from .declarations.fields import Field, Text
    from .declarations.form import CrossCheck
    from .declarations.submit import Submission
    from .feed import Feed

__all__ = [
    "AlertSink", "Feed", "Form", "KeySchedule", "ProximitySource", "Scorer", "Submitter", "SubmitterFactory",
    "Transport", "TransportFactory",
]


@runtime_checkable
class ProximitySource(Protocol):
    """A source of sightings: the BLE radio, the radio simulator.

    ``run`` records sightings into ``store`` (a :class:`bluezone.DeviceStore`)
    with identifiers of ``schedule`` (a :class:`KeySchedule`) until it is
    cancelled or done, and returns what it wants to report (scan statistics,
    a simulation's ground truth). It may take more keyword arguments than
    these, each with a default, for the ``trace`` command's options.
    """

    #: Chosen with ``bluezone trace --source NAME``.
    name: str

    async def run(self, store: Any, schedule: KeySchedule, config: Config | None) -> Any: ...


@runtime_checkable
class Scorer(Protocol):
    """A plugin that turns exposure windows into daily risks
    (``bluezone_score_exposure_windows``, first result wins).

    Return ``None`` to let the next implementation answer. It runs inside
    the batch's store transaction, so it is synchronous.
    """

    def bluezone_score_exposure_windows(
        self, windows: list[ExposureWindow], config: Config
    ) -> list[DailyRisk] | None: ...


@runtime_checkable
class AlertSink(Protocol):
    """A plugin that tells the person about an alert
    (``bluezone_deliver_alert``; every sink is called for every alert).

    The alert is stored before sinks run, so a sink that raises is retried
    on the next sync. It may be ``async def``: the sync awaits it.
    """

    def bluezone_deliver_alert(self, alert: Alert, language: str, config: Config) -> Awaitable[None] | None: ...


@runtime_checkable
class Submitter(Protocol):
    """Delivers one health declaration somewhere (the authority, an
    NCOVI-style service): made by a factory offered through
    ``bluezone_declaration_submitters``, called with the deployment's config.

    ``submit`` returns a receipt a person can quote, or raises
    :class:`bluezone.SubmitError` (``retryable`` says whether to try later).
    It may be a coroutine.
    """

    #: The name the deployment uses in ``[declarations] submitters``.
    name: str

    def submit(self, submission: Submission) -> Awaitable[str] | str: ...


@runtime_checkable
class Form(Protocol):
    """The health-declaration form as ``bluezone_declaration_form`` hands it
    to a plugin: the editing methods a province's extension may call.

    Mark every extension with :meth:`mark_extended` so each declaration
    records which questions it answered.
    """

    def get(self, field_id: str) -> Field: ...

    def __contains__(self, field_id: str) -> bool: ...

    def __iter__(self) -> Iterator[Field]: ...

    def add_field(self, new: Field, *, after: str | None = None) -> None: ...

    def replace_field(self, new: Field) -> None: ...

    def remove_field(self, field_id: str) -> None: ...

    def add_section(self, section_id: str, label: Text) -> None: ...

    def add_check(self, check: CrossCheck) -> None: ...

    def mark_extended(self, tag: str) -> None: ...


#: What ``bluezone_transports`` maps a URL scheme to: ``factory(url, config)``.
TransportFactory = Callable[[str, Any], Transport]

#: What ``bluezone_declaration_submitters`` maps a name to: ``factory(config)``.
SubmitterFactory = Callable[[Any], Submitter]


def __getattr__(name: str) -> Any:
    # Feed lives with the code that collects feeds (it imports the plugin
    # machinery); fetched on first use so this module stays light.
    if name == "Feed":
        from .feed import Feed

        return Feed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
