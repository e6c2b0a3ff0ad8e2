"""The declaration form: every field refuses its bad values with a clear,
bilingual message; provinces extend the form through the hook; fuzzing never
crashes validation."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.declarations import Field, FormError, InvalidDeclaration, build_form, make_declaration
from bluezone.declarations.fixtures import TODAY, good_answers
from bluezone.declarations.ncovi_form import CHRONIC, EXPOSURES, SYMPTOMS, ncovi_form
from bluezone.declarations.provinces import PROVINCES
from bluezone.hookspecs import hookimpl
from bluezone.i18n import text
from bluezone.plugins import make_plugin_manager

FORM = ncovi_form()
DAY = dt.timedelta(days=1)

# field -> bad values; each must be refused for that field, with a message in vi and en
BAD_VALUES = {
    "full_name": ["", "A", "Lan 2", "x" * 101, 42, "Lan\x00", "<script>", None],
    "year_of_birth": [1899, TODAY.year + 1, "19x8", 1988.5, True, "", None, [1988]],
    "gender": ["f", "nan", 2, "", None, "4"],
    "nationality": ["V", "Việt Nam 1", 3, "", None],
    "id_number": ["12345", "1234567890", "0791880012345", "AB-12$", "x" * 21, "", None, 79188001234],
    "phone": ["12", "091234567", "+8491234567", "09123456789", "phone", 912345678, "", None],
    "email": ["lan", "lan@", "@example.vn", "lan @example.vn", "a@b", 5],
    "travel_means": ["bus", "", None, 1.5, "7"],
    "vehicle_number": ["", "x" * 21, "-81A", "81A_123", None],
    "seat": ["12 B", "x" * 11, "$"],
    "departure_date": ["2026-13-01", "yesterday", (TODAY + DAY).isoformat(), "2018-12-31", 20260101, "", None],
    "arrival_date": ["31/02/2026", (TODAY + DAY).isoformat(), "", None, (TODAY - 10 * DAY).isoformat()],
    "provinces_visited": [["99"], "00", ["01", "xx"], 64, [True]],
    "address_province": ["99", "Gia Lay", "", None, 64],
    "address_district": ["", "x" * 101, None, 5],
    "address_ward": ["", "x" * 101, None],
    "address_street": ["", "x" * 201, None, ["12"]],
    **{f"symptom_{s}": ["maybe", 2, None, "có lẽ"] for s in SYMPTOMS},
    **{f"exposure_{e}": ["perhaps", 3, None] for e in EXPOSURES},
    "chronic_conditions": [["flu"], "asthma", 7, [""]],
    "consent": [False, "k", None, "n"],
}


def test_every_field_of_the_form_has_bad_values_tested():
    assert sorted(BAD_VALUES) == sorted(f.id for f in FORM.fields)


def test_the_good_declaration_passes():
    result = FORM.validate(good_answers(), today=TODAY)
    assert result.ok, result.messages()
    assert result.answers["provinces_visited"] == ["64", "79"] or result.answers["provinces_visited"] == ["79", "64"]


@pytest.mark.parametrize("field_id,bad", [(f, v) for f, values in BAD_VALUES.items() for v in values],
                         ids=lambda x: repr(x)[:30])
def test_each_bad_value_is_refused_with_a_message_for_that_field(field_id, bad):
    answers = good_answers(**{field_id: bad})
    result = FORM.validate(answers, today=TODAY)
    assert not result.ok
    errors = [e for e in result.errors if e.field_id == field_id]
    assert errors, f"{field_id}={bad!r} accepted; errors: {result.messages()}"
    err = errors[0]
    assert text(err.message, "vi") and text(err.message, "en") and text(err.message, "vi") != text(err.message, "en")
    assert field_id in err.format("en") and text(err.label, "vi") in err.format("vi")


def test_a_choice_typed_as_its_shown_label_is_stored_as_its_code():
    """People type the word they read ("Nam", "Gia Lai"); the sealed answer holds the code."""
    result = FORM.validate(good_answers(gender="nam", address_province="Gia Lai"), today=TODAY)
    assert result.ok, result.messages()
    assert result.answers["gender"] == "male" and result.answers["address_province"] == "64"


def test_one_error_per_field_and_every_bad_field_named():
    answers = good_answers(phone="x", year_of_birth=1700, gender="?", consent=False)
    result = FORM.validate(answers, today=TODAY)
    ids = [e.field_id for e in result.errors]
    assert sorted(ids) == ["gender", "phone", "year_of_birth"]  # cross checks run once fields pass
    assert len(ids) == len(set(ids))


def test_travel_questions_apply_only_to_travellers():
    stay = good_answers(travel_means="none", vehicle_number=..., seat=..., departure_date=...,
                        arrival_date=..., provinces_visited=...)
    assert FORM.validate(stay, today=TODAY).ok
    missing = good_answers(vehicle_number=..., departure_date=...)
    ids = {e.field_id for e in FORM.validate(missing, today=TODAY).errors}
    assert ids == {"vehicle_number", "departure_date"}


def test_cross_field_rules():
    early = good_answers(departure_date=(TODAY - 2 * DAY).isoformat(), arrival_date=(TODAY - 3 * DAY).isoformat())
    errs = FORM.validate(early, today=TODAY).errors
    assert [e.field_id for e in errs] == ["arrival_date"]
    assert "departure" in text(errs[0].message, "en") and "khởi hành" in text(errs[0].message, "vi")
    old = good_answers(departure_date=(TODAY - 20 * DAY).isoformat())
    assert [e.field_id for e in FORM.validate(old, today=TODAY).errors] == ["departure_date"]


def test_unknown_fields_and_non_objects_are_refused():
    result = FORM.validate(good_answers(blood_type="O"), today=TODAY)
    assert [e.field_id for e in result.errors] == ["blood_type"]
    assert not FORM.validate(["not", "an", "object"]).ok


def test_typed_in_strings_are_understood():
    answers = {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in good_answers().items()}
    answers.update(symptom_cough="c", symptom_fever="không", gender="2", phone="091 234 5678",
                   departure_date=(TODAY - 3 * DAY).strftime("%d/%m/%Y"), id_number="0791 8800 1234",
                   provinces_visited="79, 64 79", chronic_conditions="")
    result = FORM.validate(answers, today=TODAY)
    assert result.ok, result.messages()
    a = result.answers
    assert (a["symptom_cough"], a["symptom_fever"], a["gender"], a["phone"]) == (True, False, "female", "0912345678")
    assert a["provinces_visited"] == ["64", "79"] and "chronic_conditions" not in a


def test_the_form_has_the_ncovi_content():
    assert len(PROVINCES) == 63
    assert set(SYMPTOMS) == {"fever", "cough", "difficulty_breathing", "sore_throat", "nausea_vomiting",
                             "diarrhoea", "skin_haemorrhage", "skin_rash"}
    assert len(CHRONIC) == 10
    for f in FORM.fields:
        assert text(f.label, "vi") and text(f.label, "en")
        for c in f.choices:
            assert text(c.label, "vi") and text(c.label, "en")
    assert FORM.schema_tag == "ncovi/1"


def test_make_declaration_raises_with_every_error():
    with pytest.raises(InvalidDeclaration) as e:
        make_declaration(FORM, good_answers(phone="1", email="x"), language="en", today=TODAY)
    assert {x.field_id for x in e.value.result.errors} == {"phone", "email"}


class GiaLai:
    """A province plugin: one extra question, one removed, one tightened."""

    @hookimpl
    def bluezone_declaration_form(self, form, config):
        form.add_field(Field("temperature_x10", "symptoms", "integer",
                             "Temperature (°C × 10)", minimum=340, maximum=430,
                             required=True), after="symptom_fever")
        form.remove_field("seat")
        old = form.get("vehicle_number")
        form.replace_field(Field(old.id, old.section, "text", old.label, required=True, when=old.when,
                                 pattern=r"\d{2}[A-Z]-\d{3}\.\d{2}",
                                 pattern_message="plate like 81A-123.45"))
        form.mark_extended("gia-lai-1")


def test_a_province_extends_the_form_through_the_hook():
    pm = make_plugin_manager(enabled=[])
    pm.register(GiaLai(), "gia-lai")
    form = build_form(None, pm=pm)
    assert form.schema_tag == "ncovi/1+gia-lai-1"
    ids = [f.id for f in form.fields]
    assert ids[ids.index("symptom_fever") + 1] == "temperature_x10" and "seat" not in ids
    result = form.validate(good_answers(seat=...), today=TODAY)
    assert [e.field_id for e in result.errors] == ["temperature_x10"]
    result = form.validate(good_answers(seat=..., temperature_x10=395, vehicle_number="81A123"), today=TODAY)
    assert [e.field_id for e in result.errors] == ["vehicle_number"]
    assert "81A-123.45" in text(result.errors[0].message, "en")
    ok = make_declaration(form, good_answers(seat=..., temperature_x10=395), today=TODAY)
    assert ok.schema == "ncovi/1+gia-lai-1" and ok.answers["temperature_x10"] == 395
    # the default form is untouched for the next deployment
    assert "seat" in build_form(None, pm=make_plugin_manager(enabled=[]))


def test_a_broken_form_plugin_is_reported():
    class Broken:
        @hookimpl
        def bluezone_declaration_form(self, form, config):
            form.fields.append(Field("phone", "personal", "text", "y"))

    pm = make_plugin_manager(enabled=[])
    pm.register(Broken(), "broken")
    with pytest.raises(FormError, match="duplicate fields"):
        build_form(None, pm=pm)
    with pytest.raises(FormError):
        ncovi_form().add_field(Field("x", "nowhere", "text", "y"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.id for f in FORM.fields] + ["zzz"]), json_values, max_size=12))
def test_fuzzed_answers_never_crash_validation(raw):
    result = FORM.validate(raw, today=TODAY)
    for e in result.errors:
        assert text(e.message, "vi") and text(e.message, "en")
    if result.ok:  # anything accepted is canonical and re-validates to itself
        assert FORM.validate(result.answers, today=TODAY).answers == result.answers


@settings(max_examples=200, deadline=None)
@given(field_id=st.sampled_from([f.id for f in FORM.fields]), value=json_values)
def test_fuzzed_single_field_values_give_an_answer_or_a_message(field_id, value):
    result = FORM.validate(good_answers(**{field_id: value}), today=TODAY)
    assert result.ok or all(text(e.message, "en") for e in result.errors)
