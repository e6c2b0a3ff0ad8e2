"""Every plugin hook of Bluezone, in one file.

A plugin is any module or object with functions named like these and marked
with :data:`bluezone.hookimpl`. First-party plugins (the schedules and alert
sink inside this package, and the ``plugins/`` distributions) register through
the ``bluezone`` entry-point group exactly like a third-party plugin.

Sync or async: one table
------------------------
Every hookspec carries a :func:`kind` marker right under ``@hookspec``, and
:data:`HOOK_KINDS` collects them (``docs/hooks.md`` shows the same table):

* ``"sync"``: implementations must return plain values; an ``async def``
  implementation is refused when the plugin is registered, because the caller
  cannot wait (a feed's ``match`` runs inside a store transaction, the
  schema and command hooks run before any event loop exists);
* ``"either"``: an implementation may be ``async def`` (or return an
  awaitable); the async path awaits it with
  :func:`bluezone.plugins.call_hook_async`, synchronous tools run it to
  completion with :func:`bluezone.plugins.call_hook`.

Every hook here is listed, with an example, in ``docs/hooks.md``; a test
fails when one is missing there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pluggy

if TYPE_CHECKING:  # pragma: no cover - import cycle guard for type hints only
    from pathlib import Path

    import click

    from .config import Config, Problem
    from .contracts import Form, ProximitySource, SubmitterFactory, TransportFactory
    from .feed import Feed
    from .i18n import MessageCatalogue
    from .models import Alert, DailyRisk, Exposure, ExposureKey, ExposureWindow
    from .schedules import KeySchedule

hookspec = pluggy.HookspecMarker("bluezone")
hookimpl = pluggy.HookimplMarker("bluezone")

HookKind = Literal["sync", "either"]
_F = TypeVar("_F", bound=Callable[..., Any])


def kind(value: HookKind, why: str = "") -> Callable[[_F], _F]:
    """Mark a hookspec as sync-only or either; ``why`` ends up in the refusal
    message a plugin author sees, so it says what would break."""

    def mark(spec: _F) -> _F:
        spec.bluezone_kind = value  # type: ignore[attr-defined]
        spec.bluezone_kind_why = why  # type: ignore[attr-defined]
        return spec

    return mark


# --- configuration -----------------------------------------------------------


@hookspec
@kind("sync", "the deployment file is checked before any event loop runs")
def bluezone_config_schema() -> dict[str, Any]:
    """Claim top-level sections of the deployment TOML.

    Return ``{section_name: json_schema}``. ``bluezone config check`` validates
    each section with its schema and reports unknown sections, so a plugin's
    settings are checked as strictly as the core's. Sync only.

    A value may instead be a settings class made with
    :func:`bluezone.settings.section_settings` (it carries its schema); the
    section is then also available typed, as ``config.typed(TheClass)``.
    """


@hookspec
@kind("sync", "the file is checked before any event loop runs")
def bluezone_config_files() -> "dict[str, Callable[[Path], list[Problem]]]":
    """Claim another kind of TOML file than a deployment, by its top-level section.

    Return ``{section_name: check}``: ``bluezone config check FILE`` gives a
    file that has no ``[deployment]`` but has this section to ``check(path)``,
    which returns every problem it finds (:class:`bluezone.ConfigProblem`,
    each with its line, :func:`bluezone.find_config_line` finds it; an empty list: the file is fine), and prints them as
    it prints a deployment's. The authority's gateway file (``[gateway]``)
    is checked this way, so an operator has one command for every file.
    Sync only.
    """


@hookspec
@kind("sync", "catalogues are registered while the plugin set is built, before any event loop")
def bluezone_message_catalogues() -> "list[MessageCatalogue]":
    """Add this plugin's translations to the one message catalogue.

    Return :class:`bluezone.MessageCatalogue` objects (a gettext domain and
    the folder holding ``<language>/LC_MESSAGES/<domain>.mo``). Texts the
    plugin marks with :func:`bluezone.i18n._` are then looked up in the
    core's catalogue first and in the plugins' domains after it; a language
    named in ``[deployment] languages`` is offered once some catalogue has
    it. Sync only.
    """


# --- key schedules -----------------------------------------------------------


@hookspec
@kind("sync", "schedules are collected by synchronous tools")
def bluezone_key_schedules() -> "list[KeySchedule]":
    """Offer key schedules (objects following :class:`bluezone.KeySchedule`).

    A schedule turns a daily secret into broadcast identifiers and back. The
    deployment picks one by ``name`` in ``[schedule]``. Sync only.
    """


# --- proximity sources -------------------------------------------------------


@hookspec
@kind("sync", "it returns the sources; their run() is the async part")
def bluezone_proximity_sources() -> "list[ProximitySource]":
    """Offer proximity sources (:class:`bluezone.ProximitySource`): objects
    with a ``name`` and a ``run(store, schedule, config, **options)`` coroutine that records
    sightings into the device store until it is cancelled or finished.

    Examples: the real BLE scanner (``ble``) and the radio simulator (``sim``).
    Sync only (the sources themselves are async).
    """


# --- transports --------------------------------------------------------------


@hookspec
@kind("sync", "it returns factories; the transports' methods are the async part")
def bluezone_transports() -> "dict[str, TransportFactory]":
    """Offer transports by URL scheme: ``{"https": factory, ...}``.

    ``factory(url, config)`` returns a transport object that uploads
    (keys, declarations, decoys) and downloads published batches, following
    :class:`bluezone.Transport`. The deployment's authority URL
    picks the transport by its scheme (:func:`bluezone.transport.make_transport`).
    Sync only.
    """


# --- risk scoring ------------------------------------------------------------


@hookspec(firstresult=True)
@kind("sync", "it runs inside the batch's store transaction")
def bluezone_score_exposure_windows(
    windows: "list[ExposureWindow]", config: "Config"
) -> "list[DailyRisk] | None":
    """Turn exposure windows into daily risks.

    First result wins, so a province replaces the default GAEN v2 scoring by
    registering its own implementation (``tryfirst=True``) or by disabling
    the built-in ``risk-gaen`` plugin. Sync only: this sits on the hot path.
    """


# --- pipeline events ---------------------------------------------------------


@hookspec
@kind("sync", "each feed's match runs inside the batch's store transaction")
def bluezone_feeds() -> "list[Feed]":
    """Offer published feeds: objects following :class:`bluezone.Feed`
    (a ``name`` and ``match(batch, store, config) -> list[Exposure]``).

    A device downloads every feed offered here on sync and hands each batch
    to the object of its feed: the core's ``"keys"`` feed, the QR check-in
    plugin's ``"venue-traces"``. Two plugins offering one name is an error.
    ``match`` runs inside the batch's store transaction and must be
    synchronous; it raises :class:`bluezone.models.BadBatch` (or a subclass)
    for a damaged or untrusted file, which the sync then skips, stores
    nothing of, and fetches again next time. Sync only.
    """


@hookspec
@kind("either")
def bluezone_exposure_detected(exposure: "Exposure", config: "Config") -> None:
    """Event: an exposure was detected and stored (before its alert is shown)."""


@hookspec
@kind("either")
def bluezone_keys_uploaded(keys: "list[ExposureKey]", report_type: int, config: "Config") -> None:
    """Event: this device uploaded its keys with an authority code (the key
    schedule rotates early after this). Never called for decoy uploads."""


@hookspec
@kind("either")
def bluezone_sync_finished(stats: dict[str, Any], config: "Config") -> None:
    """Event: a sync finished; ``stats`` counts batches, keys and exposures."""


# --- alerts ------------------------------------------------------------------


@hookspec
@kind("either")
def bluezone_deliver_alert(alert: "Alert", language: str, config: "Config") -> Any:
    """Tell the person about an alert (console, notification, SMS gateway...).

    Every sink is called once per alert; the alert is already persisted, so
    a sink that fails is retried on the next sync. May return an awaitable.
    """


# --- health declarations -----------------------------------------------------


@hookspec
@kind("sync", "the form is built by synchronous code")
def bluezone_declaration_form(form: "Form", config: "Config") -> None:
    """Adjust the health-declaration form before it is shown: add, replace or
    remove fields (a province's extra questions) without forking.

    ``form`` is a :class:`bluezone.declarations.Form` (the default NCOVI form
    after earlier plugins ran); change it in place with ``add_field``,
    ``replace_field``, ``remove_field``, ``add_section`` and ``add_check``,
    and call ``form.mark_extended("my-province-1")`` so every declaration
    records which questions it answered. ``config`` may be ``None`` in tools
    that only need the schema. Sync only."""


@hookspec
@kind("sync", "it returns factories; a submitter's submit() may be async")
def bluezone_declaration_submitters() -> "dict[str, SubmitterFactory]":
    """Offer declaration submitters by name: ``{"ncovi": factory}``.

    ``factory(config)`` returns an object whose ``submit(submission)``
    delivers a :class:`bluezone.declarations.Submission` (``sealed`` bytes
    for the health authority; ``declaration`` and ``form`` in the clear for
    external services the person agreed to) and returns a receipt string,
    or raises :class:`bluezone.declarations.SubmitError` (may return an
    awaitable). The deployment picks which run with ``[declarations]
    submitters``; every failure is reported to the person, never dropped.
    The built-in ``authority`` submitter uploads the sealed bytes through
    the transport; ``ncovi-submitter`` posts to an NCOVI-style endpoint."""


# --- server and command line ----------------------------------------------------


@hookspec
@kind("sync", "routes are added while the application is built, before it runs")
def bluezone_server_routes(app: Any, config: "Config") -> None:
    """Add routes to the authority server's aiohttp application.

    Handlers reach the server with :func:`bluezone_authority.server.server_of` and use
    its helpers (staff roles, one-time authority tokens, ``publish_payload``
    into a feed, :class:`bluezone_authority.server.ApiError` for JSON errors); see
    docs/server.md. Sync only (the handlers themselves are async)."""


@hookspec
@kind("sync", "commands are added before the command line runs")
def bluezone_register_commands(cli: "click.Group") -> None:
    """Add commands to the ``bluezone`` command line (as llm and datasette do)."""


# --- data and UI a plugin owns -------------------------------------------------


@hookspec
@kind("sync", "migrations run while the store is being opened")
def bluezone_store_migrations() -> list[Any]:
    """Named migrations of the device store this plugin owns.

    Return items ``(owner, name, step)`` or
    :class:`bluezone.store.named_migrations.Migration`; ``step`` is SQL text
    or a function given a connection (``execute``/``executescript``). Each is
    applied once, after the core's, and recorded in the store's
    ``_migrations`` table, so the owner (your plugin's name, never
    ``"core"``) can own tables without the core knowing them. A plugin
    removed later leaves its tables and records alone. Never edit or rename a
    released step. Sync only."""


@hookspec
@kind("sync", "migrations run while the server database is being opened")
def bluezone_server_migrations() -> list[Any]:
    """Folders of Alembic revision files for the authority server's tables this plugin owns.

    Return paths (``str`` or :class:`~pathlib.Path`), usually one folder
    shipped as package data beside your module. Its revisions are on a
    branch of their own, labelled with your plugin's name (never
    ``"core"``), with ids that begin with that name and ``_`` (32 characters
    at most, e.g. ``sms_alerts_001_receipts``); the first may
    ``depends_on`` the core's ``001_schema`` when it needs core tables.
    The server (``bluezone serve`` and the authority commands) upgrades to
    every head, the core's and each installed plugin's, in one transaction
    when it opens its database. A plugin removed later leaves its tables and
    its row in ``alembic_version`` alone. Never edit a released revision.
    Sync only."""


@hookspec
@kind("sync", "it runs inside the server's retention transaction")
def bluezone_server_retention(conn: Any, cutoff: int, now: int) -> dict[str, int]:
    """Delete what this plugin keeps on the authority server that is older
    than ``cutoff`` (unix seconds; ``now`` minus the retention window).

    Called by the server's own retention (on start, every ``[server]
    retention_minutes`` and on ``POST /v1/authority/retention``) inside its
    transaction, on ``conn``; return ``{table: rows deleted}``. A plugin
    table holding personal data is thereby purged on schedule, not only when
    the plugin happens to run. Sync only."""


@hookspec
@kind("sync", "roles are collected when the server is built")
def bluezone_staff_roles() -> list[Any]:
    """Staff roles this plugin adds (:class:`bluezone_authority.server.staff.StaffRole`:
    name, a label -- an English msgid marked with ``N_`` and translated through
    the message catalogue --, the one-time token purposes it
    may issue). The server knows the core's roles plus these; creating a
    staff token or portal account with any other role is refused. Two
    plugins offering one role name is an error. Sync only."""


@hookspec
@kind("sync", "pages are added while the portal application is built")
def bluezone_portal_pages() -> list[Any]:
    """Pages this plugin adds to the staff portal
    (:class:`bluezone_authority.portal.extensions.PortalPages`: routes, a template
    folder whose templates write ``{{ _("English text") }}``, translated through
    the message catalogue in the request's language). Handlers use
    :func:`bluezone_authority.portal.extensions.staff_page` for the session, role and
    CSRF checks and ``render`` for the common layout. Sync only."""


@hookspec
@kind("sync", "links are read while a page is rendered")
def bluezone_portal_menu_links() -> list[Any]:
    """Links this plugin adds to the portal's navigation
    (:class:`bluezone_authority.portal.extensions.MenuLink`: key, path, a label
    -- an English msgid marked with ``N_``, shown translated -- and the role
    that sees it). Sync only."""


@hookspec
@kind("sync", "counters are read while the dashboard is rendered")
def bluezone_dashboard_counters() -> list[Any]:
    """Per-day counters this plugin adds to the portal's dashboard
    (:class:`bluezone_authority.portal.extensions.DashboardCounter`: a key, its label
    -- an English msgid marked with ``N_``, shown translated --, and a function
    from the server database and the
    first second counted to ``(utc_day_number, count)`` rows). Only what the
    server already knows: nothing about who met whom. Sync only."""


@hookspec
@kind("sync", "words are read while an alert is built inside the batch's transaction")
def bluezone_alert_sources() -> dict[str, str]:
    """Words for the exposure sources this plugin reports (``Exposure.source``),
    as ``{source: N_("English phrase")}``; the phrase completes "you were in
    close contact with ... {phrase}" in the alert and is translated through
    the message catalogue (the plugin ships the translations in its own
    domain, see ``bluezone_message_catalogues``). The core words only
    ``ble``. Sync only."""


#: Every hook's kind, by name: the one table callers and the registration check read.
HOOK_KINDS: dict[str, HookKind] = {
    name: value.bluezone_kind
    for name, value in list(globals().items())
    if name.startswith("bluezone_") and callable(value) and hasattr(value, "bluezone_kind")
}
