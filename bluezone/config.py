"""Deployment configuration: one TOML file per deployment (a province).

The core owns the sections in :data:`CORE_SCHEMA`; plugins claim their own
sections through the ``bluezone_config_schema`` hook. Every section is
checked with JSON Schema, so ``bluezone config check`` can name each problem
with its location (``[risk] bucket_weights[2]``, line 31) instead of stopping
at the first. Defaults written in the schemas are filled in on load.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

import jsonschema
import pluggy

from .i18n import Message, _
from .plugins import PluginSet, call_hook, collect_named, plugin_set, shared_plugin_set
from .privacy.notice import SCHEMA as PRIVACY_SCHEMA
from .privacy.notice import PrivacySettings
from .settings import FROM_SCHEMA, build, is_settings_class, schema_of, section_settings

S = TypeVar("S")

#: A language tag ("vi", "en", "jra" ...); it also needs a catalogue (checked in DeploymentSettings).
_LANG = {"type": "string", "pattern": "^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"}
_WEIGHT = {"type": "number", "minimum": 0, "maximum": 2.5}
#: A CWA ``Range``: inclusive bounds unless marked exclusive.
_RANGE = {
    "type": "object",
    "properties": {"min": {"type": "number"}, "max": {"type": "number"},
                   "min_exclusive": {"type": "boolean", "default": False},
                   "max_exclusive": {"type": "boolean", "default": False}},
    "required": ["min", "max"], "additionalProperties": False,
}
_LEVEL_MAPPING = {
    "type": "object",
    "properties": {"normalized_minutes_range": _RANGE, "level": {"type": "string", "enum": ["low", "high"]}},
    "required": ["normalized_minutes_range", "level"], "additionalProperties": False,
}
_TRL_OFFSETS = (
    "report_type_offset_confirmed_test", "report_type_offset_confirmed_clinical_diagnosis",
    "report_type_offset_self_report", "report_type_offset_recursive",
    "infectiousness_offset_standard", "infectiousness_offset_high",
)

CORE_SCHEMA: dict[str, dict[str, Any]] = {
    "deployment": {
        "type": "object",
        "description": "Who runs this deployment.",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "region": {"type": "string", "pattern": "^[A-Za-z0-9-]{2,10}$",
                       "description": "ISO 3166 code or mobile country code (Vietnam: 452)"},
            "languages": {"type": "array", "items": _LANG, "minItems": 1, "uniqueItems": True,
                          "default": ["vi", "en"]},
            "timezone": {"type": "string", "default": "Asia/Ho_Chi_Minh"},
        },
        "required": ["name", "region"],
        "additionalProperties": False,
    },
    "plugins": {
        "type": "object",
        "description": "Which installed plugins (entry-point names) this deployment uses.",
        "properties": {
            "disabled": {"type": "array", "items": {"type": "string"}, "default": []},
            "enabled": {"type": "array", "items": {"type": "string"}},
            "allow_missing": {"type": "array", "items": {"type": "string", "enum": ["alert sink"]},
                              "uniqueItems": True, "default": [],
                              "description": "Essential capabilities this deployment knowingly runs without"},
        },
        "additionalProperties": False,
        "default": {},
    },
    "schedule": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "gaen"},
        },
        "additionalProperties": False,
        "default": {},
    },
    "retention": {
        "type": "object",
        "properties": {"days": {"type": "integer", "minimum": 1, "maximum": 60, "default": 14}},
        "additionalProperties": False,
        "default": {},
    },
    "risk": {
        "type": "object",
        "description": "GAEN v2 exposure-window scoring (see docs/risk.md).",
        "properties": {
            "attenuation_thresholds_db": {
                "type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
                "minItems": 3, "maxItems": 3, "default": [58, 63, 68],
            },
            "bucket_weights": {
                "type": "object",
                "properties": {k: _WEIGHT for k in ("immediate", "near", "medium", "other")},
                # every key: a weight left out would count nothing, silently (a table given whole or not at all)
                "required": ["immediate", "near", "medium", "other"],
                "additionalProperties": False,
                "default": {"immediate": 1.0, "near": 1.0, "medium": 0.0, "other": 0.0},
            },
            "report_type_weights": {
                "type": "object",
                "properties": {k: _WEIGHT for k in (
                    "confirmed_test", "confirmed_clinical_diagnosis", "self_report", "recursive")},
                "required": ["confirmed_test", "confirmed_clinical_diagnosis", "self_report", "recursive"],
                "additionalProperties": False,
                "default": {"confirmed_test": 1.0, "confirmed_clinical_diagnosis": 1.0,
                            "self_report": 0.0, "recursive": 1.0},
            },
            "infectiousness_weights": {
                "type": "object",
                "properties": {"standard": _WEIGHT, "high": _WEIGHT},
                "required": ["standard", "high"],
                "additionalProperties": False,
                "default": {"standard": 1.0, "high": 1.0},
            },
            "minimum_minutes_per_day": {"type": "number", "minimum": 0, "default": 15},
            "isolation_days": {"type": "integer", "minimum": 1, "maximum": 28, "default": 14,
                               "description": "days a warned person stays home (0 would warn nobody to)"},
            "report_type_when_missing": {
                "type": "string", "default": "confirmed_test",
                "enum": ["confirmed_test", "confirmed_clinical_diagnosis", "self_report", "recursive"],
                "description": "Report type assumed for keys published without one (GAEN v2 reportTypeWhenMissing)",
            },
            "infectiousness_by_days_since_onset": {
                "type": "object",
                "description": "Inclusive day ranges [from, to] of days since symptom onset; days in neither are NONE (dropped)",
                "properties": {k: {"type": "array", "items": {"type": "integer", "minimum": -14, "maximum": 14},
                                   "minItems": 2, "maxItems": 2} for k in ("high", "standard")},
                "additionalProperties": False,
                "default": {"high": [-2, 5], "standard": [-14, 14]},
            },
            "infectiousness_when_onset_unknown": {"type": "string", "enum": ["none", "standard", "high"],
                                                  "default": "standard"},
            "f2_alerts": {"type": "boolean", "default": True,
                          "description": "Warn contacts of F1s (recursive reports); the person can still opt out"},
            # --- the Corona-Warn-App v2 model (docs/risk.md); left out, today's scoring above applies
            "attenuation": {"type": "string", "enum": ["typical", "min"], "default": "typical",
                            "description": "Which attenuation of a scan instance is weighted and filtered "
                                           "(GAEN typicalAttenuationDb or minAttenuationDb)"},
            "estimator": {"type": "string", "enum": ["buckets", "median", "quantile", "kalman"],
                          "default": "kalman",
                          "description": "How a window's scans become close minutes: GAEN's per-scan buckets, or a "
                                         "series estimator (bluezone/matching/estimators.py, docs/simulator.md)"},
            "estimator_threshold_db": {"type": "number", "minimum": 0, "maximum": 255, "default": 60,
                                       "description": "Attenuation up to which a series estimator calls scans close"},
            "count_self_reports": {"type": "boolean", "default": False,
                                   "description": "Keys reported as SELF_REPORT make windows (their contacts are F1)"},
            "max_seconds_per_scan": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 300,
                                     "description": "secondsSinceLastScan is clamped to [0, this] before weighting"},
            "minutes_at_attenuation_filters": {
                "type": "array", "default": [],
                "items": {"type": "object", "properties": {
                    "attenuation_range": _RANGE, "drop_if_minutes_in_range": _RANGE},
                    "required": ["attenuation_range", "drop_if_minutes_in_range"], "additionalProperties": False},
                "description": "Drop a window when its minutes at these attenuations fall in a range",
            },
            "minutes_at_attenuation_weights": {
                "type": "array", "minItems": 1,
                "items": {"type": "object", "properties": {
                    "attenuation_range": _RANGE, "weight": {"type": "number", "minimum": 0, "maximum": 10}},
                    "required": ["attenuation_range", "weight"], "additionalProperties": False},
                "description": "Weight per attenuation range (first range that holds it); replaces the buckets",
            },
            "transmission_risk_level_encoding": {
                "type": "object",
                "properties": {k: {"type": "integer", "minimum": 0, "maximum": 100} for k in _TRL_OFFSETS},
                "required": list(_TRL_OFFSETS), "additionalProperties": False,
                "description": "Transmission risk level = report-type offset + infectiousness offset; "
                               "replaces the two weight tables",
            },
            "transmission_risk_level_filters": {
                "type": "array", "default": [],
                "items": {"type": "object", "properties": {"drop_if_trl_in_range": _RANGE},
                          "required": ["drop_if_trl_in_range"], "additionalProperties": False},
            },
            "transmission_risk_values": {
                "type": "array",
                "items": {"type": "object", "properties": {
                    "level": {"type": "integer", "minimum": 0, "maximum": 200},
                    "value": {"type": "number", "minimum": 0, "maximum": 10}},
                    "required": ["level", "value"], "additionalProperties": False},
                "description": "Value per transmission risk level (a level not listed is worth 0)",
            },
            "window_risk_levels": {
                "type": "array", "items": _LEVEL_MAPPING,
                "description": "Normalized minutes of a window → low/high; a window in no range is dropped",
            },
            "day_risk_levels": {
                "type": "array", "items": _LEVEL_MAPPING,
                "description": "Normalized minutes of a day → low/high; replaces minimum_minutes_per_day",
            },
            "daily_rounding_decimals": {"type": "integer", "minimum": 0, "maximum": 6,
                                        "description": "Round a day's normalized minutes half up to this many "
                                                       "decimals before mapping it to a level"},
        },
        "additionalProperties": False,
        "default": {},
    },
    "authority": {
        "type": "object",
        "description": "The health authority this deployment trusts.",
        "properties": {
            "url": {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*://"},
            "export_keys": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key_id": {"type": "string"},
                        "key_version": {"type": "string", "default": "v1"},
                        "public_key": {"type": "string", "description": "PEM text or a path to a .pem file"},
                    },
                    "required": ["key_id", "public_key"],
                    "additionalProperties": False,
                },
                "default": [],
            },
            "declaration_public_key": {"type": "string", "description": "base64 Curve25519 key"},
        },
        "required": ["url"],
        "additionalProperties": False,
    },
}

CORE_SCHEMA["privacy"] = PRIVACY_SCHEMA  # the processing notice (bluezone.privacy.notice)

REQUIRED_SECTIONS = ("deployment", "authority")

#: sections of the project's own distributions: a file may name one where it is
#: not installed (a phone's venv without the server), and is then told what it is
FIRST_PARTY_SECTIONS: dict[str, tuple[str, str]] = {
    "server": ("bluezone-authority", "authority"), "portal": ("bluezone-authority", "authority"),
    "qr_checkin": ("bluezone-qr-checkin", "plugins/qr_checkin"),
    "ble": ("bluezone-ble", "plugins/ble"), "sim": ("bluezone-ble", "plugins/ble"),
}


# --- the core's sections, typed (defaults come from CORE_SCHEMA) ---------------------


@section_settings(CORE_SCHEMA["deployment"])
class DeploymentSettings:
    """``[deployment]``: who runs this deployment."""

    name: str
    region: str
    languages: tuple[str, ...] = FROM_SCHEMA
    timezone: str = FROM_SCHEMA

    def __post_init__(self) -> None:
        # every date a person reads is shown in this zone: a name the system
        # does not know is refused by 'config check', not at the first alert
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(str(_("timezone: unknown time zone {name!r} (an IANA name such as "
                                   "'Asia/Ho_Chi_Minh')", name=self.timezone))) from None


@section_settings(CORE_SCHEMA["plugins"])
class PluginsSettings:
    """``[plugins]``: which installed plugins this deployment uses."""

    disabled: tuple[str, ...] = FROM_SCHEMA
    enabled: tuple[str, ...] | None = FROM_SCHEMA
    allow_missing: tuple[str, ...] = FROM_SCHEMA


@section_settings(CORE_SCHEMA["schedule"])
class ScheduleSettings:
    """``[schedule]``: the key schedule by name."""

    name: str = FROM_SCHEMA


@section_settings(CORE_SCHEMA["retention"])
class RetentionSettings:
    """``[retention]``: how long contact data is kept."""

    days: int = FROM_SCHEMA


@section_settings(CORE_SCHEMA["risk"])
class RiskSettings:
    """``[risk]``: GAEN v2 exposure-window scoring (docs/risk.md).

    Scorers receive the section as a plain dict (``Config.risk``, the
    ``bluezone_score_exposure_windows`` contract); code that reads one value
    reads it here."""

    attenuation_thresholds_db: tuple[int, int, int] = FROM_SCHEMA
    bucket_weights: Mapping[str, float] = FROM_SCHEMA
    report_type_weights: Mapping[str, float] = FROM_SCHEMA
    infectiousness_weights: Mapping[str, float] = FROM_SCHEMA
    minimum_minutes_per_day: float = FROM_SCHEMA
    isolation_days: int = FROM_SCHEMA
    report_type_when_missing: str = FROM_SCHEMA
    infectiousness_by_days_since_onset: Mapping[str, tuple[int, int]] = FROM_SCHEMA
    infectiousness_when_onset_unknown: str = FROM_SCHEMA
    f2_alerts: bool = FROM_SCHEMA
    attenuation: str = FROM_SCHEMA
    estimator: str = FROM_SCHEMA
    estimator_threshold_db: float = FROM_SCHEMA
    count_self_reports: bool = FROM_SCHEMA
    max_seconds_per_scan: int = FROM_SCHEMA
    minutes_at_attenuation_filters: tuple[Mapping[str, Any], ...] = FROM_SCHEMA
    minutes_at_attenuation_weights: tuple[Mapping[str, Any], ...] | None = FROM_SCHEMA
    transmission_risk_level_encoding: Mapping[str, int] | None = FROM_SCHEMA
    transmission_risk_level_filters: tuple[Mapping[str, Any], ...] = FROM_SCHEMA
    transmission_risk_values: tuple[Mapping[str, Any], ...] | None = FROM_SCHEMA
    window_risk_levels: tuple[Mapping[str, Any], ...] | None = FROM_SCHEMA
    day_risk_levels: tuple[Mapping[str, Any], ...] | None = FROM_SCHEMA
    daily_rounding_decimals: int | None = FROM_SCHEMA

    def __post_init__(self) -> None:
        # what the schema cannot say: ranges that hold nothing, values without an encoding
        from .matching.risk_model import model_problems

        problems = model_problems(self)
        if problems:
            raise ValueError("; ".join(problems))


@section_settings(CORE_SCHEMA["authority"])
class AuthoritySettings:
    """``[authority]``: the health authority this deployment trusts."""

    url: str
    export_keys: tuple[Mapping[str, str], ...] = FROM_SCHEMA
    declaration_public_key: str | None = FROM_SCHEMA


CORE_SETTINGS: dict[str, type] = {
    "deployment": DeploymentSettings, "plugins": PluginsSettings, "schedule": ScheduleSettings,
    "retention": RetentionSettings, "risk": RiskSettings, "authority": AuthoritySettings,
    "privacy": PrivacySettings,
}


class ConfigError(ValueError):
    """The deployment file has problems; ``problems`` lists each of them.

    A ValueError, as the settings classes' own refusals are: code that
    refused a bad value when a section was built refuses it the same way now
    that loading finds it first."""

    def __init__(self, path: str, problems: "list[Problem]"):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(p.format(path) for p in problems))


@dataclass(frozen=True)
class Problem:
    location: str
    message: str
    line: int | None = None

    def format(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.location}: {self.message}"


@dataclass
class Config:
    """A loaded, validated deployment.

    ``data`` holds each section as a plain dict with the schema's defaults
    filled; :meth:`typed` gives a section as its frozen settings object, which
    is how code should read a setting (the default then lives in the schema
    only)."""

    data: dict[str, Any]
    path: Path | None = None
    _plugins: PluginSet | None = field(default=None, repr=False)
    _typed: dict[str, Any] = field(default_factory=dict, repr=False)
    _classes: dict[str, type] | None = field(default=None, repr=False)

    # -- typed sections ------------------------------------------------------------------

    @overload
    def typed(self, section: type[S]) -> S: ...

    @overload
    def typed(self, section: str) -> Any: ...

    def typed(self, section: type[S] | str) -> S | Any:
        """A section as its frozen settings object, by section name or by settings class.

        ``config.typed(TransportSettings)`` is typed for mypy;
        ``config.typed("transport")`` finds the class the section's owner
        registered. Built once per Config. A section whose owner claimed it
        with a bare schema has no class: LookupError. A class whose plugin is
        switched off gives its defaults (a file cannot set a section nobody
        claims: loading refuses it)."""
        classes = self.settings_classes()
        if isinstance(section, str):
            name = section
        else:
            names = [n for n, c in classes.items() if c is section]
            if not names:
                return build(section, {})  # its plugin is switched off: the defaults
            name = names[0]
        if name not in self._typed:
            cls = classes.get(name)
            if cls is None:
                raise LookupError(f"section [{name}] has no settings class (its owner claims it with a bare schema)")
            self._typed[name] = self._build(cls, name)
        return self._typed[name]

    def _build(self, cls: type[S], name: str) -> S:
        """A class that needs more than its section (paths relative to the
        file, values of other sections) says so with ``from_config(config)``."""
        from_config = getattr(cls, "from_config", None)
        if callable(from_config):
            return from_config(self)
        return build(cls, self.data.get(name, {}))

    def settings_classes(self) -> dict[str, type]:
        """``{section: settings class}`` for the core and this deployment's active plugins."""
        if self._classes is None:
            self._classes = section_settings_classes(self.pm)
        return self._classes

    # -- the core's sections, as attributes -----------------------------------------

    @property
    def name(self) -> str:
        return self.typed(DeploymentSettings).name

    @property
    def region(self) -> str:
        return self.typed(DeploymentSettings).region

    @property
    def languages(self) -> list[str]:
        return list(self.typed(DeploymentSettings).languages)

    @property
    def retention_days(self) -> int:
        return self.typed(RetentionSettings).days

    @property
    def schedule_name(self) -> str:
        return self.typed(ScheduleSettings).name

    @property
    def risk(self) -> dict[str, Any]:
        """``[risk]`` as a plain dict: what scorers receive (see :class:`RiskSettings`)."""
        return self.data["risk"]

    @property
    def authority_url(self) -> str:
        return self.typed(AuthoritySettings).url

    def section(self, name: str) -> dict[str, Any]:
        """A plugin's section (an empty dict when the file has none)."""
        return self.data.get(name, {})

    def resolve_path(self, value: str) -> Path:
        """Paths in the file are relative to the file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() or self.path is None else self.path.parent / p

    def export_public_keys(self) -> list[dict[str, str]]:
        """``[{key_id, key_version, pem}]`` with PEM files read."""
        out = []
        for entry in self.typed(AuthoritySettings).export_keys:
            pem = entry["public_key"]
            if "BEGIN PUBLIC KEY" not in pem:
                pem = self.resolve_path(pem).read_text()
            out.append({"key_id": entry["key_id"], "key_version": entry["key_version"], "pem": pem})
        return out

    # -- plugins -------------------------------------------------------------------------

    @property
    def plugins(self) -> PluginSet:
        """This deployment's plugin set (:func:`bluezone.plugins.plugin_set`),
        the one that was checked when the file was loaded."""
        if self._plugins is None:
            self._plugins = plugin_set(self.data["plugins"], authority_url=self.authority_url)
        return self._plugins

    @property
    def pm(self) -> pluggy.PluginManager:
        """This deployment's plugin manager (disabled plugins left out)."""
        return self.plugins.pm

    def schedule(self) -> Any:
        """The deployment's key schedule object."""
        schedules = collect_named(call_hook(self.pm.hook.bluezone_key_schedules), "key schedule")
        try:
            return schedules[self.schedule_name]
        except KeyError:
            raise ConfigError(str(self.path), [Problem(
                "[schedule] name",
                str(_("unknown key schedule {name!r}; installed: {names}", name=self.schedule_name,
                      names=", ".join(sorted(schedules)) or _("none"))),
            )]) from None


