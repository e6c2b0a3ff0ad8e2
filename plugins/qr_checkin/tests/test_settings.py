"""[qr_checkin] is a typed section: its defaults live in its schema only,
and the plugin's working settings are built from the typed section."""

from __future__ import annotations

import dataclasses

import pytest

from bluezone import config_from_dict
from bluezone_qr_checkin.settings import SCHEMA, CheckinSection, CheckinSettings, SettingsError

BASE = {"deployment": {"name": "T", "region": "452"}, "authority": {"url": "https://a.example"}}
KEY_A = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="


def test_the_working_settings_have_no_defaults_of_their_own():
    """A default written in the dataclass could drift from the schema's."""
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(CheckinSettings))


def test_the_section_is_typed_with_the_schema_defaults():
    config = config_from_dict({**BASE, "qr_checkin": {"default_stay_minutes": 30}})
    section = config.typed(CheckinSection)
    assert section.default_stay_minutes == 30
    assert section.kiosk_retention_days == SCHEMA["properties"]["kiosk_retention_days"]["default"]
    settings = CheckinSettings.from_config(config)
    assert settings.default_stay_minutes == 30
    assert settings.trace_workers == CheckinSettings.defaults().trace_workers == 1
    assert "f0-visit" in settings.notices


def test_configured_notices_and_keys_are_decoded():
    config = config_from_dict({**BASE, "qr_checkin": {
        "authority_public_key": KEY_A, "notices": {"clinic": {"vi": "Đến trạm y tế", "en": "Go to the clinic"}}}})
    settings = CheckinSettings.from_config(config)
    assert settings.authority_public_key == b"\x01" * 32
    assert settings.notices["clinic"].text("en") == "Go to the clinic"


def test_a_kiosk_key_equal_to_the_tracing_key_is_refused():
    config = config_from_dict({**BASE, "qr_checkin": {"authority_public_key": KEY_A, "kiosk_public_key": KEY_A}})
    with pytest.raises(SettingsError, match="kiosk_public_key"):
        CheckinSettings.from_config(config)
