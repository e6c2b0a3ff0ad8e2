"""The default form: the Vietnamese domestic health declaration (NCOVI / tokhaiyte.vn), version 1.

Questions follow the 2020–2021 form as replicated publicly: personal details,
travel, contact address, symptoms and exposure in the last 14 days, chronic
conditions, consent. Changing a question's meaning means a new ``VERSION``
(old declarations keep the version they were answered under); a province
adding its own questions uses the hook instead (see docs/declarations.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..i18n import N_
from .fields import Choice, Field, FieldError
from .form import Form
from .provinces import province_choices

FORM_ID = "ncovi"
VERSION = 1

SYMPTOMS: dict[str, str] = {
    "fever": N_("Fever"),
    "cough": N_("Cough"),
    "difficulty_breathing": N_("Difficulty breathing"),
    "sore_throat": N_("Sore throat"),
    "nausea_vomiting": N_("Nausea or vomiting"),
    "diarrhoea": N_("Diarrhoea"),
    "skin_haemorrhage": N_("Skin haemorrhage"),
    "skin_rash": N_("Skin rash"),
}

EXPOSURES: dict[str, str] = {
    "close_contact_case": N_("Close contact (< 2 m) with a case or a suspected case"),
    "visited_affected_area": N_("Visited or stayed in an affected area"),
    "contact_symptomatic": N_("Contact with a person with fever, cough or difficulty breathing"),
    "animal_market": N_("Visited a farm or a live-animal market"),
}

CHRONIC: dict[str, str] = {
    "liver": N_("Chronic liver disease"),
    "blood": N_("Chronic blood disease"),
    "lung": N_("Chronic lung disease"),
    "kidney": N_("Chronic kidney disease"),
    "cardiovascular": N_("Cardiovascular disease"),
    "hypertension": N_("Hypertension"),
    "immunodeficiency": N_("Immunodeficiency"),
    "transplant": N_("Organ or bone-marrow transplant"),
    "diabetes": N_("Diabetes"),
    "cancer": N_("Cancer"),
}

TRAVEL_MEANS = {
    "none": N_("Did not travel"),
    "aircraft": N_("Aircraft"),
    "ship": N_("Ship"),
    "car": N_("Car"),
    "train": N_("Train"),
    "other": N_("Other"),
}

_TRAVELLED = tuple(k for k in TRAVEL_MEANS if k != "none")


def _choices(table: dict[str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(code, label) for code, label in table.items())


def _travel_dates(form: Form, a: dict[str, Any], today: dt.date) -> list[FieldError]:
    """Arrival not before departure, and travel within the 14 days asked about."""
    out = []
    dep, arr = a.get("departure_date"), a.get("arrival_date")
    if dep and arr and arr < dep:
        out.append(form.get("arrival_date").error(N_("must not be before the departure date")))
    if dep and dt.date.fromisoformat(dep) < today - dt.timedelta(days=14):
        out.append(form.get("departure_date").error(N_("only travel in the last 14 days is declared")))
    return out


def _consent_given(form: Form, a: dict[str, Any], today: dt.date) -> list[FieldError]:
    if a.get("consent") is not True:
        return [form.get("consent").error(N_("consent is needed to submit"))]
    return []


def ncovi_form() -> Form:
    """A fresh copy of the default form (the hook may change it freely)."""
    form = Form(
        form_id=FORM_ID,
        version=VERSION,
        title=N_("Health declaration"),
        sections={
            "personal": N_("Personal details"),
            "travel": N_("Travel"),
            "address": N_("Contact address in Vietnam"),
            "symptoms": N_("In the last 14 days, have you had any of these symptoms?"),
            "exposure": N_("In the last 14 days, did you have"),
            "health": N_("Chronic conditions"),
            "consent": N_("Consent"),
        },
        consent=N_("The data you give is used only for epidemic prevention."),
    )
    provinces = province_choices()
    add = form.fields.append
    add(Field("full_name", "personal", "text", N_("Full name"), required=True,
              min_length=2, max_length=100, letters_only=True))
    add(Field("year_of_birth", "personal", "year", N_("Year of birth"), required=True, minimum=1900))
    add(Field("gender", "personal", "choice", N_("Gender"), required=True,
              choices=(Choice("male", N_("Male")), Choice("female", N_("Female")),
                       Choice("other", N_("Other")))))
    add(Field("nationality", "personal", "text", N_("Nationality"), required=True,
              min_length=2, max_length=56, letters_only=True, default="Việt Nam"))
    add(Field("id_number", "personal", "id_number", N_("ID or passport number"),
              required=True))
    add(Field("phone", "personal", "phone", N_("Phone number"), required=True))
    add(Field("email", "personal", "email", N_("Email")))
    add(Field("travel_means", "travel", "choice", N_("Means of travel"),
              required=True, choices=_choices(TRAVEL_MEANS), default="none"))
    add(Field("vehicle_number", "travel", "text", N_("Vehicle number"),
              max_length=20, pattern=r"[0-9A-Za-z][0-9A-Za-z .\-/]*",
              pattern_message=N_("letters, digits, dots, hyphens only"),
              required=True, when=("travel_means", _TRAVELLED)))
    add(Field("seat", "travel", "text", N_("Seat"), max_length=10,
              pattern=r"[0-9A-Za-z-]+", pattern_message=N_("letters and digits only"),
              when=("travel_means", _TRAVELLED)))
    add(Field("departure_date", "travel", "date", N_("Departure date"),
              required=True, when=("travel_means", _TRAVELLED)))
    add(Field("arrival_date", "travel", "date", N_("Arrival date"),
              required=True, when=("travel_means", _TRAVELLED)))
    add(Field("provinces_visited", "travel", "multichoice",
              N_("Provinces visited in the last 14 days"),
              choices=provinces, when=("travel_means", _TRAVELLED)))
    add(Field("address_province", "address", "choice", N_("Province"), required=True,
              choices=provinces))
    add(Field("address_district", "address", "text", N_("District"), required=True, max_length=100))
    add(Field("address_ward", "address", "text", N_("Ward or commune"), required=True, max_length=100))
    add(Field("address_street", "address", "text", N_("House number and street"),
              required=True, max_length=200))
    for code, label in SYMPTOMS.items():
        add(Field(f"symptom_{code}", "symptoms", "boolean", label, required=True))
    for code, label in EXPOSURES.items():
        add(Field(f"exposure_{code}", "exposure", "boolean", label, required=True))
    add(Field("chronic_conditions", "health", "multichoice",
              N_("Chronic conditions (choose any)"), choices=_choices(CHRONIC)))
    add(Field("consent", "consent", "boolean",
              N_("I confirm this is true and agree to its use for epidemic prevention"), required=True))
    form.checks.extend([_travel_dates, _consent_given])
    return form


def symptom_fields(form: Form) -> list[str]:
    """Symptom answers (base and province-added), for triage."""
    return [f.id for f in form.fields if f.section == "symptoms"]
