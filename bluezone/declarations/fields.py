"""Field types of a health declaration, and how each checks one answer.

Why a small home-grown field model instead of JSON Schema alone: the same
definition drives three things that must agree — the interactive prompt (it
needs labels and choices in the person's language), the ``--from-json``
reader (typed values) and the error a person sees ("Năm sinh: phải từ 1900
đến 2026" / "Year of birth: must be 1900 to 2026"). Every check returns a
:class:`FieldError` whose texts go through the message catalogue (labels are
English msgids marked with ``N_``; a reason with numbers in it is a
:class:`~bluezone.i18n.Message`), never an exception from deep inside a
library.

Canonical answer values are JSON-friendly: ``str``, ``int``, ``bool``,
ISO dates as ``str`` and lists of choice codes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ..i18n import N_, Message, _, active_languages, text

#: A text a person reads: an English msgid (``N_("Year of birth")``, shown
#: through the catalogue) or a :class:`Message` with fields. A text no
#: catalogue knows (a province's own label, a place name) is shown as written.
Text = str | Message


def texts(value: Text, languages: tuple[str, ...] | None = None) -> dict[str, str]:
    """``{language: text}`` in the given (default: the active) languages, for JSON descriptions."""
    return {lang: text(value, lang) for lang in (languages or active_languages())}


@dataclass(frozen=True)
class Choice:
    """One allowed answer of a choice field: a stable code and its labels."""

    code: str
    label: Text


@dataclass(frozen=True)
class FieldError:
    """Why one answer was refused, in every language."""

    field_id: str
    label: Text
    message: Text

    def format(self, language: str = "en") -> str:
        return "{} ({}): {}".format(self.field_id, text(self.label, language), text(self.message, language))

    def shown(self, language: str) -> str:
        """What the person reads: the question as asked and why, without the field's id."""
        return "{}: {}".format(text(self.label, language), text(self.message, language))


class FieldValueError(ValueError):
    """Raised by :meth:`Field.coerce` with the reason (shown through the catalogue)."""

    def __init__(self, message: Text):
        super().__init__(text(message, "en"))
        self.text = message


KINDS = ("text", "integer", "year", "choice", "multichoice", "boolean", "date", "phone", "id_number", "email")

