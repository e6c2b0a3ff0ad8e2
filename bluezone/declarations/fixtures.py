"""A valid answer set and a deployment file for declarations: what the core's
and the authority's tests (and demos) start from, in one place, like
:mod:`bluezone.matching.fixtures` for sightings. Not used by the product itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bluezone.declarations import KeyPair

TODAY = dt.date.today()


def good_answers(**changes) -> dict:
    """A complete, valid declaration (a traveller with a cough)."""
    a = {
        "full_name": "Nguyễn Thị Lan",
        "year_of_birth": 1988,
        "gender": "female",
        "nationality": "Việt Nam",
        "id_number": "079188001234",
        "phone": "0912345678",
        "email": "lan@example.vn",
        "travel_means": "car",
        "vehicle_number": "81A-123.45",
        "seat": "12B",
        "departure_date": (TODAY - dt.timedelta(days=3)).isoformat(),
        "arrival_date": (TODAY - dt.timedelta(days=2)).isoformat(),
        "provinces_visited": ["79", "64"],
        "address_province": "64",
        "address_district": "Pleiku",
        "address_ward": "Hội Thương",
        "address_street": "12 Trần Hưng Đạo",
        "symptom_fever": False,
        "symptom_cough": True,
        "symptom_difficulty_breathing": False,
        "symptom_sore_throat": False,
        "symptom_nausea_vomiting": False,
        "symptom_diarrhoea": False,
        "symptom_skin_haemorrhage": False,
        "symptom_skin_rash": False,
        "exposure_close_contact_case": False,
        "exposure_visited_affected_area": True,
        "exposure_contact_symptomatic": False,
        "exposure_animal_market": False,
        "chronic_conditions": ["hypertension"],
        "consent": True,
    }
    for k, v in changes.items():
        if v is ...:
            a.pop(k, None)
        else:
            a[k] = v
    return a


def write_deployment(folder: Path, *, url: str = "http://127.0.0.1:9/", public_b64: str | None = None,
                     declarations: str = "") -> tuple[Path, KeyPair]:
    """A deployment TOML with a fresh declaration key pair; returns (path, pair)."""
    pair = KeyPair.generate()
    pub = public_b64 or pair.public_b64
    path = folder / "deploy.toml"
    path.write_text(
        '[deployment]\nname = "Test"\nregion = "452"\n\n'
        f'[authority]\nurl = "{url}"\ndeclaration_public_key = "{pub}"\n\n' + declarations,
        encoding="utf-8",
    )
    return path, pair
