"""Fixtures for the authority's tests (run alone in their own lane: core + authority)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_key_dir(tmp_path_factory, monkeypatch):
    """Store key files never land in the real home directory during tests."""
    monkeypatch.setenv("BLUEZONE_KEY_DIR", str(tmp_path_factory.mktemp("keys")))
