"""Fixtures for the authority's tests (run alone in their own lane: core + authority)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_key_dir(tmp_path_factory, monkeypatch):
    """Store key files never land in the real home directory during tests."""
    monkeypatch.setenv("BLUEZONE_KEY_DIR", str(tmp_path_factory.mktemp("keys")))


# --- the server database backends (docs/server.md, "Databases") -------------
# BLUEZONE_TEST_DATABASE picks which backends the tests that ask for
# `server_database` run on: "sqlite", "postgresql" or both (the default).

BACKENDS = [b.strip() for b in __import__("os").environ.get("BLUEZONE_TEST_DATABASE", "sqlite,postgresql").split(",")
            if b.strip()]


def pytest_generate_tests(metafunc):
    if "server_database" in metafunc.fixturenames:
        metafunc.parametrize("server_database", BACKENDS, indirect=True)
    if "gateway_database" in metafunc.fixturenames:
        metafunc.parametrize("gateway_database", BACKENDS, indirect=True)
    if "federation_backend" in metafunc.fixturenames:  # the three-process federation world (module-scoped)
        metafunc.parametrize("federation_backend", BACKENDS, scope="module")


@pytest.fixture(scope="session")
def postgresql_cluster():
    """One PostgreSQL cluster for the whole session, started from Debian's package."""
    from bluezone_authority.server import pg_testing

    cluster = pg_testing.start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def server_database(request, tmp_path):
    """The ``[server] database`` value for this test: a fresh SQLite file or a
    fresh PostgreSQL database. While the test runs, ``settings_for`` (server
    testing helpers) uses it too, so a whole server test runs on that backend."""
    from bluezone_authority.server import testing

    if request.param == "postgresql":
        value = request.getfixturevalue("postgresql_cluster").new_database()
        testing.DATABASE = value
    else:  # settings_for's own file, as before
        value = str(tmp_path / "server.db")
    try:
        yield value
    finally:
        testing.DATABASE = None


@pytest.fixture
def gateway_database(request, tmp_path):
    """The federation gateway's ``database`` for this test: a SQLite file or a
    fresh PostgreSQL database of the session's cluster."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgresql_cluster").new_database("gw")
    return str(tmp_path / "gateway.db")
