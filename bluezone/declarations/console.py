"""Asking the form's questions on a terminal, in the person's language.

Each answer is checked as soon as it is typed, with the field's message in
the chosen language, and asked again until it passes; rules across fields
(arrival after departure) are checked at the end and only the fields they
name are asked again. Input and output go through two callables so the
same flow runs on a real terminal (tested through a pseudo-terminal) and
anywhere else.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..i18n import N_, Message, render, text
from ..localtime import show_date
from .fields import Field, FieldValueError
from .form import Form
from .linkage import Linkage, LinkageError, normalise_code

UI = {
    "optional": N_("(Enter to skip)"),
    "yes_no": N_("[y/n]"),
    "multi": N_("Type numbers or codes separated by commas; Enter for none"),
    "try_again": N_("Not valid"),
    "offer": N_("You received an {tier} alert (exposure on {date}). Link this declaration to it? "
                "(only the tier and the date are sent, nothing else)"),
    "code": N_("Did the health authority give you a verification code? Enter it"),
    "fix": N_("Please correct these answers:"),
    "summary": N_("Declaration summary"),
    "keep_copy": N_("Keep a copy on this device (encrypted)?"),
    "external": N_("Also send to {name}? They will be able to read your answers."),
    "provinces_hint": N_("Type the province code (e.g. 64 = Gia Lai)"),
    "date_hint": N_("(DD/MM/YYYY)"),
    "cancel_hint": N_("Type 'cancel' at any question to stop; nothing is kept or sent."),
}

#: Typed at any question, these stop the declaration (Vietnamese with and
#: without tone marks, in both accent placements, and English).
CANCEL_WORDS = frozenset({"huỷ", "hủy", "huy", "cancel", "thoát", "thoat", "quit"})


class Cancelled(Exception):
    """The person stopped the declaration (a cancel word, Ctrl-C, Ctrl-D, or
    refusing consent): nothing was sealed, kept or sent. ``reason`` is
    ``"asked"`` or ``"consent"``."""

    def __init__(self, reason: str = "asked"):
        super().__init__(reason)
        self.reason = reason


#: Asked before the person has chosen a language: shown in every deployment language.
CHOOSE_LANGUAGE = N_("Choose language [{languages}]")


def ui(key: str, language: str, **kw: Any) -> str:
    """A prompt of the console flow in the person's language."""
    return Message(UI[key], kw).text(language)


@dataclass
class Console:
    """The two ends of a conversation: ``ask(prompt) -> str`` and ``say(text)``."""

    ask_raw: Callable[[str], str]
    say: Callable[[str], None]

    def ask(self, prompt: str) -> str:
        try:
            raw = self.ask_raw(prompt)
        except (EOFError, KeyboardInterrupt):
            raise Cancelled() from None
        if unicodedata.normalize("NFC", raw).strip().casefold() in CANCEL_WORDS:
            raise Cancelled()
        return raw

    def yes_no(self, question: str, language: str, default: bool | None = None) -> bool:
        probe = Field("_", "_", "boolean", "_")
        while True:
            raw = self.ask(f"{question} {ui('yes_no', language)}: ")
            if not raw.strip() and default is not None:
                return default
            try:
                return probe.coerce(raw)
            except FieldValueError as e:
                self.say("  " + text(e.text, language))


def choose_language(console: Console, allowed: list[str]) -> str:
    while True:
        raw = console.ask(render(Message(CHOOSE_LANGUAGE, {"languages": "/".join(allowed)}), allowed) + ": ")
        raw = raw.strip().lower()
        if raw in allowed:
            return raw
        if not raw:
            return allowed[0]


def _choice_lines(f: Field, language: str) -> list[str]:
    if len(f.choices) > 12:  # provinces: code and name, four per line
        cells = ["{} {}".format(c.code, text(c.label, language)) for c in f.choices]
        return ["  " + "  ".join(f"{cell:<22}" for cell in cells[i:i + 4]).rstrip() for i in range(0, len(cells), 4)]
    return ["  " + "   ".join("{}) {}".format(i, text(c.label, language)) for i, c in enumerate(f.choices, 1))]


