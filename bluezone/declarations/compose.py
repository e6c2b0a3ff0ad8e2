"""Building the deployment's form and a declaration from answers.

The form a person sees is the default NCOVI form after every installed
plugin's ``bluezone_declaration_form`` hook ran on it, so a province adds or
replaces questions with a plugin instead of a fork.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..i18n import LANGUAGE_TAG
from ..plugins import call_hook
from .declaration import Declaration
from .form import Form, FormError, ValidationResult
from .linkage import Linkage
from .ncovi_form import ncovi_form


def build_form(config: Any = None, pm: Any = None) -> Form:
    """The default form, adjusted by every plugin (``config`` may be ``None``
    in tools that only need the schema)."""
    form = ncovi_form()
    pm = pm if pm is not None else (config.pm if config is not None else None)
    if pm is not None:
        call_hook(pm.hook.bluezone_declaration_form, form=form, config=config)
    ids = [f.id for f in form.fields]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise FormError(f"form has duplicate fields after plugins ran: {', '.join(duplicates)}")
    for f in form.fields:
        if f.section not in form.sections:
            raise FormError(f"field {f.id!r} is in unknown section {f.section!r}")
    return form


class InvalidDeclaration(ValueError):
    """The answers do not pass the form; ``result.errors`` has one per field."""

    def __init__(self, result: ValidationResult, language: str = "en"):
        self.result = result
        super().__init__("; ".join(result.messages(language)))


def make_declaration(
    form: Form,
    answers: dict[str, Any],
    *,
    language: str = "vi",
    linkage: Linkage | None = None,
    today: dt.date | None = None,
) -> Declaration:
    """Validate answers and wrap them as a :class:`Declaration` (or raise
    :class:`InvalidDeclaration` listing every bad field)."""
    if not LANGUAGE_TAG.fullmatch(language):
        raise ValueError(f"language must be a language tag like 'vi', not {language!r}")
    today = today or dt.date.today()
    result = form.validate(answers, today=today)
    if not result.ok:
        raise InvalidDeclaration(result, language)
    return Declaration(form.schema_tag, language, today, result.answers, linkage)
