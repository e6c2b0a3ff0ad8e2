"""Typed settings: one frozen dataclass per configuration section, built from its schema.

A section's JSON Schema is the single place its defaults are written: the
schema is what ``bluezone config check`` validates a deployment file
against (with a location for every problem), and the loader fills the
schema's defaults in. :func:`section_settings` turns a class that only
*annotates* its fields into a frozen, keyword-only dataclass whose field
defaults are read from that same schema, so a default cannot drift between
the file checker, the loader and the code that reads the setting.

The schema is the source (rather than generating the schema from the
dataclass) because it carries what a dataclass cannot say (ranges,
patterns, enums, descriptions shown in error messages) and because plugins
already publish schemas through ``bluezone_config_schema``; a plugin that
wants typed access returns its settings class there instead of the bare
schema (see docs/configuration.md).

Values are frozen deeply: TOML arrays become tuples and tables become
read-only mappings, so a settings object shared across a process cannot be
changed through one of its fields either.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")

SCHEMA_ATTRIBUTE = "__bluezone_schema__"


def freeze(value: Any) -> Any:
    """``value`` with lists turned into tuples and dicts into read-only mappings, recursively."""
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain ``dict``/``list`` form of a frozen value (for code that wants JSON-like data)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


class _FromSchema:
    """The marker behind :data:`FROM_SCHEMA`."""

    def __repr__(self) -> str:
        return "FROM_SCHEMA"


#: Write ``field: type = FROM_SCHEMA`` for every key the schema defaults (or
#: leaves optional, then ``None``): the decorator puts the schema's value there,
#: and type checkers see a field that need not be passed.
FROM_SCHEMA: Any = _FromSchema()


@dataclass_transform(kw_only_default=True, frozen_default=True)
def section_settings(schema: Mapping[str, Any]) -> Callable[[type[T]], type[T]]:
    """Class decorator: a frozen, keyword-only dataclass for a section with ``schema``.

    Every field named in the schema's ``properties`` is written either
    ``= FROM_SCHEMA`` (it then takes the property's ``default``, or ``None``
    for an optional property without one) or with no default at all (only for
    a ``required`` property). Writing a value there instead is refused: the
    schema is the one place for a section's defaults. Fields the schema does
    not know (values derived from other sections, such as a server's region)
    carry their own default.
    """

    def wrap(cls: type[T]) -> type[T]:
        props: Mapping[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        annotations = cls.__dict__.get("__annotations__", {})
        missing = sorted(set(props) - set(annotations))
        if missing:
            raise TypeError(f"{cls.__name__}: schema keys without a field: {', '.join(missing)}")
        for name in annotations:
            if name not in props:
                continue
            given = cls.__dict__.get(name, dataclasses.MISSING)
            if name in required and "default" not in props[name]:
                if given is not dataclasses.MISSING:
                    raise TypeError(f"{cls.__name__}.{name}: required by the schema, so it takes no default")
                continue
            if given is not FROM_SCHEMA:
                raise TypeError(f"{cls.__name__}.{name}: write '= FROM_SCHEMA'; the default belongs in the schema only")
            # frozen values are immutable, so one shared default is safe
            setattr(cls, name, _default(freeze(props[name].get("default"))))
        out = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        setattr(out, SCHEMA_ATTRIBUTE, schema)
        return out

    return wrap


def _default(value: Any) -> Any:
    """A field default; a read-only mapping goes through a factory because
    dataclasses refuses unhashable defaults (it cannot tell they are immutable)."""
    if isinstance(value, types.MappingProxyType):
        return dataclasses.field(default_factory=lambda: value)
    return value


def is_settings_class(value: Any) -> bool:
    """Whether ``value`` was made by :func:`section_settings` (and so carries its schema)."""
    return isinstance(value, type) and dataclasses.is_dataclass(value) and hasattr(value, SCHEMA_ATTRIBUTE)


def schema_of(value: Any) -> dict[str, Any]:
    """The JSON schema of a section claim: a schema itself or a settings class."""
    return getattr(value, SCHEMA_ATTRIBUTE) if is_settings_class(value) else value


def build(cls: type[T], section: Mapping[str, Any]) -> T:
    """An instance of settings class ``cls`` from a validated section (defaults already filled).

    Keys the class does not have are left out, so a section validated by a
    newer schema than the class still builds."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # cls is a dataclass
    return cls(**{k: freeze(v) for k, v in section.items() if k in names})