# --- loading and checking ----------------------------------------------------------


def _fill_defaults(schema: dict[str, Any], value: Any) -> Any:
    if schema.get("type") == "object" and isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _fill_defaults(sub, value[key])
    elif schema.get("type") == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_fill_defaults(schema["items"], v) for v in value]
    return value


def section_defaults(name: str) -> dict[str, Any]:
    """A core section as the loader fills it when the file leaves it out."""
    schema = CORE_SCHEMA[name]
    return _fill_defaults(schema, copy.deepcopy(schema.get("default", {})))


def _location(section: str, path: list[Any]) -> str:
    out = f"[{section}]"
    for i, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += (" " if i == 0 else ".") + str(part)
    return out


def find_line(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of ``key`` in ``[section]`` (or the header itself):
    what a :class:`Problem` points at, for other kinds of file too (``bluezone_config_files``)."""
    current = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            current = header.group(1).split(".")[0].strip('"')
            if key is None and current == section:
                return number
            continue
        if current == section and key and re.match(rf'^"?{re.escape(key)}"?\s*=', line):
            return number
    return None


_find_line = find_line  # the name the core's own modules use


def _properties(error: jsonschema.ValidationError) -> Mapping[str, Any]:
    """The ``properties`` of the (sub)schema an error is about ({} for a boolean schema)."""
    return error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}


def _extra_keys(error: jsonschema.ValidationError) -> list[str]:
    """Keys of the instance its schema does not allow (for additionalProperties errors)."""
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return sorted(set(instance) - set(_properties(error)))


def _describe(error: jsonschema.ValidationError) -> str:
    """One schema error in the deployment's languages. The common ones are
    worded by us; any other keeps jsonschema's own English detail inside a
    translated frame ("not valid: ...")."""
    if error.validator == "additionalProperties":
        extra = _extra_keys(error)
        allowed = ", ".join(sorted(_properties(error)))
        return str(_("unknown key {keys} (allowed: {allowed})", keys=", ".join(map(repr, extra)), allowed=allowed))
    if error.validator == "required":
        return str(_("missing value: {name} is required", name=error.message.split(" is a required")[0]))
    if error.validator == "type":
        return str(_("wrong type: expected {expected}, got {kind} {value!r}", expected=error.validator_value,
                     kind=type(error.instance).__name__, value=error.instance))
    return str(_("not valid: {detail}", detail=error.message))


def _section_claims(pm: pluggy.PluginManager | None) -> dict[str, Any]:
    """``{section: schema or settings class}``: the core's and the active plugins'."""
    pm = pm if pm is not None else plugin_set().pm
    claims: dict[str, Any] = dict(CORE_SETTINGS)
    for result in call_hook(pm.hook.bluezone_config_schema):
        for name, claim in result.items():
            if name in claims:
                raise ConfigError("<plugins>", [Problem(f"[{name}]", str(_("two plugins claim this section")))])
            claims[name] = claim
    return claims


def section_schemas(pm: pluggy.PluginManager | None = None) -> dict[str, dict[str, Any]]:
    """The core's sections plus those of the active plugins in ``pm`` (by
    default, every installed plugin not switched off by the environment)."""
    return {name: schema_of(claim) for name, claim in _section_claims(pm).items()}


def section_settings_classes(pm: pluggy.PluginManager | None = None) -> dict[str, type]:
    """``{section: settings class}`` for the sections claimed with one (see
    :func:`bluezone.settings.section_settings`)."""
    return {name: claim for name, claim in _section_claims(pm).items() if is_settings_class(claim)}


def _plugins_for(data: dict[str, Any], path: Path | None = None) -> PluginSet:
    """The plugin set ``data`` asks for: the process's own when it was built
    from this file, otherwise a fresh one by the same rules."""
    if path is not None:
        shared = shared_plugin_set(path)
        if shared is not None:
            return shared
    section = data.get("plugins") if isinstance(data.get("plugins"), dict) else None
    authority = data.get("authority")
    url = authority.get("url") if isinstance(authority, dict) else None
    return plugin_set(section, authority_url=url if isinstance(url, str) else None, environ=os.environ)


def _plugin_problems(plugins: PluginSet, text: str) -> list[Problem]:
    out = []
    for p in plugins.problems:
        line = None
        if p.location.startswith("[plugins] "):
            line = _find_line(text, "plugins", p.location.split(" ", 1)[1])
        elif p.location == "[authority] url":
            line = _find_line(text, "authority", "url")
        elif p.location == "[plugins]":
            line = _find_line(text, "plugins", None)
        out.append(Problem(p.location, p.message, line))
    return out


def check_data(data: dict[str, Any], text: str = "", pm: pluggy.PluginManager | None = None) -> list[Problem]:
    """Every problem in parsed TOML ``data``; fills defaults in place.

    With no ``pm``, the plugin set is the one the file's ``[plugins]`` asks
    for, and its problems (unknown names, a plugin that fails to load, an
    essential capability switched off) are listed with the others."""
    return _check(data, text, pm)[0]


def _check(data: dict[str, Any], text: str = "", pm: pluggy.PluginManager | None = None,
           path: Path | None = None) -> tuple[list[Problem], PluginSet | None]:
    problems: list[Problem] = []
    plugins: PluginSet | None = None
    if pm is None:
        plugins = _plugins_for(data, path)
        pm = plugins.pm
        problems.extend(_plugin_problems(plugins, text))
    try:
        schemas = section_schemas(pm)
    except ConfigError as e:
        problems.extend(e.problems)
        schemas = dict(CORE_SCHEMA)
    for section in REQUIRED_SECTIONS:
        if section not in data:
            problems.append(Problem(f"[{section}]", str(_("missing section"))))
    for section, value in data.items():
        schema = schemas.get(section)
        if schema is None:
            owner = (plugins.inactive_sections() if plugins is not None and plugins.inactive else {}).get(section)
            known = ", ".join(sorted(schemas))
            missing = FIRST_PARTY_SECTIONS.get(section)
            message = (_("unknown section; it belongs to plugin {plugin!r}, {reason} (known: {known})", plugin=owner[0],
                         reason=Message(owner[1]), known=known) if owner
                       else _("section for {dist}, which is not installed here: install it ('pip install -e "
                              "{folder}' in the repository) or leave the section out", dist=missing[0],
                              folder=missing[1]) if missing
                       else _("unknown section (known: {known})", known=known))
            problems.append(Problem(f"[{section}]", str(message), _find_line(text, section, None)))
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
            where = list(error.path)
            key = next((p for p in reversed(where) if isinstance(p, str)), None)
            if error.validator == "additionalProperties":
                extra = _extra_keys(error)
                key = extra[0] if extra else key
            top = where[0] if where and isinstance(where[0], str) else None  # a nested value: its top-level key's line
            problems.append(Problem(_location(section, where), _describe(error),
                                    _find_line(text, section, key) or _find_line(text, section, top)))
    problems.extend(_language_problems(data, text))
    for section, schema in schemas.items():
        if section not in data and "default" in schema:
            data[section] = copy.deepcopy(schema["default"])
        if section in data:
            data[section] = _fill_defaults(schema, data[section])
    return problems, plugins


def _language_problems(data: dict[str, Any], text: str) -> list[Problem]:
    """Each deployment language needs a catalogue (the core's, or one a
    plugin adds); English, the language of the code, needs none."""
    from .i18n import available_languages

    deployment = data.get("deployment")
    languages = deployment.get("languages") if isinstance(deployment, dict) else None
    if not isinstance(languages, list):
        return []
    have = available_languages()
    missing = [lang for lang in languages if isinstance(lang, str) and lang not in have]
    if not missing:
        return []
    return [Problem("[deployment] languages",
                    str(_("no message catalogue for {languages} (have: {have}; a plugin adds a language through "
                          "bluezone_message_catalogues)", languages=", ".join(map(repr, missing)),
                          have=", ".join(sorted(have)))),
                    _find_line(text, "deployment", "languages"))]


#: A deployment file is a few kilobytes; anything this large is not one (and a FIFO or
#: /dev/zero would otherwise be read forever).
MAX_CONFIG_BYTES = 1024 * 1024


def read_config_text(path: Path) -> str:
    """The text of a configuration file (a deployment's, or another kind a plugin
    checks), refusing what is not a regular file of configuration size with
    :class:`ConfigError`: a FIFO or ``/dev/zero`` would otherwise be read forever."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(str(path), [Problem("file", str(_("not a regular file")))])
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(str(path), [Problem("file", str(_("larger than {n} bytes; not a deployment file",
                                                                 n=MAX_CONFIG_BYTES)))])
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        return raw[:MAX_CONFIG_BYTES].decode("utf-8")
    except OSError as e:
        raise ConfigError(str(path), [Problem("file", str(_("cannot read: {reason}", reason=e.strerror)))]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [Problem("file", str(_("not UTF-8 text")))]) from None


def load_config(path: str | Path, check_schedule: bool = True) -> Config:
    """Read, validate and return a deployment; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    text = read_config_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ConfigError(str(path), [Problem("TOML", str(_("not valid TOML: {detail}", detail=e)),
                                              int(m.group(1)) if m else None)]) from None
    except RecursionError:  # tables nested thousands deep: no deployment file looks like that
        raise ConfigError(str(path), [Problem("TOML", str(_("not valid TOML: {detail}",
                                                            detail=_("nested too deeply"))))]) from None
    problems, plugins = _check(data, text, path=path)
    config = Config(data, path, plugins)
    # what the schema cannot see (key files, time zones, order, schedules), in the same run
    from .config_checks import deeper_problems

    problems.extend(deeper_problems(data, text, path, config, problems))
    if problems:
        raise ConfigError(str(path), sorted(problems, key=lambda p: (p.line is None, p.line or 0)))
    if check_schedule:
        config.schedule()
    return config


def config_from_dict(data: dict[str, Any]) -> Config:
    """A Config from a dict (tests, embedding); validated like a file."""
    data = copy.deepcopy(data)
    problems, plugins = _check(data)
    if problems:
        raise ConfigError("<dict>", problems)
    return Config(data, None, plugins)
