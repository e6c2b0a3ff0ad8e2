"""Fixtures for the QR check-in plugin's tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bluezone.i18n import register_catalogue
from bluezone_qr_checkin.plugin import CATALOGUE

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for qr_helpers (import-mode=importlib)

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"  # provenance: tests/vectors/README.md


# In-process tests use the plugin's modules without a plugin set: add its
# texts to the catalogue as loading the plugin does (bluezone_message_catalogues).
register_catalogue(CATALOGUE)


def load_vector(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


@pytest.fixture(autouse=True)
def _private_key_dir(tmp_path_factory, monkeypatch):
    """Store key files never land in the real home directory during tests."""
    monkeypatch.setenv("BLUEZONE_KEY_DIR", str(tmp_path_factory.mktemp("keys")))


@pytest.fixture(scope="session")
def cn_vector() -> dict:
    return load_vector("crowdnotifier_v3.json")


@pytest.fixture(scope="session")
def interop() -> dict:
    return load_vector("crowdnotifier_v3_interop.json")
