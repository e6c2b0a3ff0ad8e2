"""The declaration's questions as a person answers them: the label they read
is an answer, a cancel word or a refused consent stops the form (it never
asks the same question forever), and errors never show a field's id."""

from __future__ import annotations

import datetime as dt

import pytest

from bluezone.declarations.console import Cancelled, Console, ask_field, ask_form
from bluezone.declarations.ncovi_form import ncovi_form

TODAY = dt.date(2026, 12, 1)


def scripted(*answers: str) -> tuple[Console, list[str]]:
    """A console fed these answers in turn (more questions than answers ends as Ctrl-D would)."""
    pending, shown = list(answers), []

    def ask(prompt: str) -> str:
        shown.append(prompt)
        if not pending:
            raise EOFError
        return pending.pop(0)

    return Console(ask, shown.append), shown


@pytest.mark.parametrize("typed, code", [("Nữ", "female"), ("nữ", "female"), ("2", "female"), ("female", "female"),
                                         ("Female", "female"), ("Nam", "male")])
def test_a_choice_is_answered_by_its_shown_label_its_number_or_its_code(typed, code):
    form = ncovi_form()
    console, _ = scripted(typed)
    assert ask_field(console, form, form.get("gender"), "vi", TODAY) == code


@pytest.mark.parametrize("word", ["huỷ", "hủy", "HUỶ", "cancel", " Huy "])
def test_a_cancel_word_stops_at_any_question(word):
    form = ncovi_form()
    console, _ = scripted("Trần Thị Lan", word)
    with pytest.raises(Cancelled) as e:
        ask_form(console, form, "vi", today=TODAY)
    assert e.value.reason == "asked"


def test_refusing_consent_ends_the_form_instead_of_asking_again():
    form = ncovi_form()
    console, shown = scripted("k", "k", "k")
    with pytest.raises(Cancelled) as e:
        ask_field(console, form, form.get("consent"), "vi", TODAY)
    assert e.value.reason == "consent" and len(shown) == 1


def test_the_date_hint_is_in_the_persons_language():
    form = ncovi_form()
    console, shown = scripted("30/11/2026")
    assert ask_field(console, form, form.get("departure_date"), "vi", TODAY) == "2026-11-30"
    assert "YYYY" not in shown[0] and "ngày/tháng/năm" in shown[0]
