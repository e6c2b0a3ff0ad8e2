"""Bluezone's public API: what a plugin may import, and the only thing it should.

``from bluezone import hookimpl, ExposureKey, Feed, DeviceStore`` and so
on. Every name in :data:`__all__` is stable in the sense of
``docs/plugin-api.md``: it keeps its meaning and signature within a major
version. Every other module of the package (``bluezone.models``,
``bluezone.store``, ``bluezone.matching...``) is the core's own business
and may change in any release; the first-party plugins are held to this
rule by a test (``tests/test_public_api.py``).

Importing ``bluezone`` is cheap on purpose (a phone's command line and
every plugin start with it): the hook marker, the data models and the
Protocols load at once; the store, configuration, signed feeds, command-line
helpers and the like load on first use, through :func:`__getattr__`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .contracts import (
    AlertSink,
    Form,
    KeySchedule,
    ProximitySource,
    Scorer,
    Submitter,
    SubmitterFactory,
    Transport,
    TransportFactory,
)
from .hookspecs import hookimpl
from .models import (
    INTERVAL_SECONDS,
    Alert,
    BadBatch,
    DailyRisk,
    DerivedIdentifier,
    Exposure,
    ExposureKey,
    ExposureWindow,
    Infectiousness,
    PublishedBatch,
    ReportType,
    ScanInstance,
    Sighting,
    Tier,
    Visit,
    day_start_interval,
    interval_number,
    utc_date,
)
from .schedules import ScheduleError
from .transport import (
    PAD_BLOCK,
    DownloadAll,
    FeedIndex,
    FeedState,
    TransportError,
    UploadReceipt,
    VerifiedCode,
    make_transport,
    pad_body,
)

if TYPE_CHECKING:  # pragma: no cover - what the lazy names are, for type checkers
    from .cli.common import fail as cli_fail
    from .cli.common import load_config_or_fail, open_store_or_fail, store_errors, with_store_errors
    from .cli.i18n_click import Command as CliCommand
    from .cli.i18n_click import Group as CliGroup
    from .config import Config, ConfigError, config_from_dict, load_config, section_defaults
    from .consent import PURPOSES as CONSENT_PURPOSES
    from .consent import ConsentWithdrawn
    from .consent import allowed as consent_allowed
    from .declarations import Choice, Field, SealError, Submission, SubmitError, load_private_key
    from .device import Device
    from .feed import Feed
    from .feeds import FeedError, SignedPayload, open_payload, sign_payload
    from .i18n import Message, MessageCatalogue
    from .keytext import decode_key32
    from .matching import pipeline
    from .matching.fixtures import record_meeting
    from .plugins import PluginError, call_hook, call_hook_async
    from .schedules.gaen import SCHEDULE as GAEN_SCHEDULE
    from .schedules.gaen import make_metadata as make_gaen_metadata
    from .schedules.gaen import read_tx_power as read_gaen_tx_power
    from .settings import FROM_SCHEMA, section_settings
    from .settings import build as build_settings
    from .store import DeviceStore
    from .store.named_migrations import Migration
    from .store.purging import PurgeTimer
    from .sync import sync as sync_device
    from .textsafe import safe_terminal_text

#: Public names loaded on first use: ``name -> (module, attribute)``; an
#: attribute of ``None`` means the module itself. Heavier dependencies
#: (SQLite store, jsonschema, cryptography, click, numpy) wait until asked.
_LAZY: dict[str, tuple[str, str | None]] = {
    # plugin machinery
    "Feed": ("bluezone.feed", "Feed"),
    "PluginError": ("bluezone.plugins", "PluginError"),
    "call_hook": ("bluezone.plugins", "call_hook"),
    "call_hook_async": ("bluezone.plugins", "call_hook_async"),
    # configuration (typed settings: a frozen dataclass per section, defaults from its schema)
    "Config": ("bluezone.config", "Config"),
    "FROM_SCHEMA": ("bluezone.settings", "FROM_SCHEMA"),
    "section_settings": ("bluezone.settings", "section_settings"),
    "section_defaults": ("bluezone.config", "section_defaults"),
    "build_settings": ("bluezone.settings", "build"),
    "ConfigError": ("bluezone.config", "ConfigError"),
    "ConfigProblem": ("bluezone.config", "Problem"),
    "find_config_line": ("bluezone.config", "find_line"),
    "load_config": ("bluezone.config", "load_config"),
    "config_from_dict": ("bluezone.config", "config_from_dict"),
    # the device: its store, its owner-facing actions
    "DeviceStore": ("bluezone.store", "DeviceStore"),
    "Migration": ("bluezone.store.named_migrations", "Migration"),
    "PurgeTimer": ("bluezone.store.purging", "PurgeTimer"),
    "Device": ("bluezone.device", "Device"),
    "sync_device": ("bluezone.sync", "sync"),
    "record_meeting": ("bluezone.matching.fixtures", "record_meeting"),
    # the person's consent per purpose (allowed, require, ConsentWithdrawn, PURPOSES)
    "CONSENT_PURPOSES": ("bluezone.consent", "PURPOSES"),
    "ConsentWithdrawn": ("bluezone.consent", "ConsentWithdrawn"),
    "consent_allowed": ("bluezone.consent", "allowed"),
    # matching and the built-in GAEN schedule
    "pipeline": ("bluezone.matching.pipeline", None),
    "GAEN_SCHEDULE": ("bluezone.schedules.gaen", "SCHEDULE"),
    "make_gaen_metadata": ("bluezone.schedules.gaen", "make_metadata"),
    "read_gaen_tx_power": ("bluezone.schedules.gaen", "read_tx_power"),
    # signed feed files
    "FeedError": ("bluezone.feeds", "FeedError"),
    "SignedPayload": ("bluezone.feeds", "SignedPayload"),
    "open_payload": ("bluezone.feeds", "open_payload"),
    "sign_payload": ("bluezone.feeds", "sign_payload"),
    # health declarations (a form extension builds fields; a submitter raises)
    "Choice": ("bluezone.declarations", "Choice"),
    "Field": ("bluezone.declarations", "Field"),
    "Submission": ("bluezone.declarations", "Submission"),
    "SubmitError": ("bluezone.declarations", "SubmitError"),
    "SealError": ("bluezone.declarations", "SealError"),
    "load_private_key": ("bluezone.declarations", "load_private_key"),
    # text a person reads: the one message catalogue (also importable as bluezone.i18n)
    "Message": ("bluezone.i18n", "Message"),
    "MessageCatalogue": ("bluezone.i18n", "MessageCatalogue"),
    # text a person reads or types
    "decode_key32": ("bluezone.keytext", "decode_key32"),
    "safe_terminal_text": ("bluezone.textsafe", "safe_terminal_text"),
    # command-line helpers: one-line errors, exit code 2
    "cli_fail": ("bluezone.cli.common", "fail"),
    "load_config_or_fail": ("bluezone.cli.common", "load_config_or_fail"),
    "open_store_or_fail": ("bluezone.cli.common", "open_store_or_fail"),
    "store_errors": ("bluezone.cli.common", "store_errors"),
    "with_store_errors": ("bluezone.cli.common", "with_store_errors"),
    # click command/group classes whose help speaks the deployment's languages (help=N_("..."))
    "CliCommand": ("bluezone.cli.i18n_click", "Command"),
    "CliGroup": ("bluezone.cli.i18n_click", "Group"),
}

__all__ = [
    # hooks
    "hookimpl",
    # Protocols: what a plugin provides
    "AlertSink", "Feed", "Form", "KeySchedule", "ProximitySource", "Scorer", "Submitter", "SubmitterFactory",
    "Transport", "TransportFactory",
    # data models
    "INTERVAL_SECONDS", "Alert", "BadBatch", "DailyRisk", "DerivedIdentifier", "Exposure", "ExposureKey",
    "ExposureWindow", "Infectiousness", "PublishedBatch", "ReportType", "ScanInstance", "Sighting", "Tier", "Visit",
    "day_start_interval", "interval_number", "utc_date",
    # transports
    "PAD_BLOCK", "DownloadAll", "FeedIndex", "FeedState", "TransportError", "UploadReceipt", "VerifiedCode",
    "make_transport", "pad_body",
    # schedules
    "ScheduleError",
    # plugin machinery
    "PluginError", "call_hook", "call_hook_async",
    # configuration
    "ConfigProblem", "find_config_line",
    "Config", "ConfigError", "FROM_SCHEMA", "build_settings", "config_from_dict", "load_config", "section_defaults",
    "section_settings",
    # the device
    "Device", "DeviceStore", "Migration", "PurgeTimer", "record_meeting", "sync_device",
    "CONSENT_PURPOSES", "ConsentWithdrawn", "consent_allowed",
    # matching and the built-in GAEN schedule
    "GAEN_SCHEDULE", "make_gaen_metadata", "pipeline", "read_gaen_tx_power",
    # signed feed files
    "FeedError", "SignedPayload", "open_payload", "sign_payload",
    # health declarations
    "Choice", "Field", "SealError", "Submission", "SubmitError", "load_private_key",
    # text
    "Message", "MessageCatalogue", "decode_key32", "safe_terminal_text",
    # command-line helpers
    "cli_fail", "load_config_or_fail", "open_store_or_fail", "store_errors", "with_store_errors",
    "CliCommand", "CliGroup",
]


def __getattr__(name: str) -> Any:
    """Load a lazy public name on first use (PEP 562) and keep it."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'bluezone' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