def ask_field(console: Console, form: Form, f: Field, language: str, today: dt.date) -> Any:
    """Ask one question until the answer passes the field's own check."""
    required = f.required
    suffix = ""
    if f.kind == "boolean":
        suffix = " " + ui("yes_no", language)
    elif f.kind == "date":
        suffix = " " + ui("date_hint", language)
    if not required and f.kind != "boolean":
        suffix += " " + ui("optional", language)
    if f.kind in ("choice", "multichoice"):
        for line in _choice_lines(f, language):
            console.say(line)
        if f.kind == "multichoice":
            console.say("  " + ui("multi", language))
        elif len(f.choices) > 12:
            console.say("  " + ui("provinces_hint", language))
    default = f.default
    if default is not None and f.kind in ("text", "choice"):
        shown = f.choice_label(default, language) if f.kind == "choice" else default
        suffix += f" [{shown}]"
    while True:
        raw = console.ask("{}{}: ".format(text(f.label, language), suffix))
        if not raw.strip() and default is not None:
            raw = default
        try:
            value = f.coerce(raw, today=today)
        except FieldValueError as e:
            console.say("  {}: {}".format(ui("try_again", language), text(e.text, language)))
            continue
        if value is None and required:
            console.say("  {}: {}".format(ui("try_again", language), text(N_("is required"), language)))
            continue
        if f.section == "consent" and f.kind == "boolean" and value is False:
            raise Cancelled("consent")  # no is an answer: asking again would trap the person
        return value


def ask_form(console: Console, form: Form, language: str, today: dt.date | None = None) -> dict[str, Any]:
    """Every applicable question, section by section; returns valid answers."""
    today = today or dt.date.today()
    answers: dict[str, Any] = {}
    for section, title in form.sections.items():
        fields = [f for f in form.section_fields(section)]
        if not fields:
            continue
        if section == "consent" and form.consent:
            console.say(text(form.consent, language))
        shown = False
        for f in fields:
            if not form.is_asked(f, answers):
                continue
            if not shown:
                console.say("\n== {} ==".format(text(title, language)))
                shown = True
            answers[f.id] = ask_field(console, form, f, language, today)
    while True:
        result = form.validate({k: v for k, v in answers.items() if v is not None}, today=today)
        if result.ok:
            return result.answers
        console.say(ui("fix", language))
        for err in result.errors:
            console.say(f"  - {err.shown(language)}")
        for err in result.errors:
            if err.field_id in form:
                f = form.get(err.field_id)
                answers[f.id] = ask_field(console, form, f, language, today) if form.is_asked(f, answers) else None


def offer_linkage(console: Console, offers: list[Linkage], language: str) -> Linkage | None:
    """Offer each recent alert; the person may link one and add a code."""
    for offer in offers:
        question = ui("offer", language, tier=offer.tier.name, date=show_date(offer.exposure_date, language))
        if console.yes_no(question, language, default=False):
            while True:
                raw = console.ask(f"{ui('code', language)} {ui('optional', language)}: ").strip()
                if not raw:
                    return offer
                try:
                    return offer.with_code(normalise_code(raw))
                except LinkageError as e:
                    console.say(f"  {ui('try_again', language)}: {e}")
    return None


def summary_lines(form: Form, answers: dict[str, Any], language: str) -> list[str]:
    out = [f"== {ui('summary', language)} =="]
    for f in form.fields:
        v = answers.get(f.id)
        if v is None:  # not asked, or left empty (an opened declaration may say null for any field)
            continue
        if f.kind == "boolean":
            v = text(N_("yes") if v else N_("no"), language)
        elif f.kind == "choice":
            v = f.choice_label(v, language)
        elif f.kind == "multichoice":
            v = ", ".join(f.choice_label(c, language) for c in v)
        out.append("  {}: {}".format(text(f.label, language), v))
    return out
