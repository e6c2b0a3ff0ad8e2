"""The declaration form: an ordered, versioned list of fields plus cross-field rules.

A province changes the form through the ``bluezone_declaration_form`` hook
(:func:`build_form`): it adds, replaces or removes fields and records an
extension tag, so the authority can tell which questions a declaration was
answering (``ncovi/1+gia-lai-2``) without anyone forking the schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..i18n import N_
from .fields import Field, FieldError, FieldValueError, Text, texts

#: A rule over several answers; returns the errors it finds.
CrossCheck = Callable[["Form", dict[str, Any], dt.date], list[FieldError]]


class FormError(Exception):
    """The form definition itself is wrong (a plugin bug, not a person's mistake)."""


@dataclass
class ValidationResult:
    """Clean answers (canonical values) and every error, one per field at most."""

    answers: dict[str, Any]
    errors: list[FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors

    def messages(self, language: str = "en") -> list[str]:
        return [e.format(language) for e in self.errors]


@dataclass
class Form:
    """A versioned health-declaration form."""

    form_id: str
    version: int
    title: Text
    sections: dict[str, Text]
    fields: list[Field] = field(default_factory=list)
    checks: list[CrossCheck] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    consent: Text | None = None

    # -- identity ------------------------------------------------------------------

    @property
    def schema_tag(self) -> str:
        """``form/version`` plus each extension, e.g. ``ncovi/1+gia-lai-2``."""
        return f"{self.form_id}/{self.version}" + "".join(f"+{e}" for e in self.extensions)

    # -- editing (what the hook does) ---------------------------------------------------

    def get(self, field_id: str) -> Field:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise FormError(f"no field {field_id!r} in form {self.schema_tag}")

    def __contains__(self, field_id: str) -> bool:
        return any(f.id == field_id for f in self.fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def add_field(self, new: Field, *, after: str | None = None) -> None:
        """Add a field (at the end of its section, or after ``after``)."""
        if new.id in self:
            raise FormError(f"field {new.id!r} already exists; use replace_field")
        if new.section not in self.sections:
            raise FormError(f"field {new.id!r}: unknown section {new.section!r}; add_section first")
        if after is not None:
            index = self.fields.index(self.get(after)) + 1
        else:
            same = [i for i, f in enumerate(self.fields) if f.section == new.section]
            index = same[-1] + 1 if same else len(self.fields)
        self.fields.insert(index, new)

    def replace_field(self, new: Field) -> None:
        old = self.get(new.id)
        self.fields[self.fields.index(old)] = new

    def remove_field(self, field_id: str) -> None:
        self.fields.remove(self.get(field_id))

    def add_section(self, section_id: str, label: Text) -> None:
        self.sections.setdefault(section_id, label)

    def add_check(self, check: CrossCheck) -> None:
        self.checks.append(check)

    def mark_extended(self, tag: str) -> None:
        """Record that a plugin changed the form (keeps declarations interpretable)."""
        if tag not in self.extensions:
            self.extensions.append(tag)

    def section_fields(self, section_id: str) -> list[Field]:
        return [f for f in self.fields if f.section == section_id]

    # -- checking ---------------------------------------------------------------------

    def is_required(self, f: Field, answers: dict[str, Any]) -> bool:
        return f.required and self.is_asked(f, answers)

    def is_asked(self, f: Field, answers: dict[str, Any]) -> bool:
        """A conditional field is only asked when its condition holds."""
        if f.when is None:
            return True
        other, values = f.when
        return answers.get(other) in values

    def validate(self, raw: Any, *, today: dt.date | None = None) -> ValidationResult:
        """Check every answer; unknown keys and missing required answers are
        errors too. Never raises for bad input."""
        today = today or dt.date.today()
        errors: list[FieldError] = []
        if not isinstance(raw, dict):
            return ValidationResult({}, [FieldError("(form)", N_("declaration"),
                                                    N_("must be a JSON object"))])
        clean: dict[str, Any] = {}
        for f in self.fields:
            try:
                clean[f.id] = f.coerce(raw.get(f.id), today=today)
            except FieldValueError as e:
                errors.append(f.error(e.text))
                clean[f.id] = None
        for key in sorted(k for k in raw if isinstance(k, str) and k not in self):
            errors.append(FieldError(key, key, N_("is not a field of this form")))
        for key in [k for k in raw if not isinstance(k, str)]:
            errors.append(FieldError(repr(key), "?", N_("field names must be text")))
        bad = {e.field_id for e in errors}
        for f in self.fields:
            if f.id in bad:
                continue
            if not self.is_asked(f, clean) and not f.is_empty(clean[f.id]):
                errors.append(f.error(N_("must be empty when the question does not apply")))
            elif self.is_required(f, clean) and f.is_empty(clean[f.id]):
                errors.append(f.error(N_("is required")))
        if not errors:
            for check in self.checks:
                errors.extend(check(self, clean, today))
        return ValidationResult({k: v for k, v in clean.items() if v is not None}, errors)

    def describe(self) -> dict[str, Any]:
        """The form as JSON (for docs, portals and integrators)."""
        return {
            "form": self.form_id, "version": self.version, "schema": self.schema_tag,
            "title": texts(self.title), "sections": {k: texts(v) for k, v in self.sections.items()},
            "fields": [f.describe() for f in self.fields],
        }
