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


# --- the server database backends, as in authority/tests/conftest.py ----------
# BLUEZONE_TEST_DATABASE picks which backends the tests that ask for
# `server_database` run on: "sqlite", "postgresql" or both (the default).

BACKENDS = [b.strip() for b in __import__("os").environ.get("BLUEZONE_TEST_DATABASE", "sqlite,postgresql").split(",")
            if b.strip()]


def pytest_generate_tests(metafunc):
    if "server_database" in metafunc.fixturenames:
        metafunc.parametrize("server_database", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgresql_cluster():
    """One PostgreSQL cluster for the whole session, started from Debian's package."""
    from bluezone_authority.server import pg_testing

    cluster = pg_testing.start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def server_database(request):
    """Servers that venue_server.start() makes in this test use a fresh
    PostgreSQL database, or (sqlite) a file in the test's folder as before."""
    import venue_server

    if request.param == "postgresql":
        venue_server.DATABASE = request.getfixturevalue("postgresql_cluster").new_database("qr")
    try:
        yield request.param
    finally:
        venue_server.DATABASE = None
