"""Shared fixtures: every test gets a private key directory and vector access."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "tests" / "vectors"  # published vectors, provenance in README.md there


def load_vector(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


@pytest.fixture(autouse=True)
def _private_key_dir(tmp_path_factory, monkeypatch):
    """Store key files never land in the real home directory during tests."""
    monkeypatch.setenv("BLUEZONE_KEY_DIR", str(tmp_path_factory.mktemp("keys")))


@pytest.fixture(autouse=True)
def _english_in_process(monkeypatch):
    """Messages built inside the test process (a refusal, a problem list) are
    checked in English, the catalogue's source language; a test that wants
    another language says so (``use_languages``, ``Message.text``). Commands
    run as subprocesses speak their deployment's languages as in production."""
    from bluezone import i18n

    monkeypatch.setattr(i18n, "_default_languages", ("en",))


@pytest.fixture
def gaen_vector() -> dict:
    return load_vector("gaen.json")


@pytest.fixture
def dp3t_vector() -> dict:
    return load_vector("dp3t_lowcost.json")