_PHONE = re.compile(r"^(?:0\d{9}|\+84\d{9}|\+(?!84)[1-9]\d{6,14})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_ID = re.compile(r"^[A-Z0-9]{6,20}$")
_TRUE = {"y", "yes", "c", "co", "có", "true", "1", "x"}
_FALSE = {"n", "no", "k", "khong", "không", "false", "0", ""}


def _clean_text(value: Any, field_id: str) -> str:
    if not isinstance(value, str):
        raise FieldValueError(N_("must be text"))
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise FieldValueError(N_("contains control characters"))
    return value


@dataclass
class Field:
    """One question of the form.

    ``section`` groups fields for display; ``when`` asks a field only when
    another field has one of the given values (travel details only when the
    person travelled); ``required`` then applies only when it is asked. ``pattern`` is an extra regular
    expression a province can impose on a text field.
    """

    id: str
    section: str
    kind: str
    label: Text
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min_length: int = 0
    max_length: int = 200
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    pattern_message: Text | None = None
    help: Text | None = None
    when: tuple[str, tuple[Any, ...]] | None = None
    letters_only: bool = False
    not_future: bool = True
    default: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.id!r}: unknown kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind in ("choice", "multichoice") and not self.choices:
            raise ValueError(f"field {self.id!r}: a {self.kind} field needs choices")
        if not isinstance(self.label, (str, Message)) or not str(self.label):
            raise ValueError(f"field {self.id!r}: the label is one text (an English msgid marked with N_())")

    # -- helpers -----------------------------------------------------------------

    def choice_codes(self) -> list[str]:
        return [c.code for c in self.choices]

    def choice_label(self, code: str, language: str) -> str:
        for c in self.choices:
            if c.code == code:
                return text(c.label, language)
        return code

    def is_empty(self, value: Any) -> bool:
        return value is None or value == "" or value == []

    def error(self, message: Text) -> FieldError:
        return FieldError(self.id, self.label, message)

    # -- checking -------------------------------------------------------------

    def coerce(self, value: Any, *, today: dt.date | None = None) -> Any:
        """Turn an answer (typed JSON or a typed-in string) into its canonical
        value, or raise :class:`FieldValueError` saying why not. ``None`` and
        empty answers come back as ``None`` (requiredness is the form's job)."""
        today = today or dt.date.today()
        if isinstance(value, str) and self.kind not in ("boolean",) and not value.strip():
            return None
        if value is None or value == []:
            return None
        handler = getattr(self, f"_coerce_{self.kind}")
        return handler(value, today)

    def _coerce_text(self, value: Any, today: dt.date) -> str:
        text = _clean_text(value, self.id)
        if len(text) < self.min_length:
            raise FieldValueError(_("needs at least {n} characters", n=self.min_length))
        if len(text) > self.max_length:
            raise FieldValueError(_("at most {n} characters", n=self.max_length))
        if self.letters_only:
            bad = [c for c in text if not (c.isalpha() or c in " .'-")]
            if bad:
                raise FieldValueError(N_("only letters, spaces, dots, apostrophes and hyphens"))
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise FieldValueError(self.pattern_message or N_("has the wrong format"))
        return text

    def _as_int(self, value: Any) -> int:
        if isinstance(value, bool):
            raise FieldValueError(N_("must be a whole number"))
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
            return int(value)
        raise FieldValueError(N_("must be a whole number"))

    def _coerce_integer(self, value: Any, today: dt.date) -> int:
        n = self._as_int(value)
        lo, hi = self.minimum, self.maximum
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise FieldValueError(_("must be {low} to {high}", low=lo, high=hi))
        return n

    def _coerce_year(self, value: Any, today: dt.date) -> int:
        n = self._as_int(value)
        lo = self.minimum if self.minimum is not None else 1900
        hi = today.year
        if not lo <= n <= hi:
            raise FieldValueError(_("must be {low} to {high}", low=lo, high=hi))
        return n

    def _coerce_choice(self, value: Any, today: dt.date) -> str:
        if isinstance(value, str):
            v = value.strip()
            codes = self.choice_codes()
            if v in codes:
                return v
            if v.isdigit() and 1 <= int(v) <= len(codes):  # a number typed at the prompt
                return codes[int(v) - 1]
            by_label = self._choice_by_label(v)  # the label as shown ("Nữ"), in any language
            if by_label is not None:
                return by_label
        allowed = ", ".join(self.choice_codes()[:12]) + (" ..." if len(self.choices) > 12 else "")
        raise FieldValueError(_("is not one of the choices ({allowed})", allowed=allowed))

    def _choice_by_label(self, typed: str) -> str | None:
        """The code whose label, in any language Bluezone speaks, is what was
        typed (case and Unicode composition ignored): people type the word
        they read, not the number before it."""
        from ..i18n import available_languages
        from ..i18n import text as in_language

        want = unicodedata.normalize("NFC", typed).casefold()
        languages = sorted(available_languages() | {"en"})
        for c in self.choices:
            for lang in languages:
                if unicodedata.normalize("NFC", in_language(c.label, lang)).casefold() == want:
                    return c.code
        return None

    def _coerce_multichoice(self, value: Any, today: dt.date) -> list[str]:
        if isinstance(value, str):
            items: list[Any] = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        elif isinstance(value, list):
            items = value
        else:
            raise FieldValueError(N_("must be a list of choices"))
        out: list[str] = []
        for item in items:
            code = self._coerce_choice(item, today)
            if code not in out:
                out.append(code)
        order = self.choice_codes()
        return sorted(out, key=order.index)

    def _coerce_boolean(self, value: Any, today: dt.date) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            v = unicodedata.normalize("NFC", value).strip().lower()
            if v in _TRUE:
                return True
            if v in _FALSE:
                return False
        raise FieldValueError(N_("answer yes (y) or no (n)"))

    def _coerce_date(self, value: Any, today: dt.date) -> str:
        if not isinstance(value, str):
            raise FieldValueError(N_("must be a date YYYY-MM-DD"))
        v = value.strip()
        d = None
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                d = dt.datetime.strptime(v, fmt).date()
                break
            except ValueError:
                continue
        if d is None:
            raise FieldValueError(N_("must be a date YYYY-MM-DD or DD/MM/YYYY"))
        if self.not_future and d > today:
            raise FieldValueError(N_("must not be in the future"))
        if d.year < 2019:
            raise FieldValueError(N_("must be in 2019 or later"))
        return d.isoformat()

    def _coerce_phone(self, value: Any, today: dt.date) -> str:
        text = _clean_text(value, self.id)
        compact = re.sub(r"[\s.()-]", "", text)
        if not _PHONE.fullmatch(compact):
            raise FieldValueError(N_("not a valid phone number (e.g. 0912345678 or +84912345678)"))
        return compact

    def _coerce_id_number(self, value: Any, today: dt.date) -> str:
        text = _clean_text(value, self.id).replace(" ", "").upper()
        if not _ID.fullmatch(text):
            raise FieldValueError(N_("6–20 letters or digits (citizen ID 12 digits, old ID 9 digits, passport)"))
        if text.isdigit() and len(text) not in (9, 12):
            raise FieldValueError(N_("an ID number of digits only must have 9 (old ID) or 12 (citizen ID) digits"))
        return text

    def _coerce_email(self, value: Any, today: dt.date) -> str:
        text = _clean_text(value, self.id)
        if len(text) > 254 or not _EMAIL.fullmatch(text):
            raise FieldValueError(N_("not a valid email address"))
        return text.lower()

    # -- serialisation (for docs and the authority's CSV header) -------------------

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "section": self.section, "kind": self.kind,
                               "label": texts(self.label), "required": self.required}
        if self.choices:
            out["choices"] = [{"code": c.code, "label": texts(c.label)} for c in self.choices]
        return out
