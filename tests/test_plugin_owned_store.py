"""A third-party plugin owns its device-store tables through named migrations.

The fixture distribution (real ``.dist-info`` metadata with a ``bluezone``
entry point, as tests/test_plugins.py installs one) contributes device-store
migrations. The tests open real SQLite files: the plugin's tables appear, are
made once, survive a restart, and a store that has them opens fine once the
plugin is disabled or gone; old stores upgrade without losing data; newer,
malformed or failing migrations are refused with the file left as it was.
The server and portal side: authority/tests/test_plugin_owned_data.py.
"""

from __future__ import annotations

import sqlite3
import textwrap
import time

import pytest

from bluezone.testing import install_plugin

from bluezone.models import ExposureKey, interval_number
from bluezone.plugins import make_plugin_manager
from bluezone.store import DeviceStore, StoreError, migrations
from bluezone.store.engine import open_raw

OWNED = textwrap.dedent(
    '''
    from bluezone.hookspecs import hookimpl


    def seed(conn):
        conn.executescript("INSERT INTO owned_notes (text) VALUES ('seeded once');")


    @hookimpl
    def bluezone_store_migrations():
        return [("owned_test", "001_notes",
                 "CREATE TABLE owned_notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"),
                ("owned_test", "002_seed", seed)]
    '''
)

ENTRY = "owned-test"


@pytest.fixture
def owned(tmp_path, monkeypatch):
    """Install the fixture distribution on sys.path (found through its entry point)."""
    site = tmp_path / "site"
    install_plugin(site, "bz-owned-store-fixture", ENTRY, OWNED)
    monkeypatch.syspath_prepend(str(site))
    return site


def recorded(conn: sqlite3.Connection, owner: str) -> list[str]:
    return [n for (n,) in conn.execute("SELECT name FROM _migrations WHERE owner = ? ORDER BY name", (owner,))]


def tables(path) -> set[str]:
    conn = open_raw(path)
    try:
        return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


# --- device store -----------------------------------------------------------------------------


def test_a_plugins_store_migrations_apply_once_and_survive_a_restart(owned, tmp_path):
    pm = make_plugin_manager()
    path = tmp_path / "phone.db"
    with DeviceStore(path, plugins=pm) as store:
        assert ("owned_test", "001_notes") in store.migrations_applied
        assert recorded(store.db.conn, "owned_test") == ["001_notes", "002_seed"]
        assert [r[0] for r in store.db.execute("SELECT text FROM owned_notes")] == ["seeded once"]
        store.db.execute("INSERT INTO owned_notes (text) VALUES ('kept')")
    with DeviceStore(path, plugins=make_plugin_manager(), create=False) as store:
        assert store.migrations_applied == []  # nothing ran twice: the seed is still one row
        assert [r[0] for r in store.db.execute("SELECT text FROM owned_notes ORDER BY id")] == ["seeded once", "kept"]
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_store_with_a_plugins_tables_opens_when_the_plugin_is_disabled_or_gone(owned, tmp_path):
    path = tmp_path / "phone.db"
    with DeviceStore(path, plugins=make_plugin_manager()) as store:
        store.db.execute("INSERT INTO owned_notes (text) VALUES ('mine')")
    for plugins in (make_plugin_manager(disabled=[ENTRY]), None):
        with DeviceStore(path, plugins=plugins, create=False) as store:
            assert store.migrations_applied == []
            assert store.db.execute("SELECT count(*) FROM owned_notes").fetchone()[0] == 2
            assert recorded(store.db.conn, "owned_test") == ["001_notes", "002_seed"]
    with DeviceStore(path, plugins=make_plugin_manager(), create=False) as store:  # back again: nothing re-run
        assert store.migrations_applied == []


def test_a_plugin_installed_later_gets_its_tables_on_the_next_open(owned, tmp_path):
    path = tmp_path / "phone.db"
    DeviceStore(path, plugins=make_plugin_manager(disabled=[ENTRY])).close()
    assert "owned_notes" not in tables(path)
    with DeviceStore(path, plugins=make_plugin_manager(), create=False) as store:
        assert store.migrations_applied == [("owned_test", "001_notes"), ("owned_test", "002_seed")]


def _legacy(path, version: int) -> None:
    """Make ``path`` what Bluezone before named migrations left at ``version``:
    the same core tables (their steps are unchanged), no ``_migrations``, the
    version in ``user_version``."""
    conn = open_raw(path)  # the schema of an older store, encrypted as this version keeps it
    conn.execute("DROP TABLE _migrations")
    # step 004 came after named migrations: no numbered store has it
    conn.executescript("DROP TABLE own_reports; DROP INDEX exposure_windows_key_tag;"
                       "ALTER TABLE exposure_windows DROP COLUMN key_tag;"
                       "ALTER TABLE alerts DROP COLUMN state; ALTER TABLE alerts DROP COLUMN changed_at;")
    if version < 3:
        conn.executescript("DROP TABLE matched_contributions; DROP TABLE processed_batches;"
                           "CREATE TABLE processed_batches (feed TEXT NOT NULL, name TEXT NOT NULL,"
                           " processed_at INTEGER NOT NULL, PRIMARY KEY (feed, name));")
    if version < 2:
        conn.execute("DROP TABLE exposure_windows")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


@pytest.mark.parametrize("version", [1, 3])
def test_a_store_from_before_named_migrations_upgrades_without_losing_data(owned, tmp_path, version):
    path = tmp_path / "old.db"
    key = ExposureKey(bytes(range(16)), interval_number(time.time()) // 144 * 144, 144)  # within retention
    with DeviceStore(path) as store:
        store.add_own_key("gaen", key)
        store.set_meta("language", "vi")
    _legacy(path, version)
    with DeviceStore(path, plugins=make_plugin_manager(), create=False) as store:
        core_ran = [n for o, n in store.migrations_applied if o == "core"]
        assert core_ran == [m.name for m in migrations.CORE_MIGRATIONS[version:]]
        assert recorded(store.db.conn, "core") == [m.name for m in migrations.CORE_MIGRATIONS]
        assert recorded(store.db.conn, "owned_test") == ["001_notes", "002_seed"]
        assert migrations.current_version(store.db.conn) == migrations.SCHEMA_VERSION
        assert [k.key for k in store.own_keys()] == [key]  # still decrypts with its key
        assert store.get_meta("language") == "vi"


def test_a_store_migrated_by_a_newer_bluezone_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "newer.db"
    DeviceStore(path).close()
    conn = open_raw(path)
    conn.execute("INSERT INTO _migrations VALUES ('core', '999_from_the_future', 0)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        DeviceStore(path, create=False)
    assert path.read_bytes() == before


def test_a_failing_plugin_migration_leaves_the_store_unchanged(tmp_path):
    from bluezone.hookspecs import hookimpl

    class Broken:
        @hookimpl
        def bluezone_store_migrations(self):
            return [("broken", "001_ok", "CREATE TABLE broken_ok (x)"), ("broken", "002_bad", "CREATE TABLE (")]

    pm = make_plugin_manager()
    pm.register(Broken(), name="broken")
    path = tmp_path / "phone.db"
    DeviceStore(path).close()
    with pytest.raises(StoreError, match="broken/002_bad"):
        DeviceStore(path, plugins=pm, create=False)
    assert "broken_ok" not in tables(path)  # the first step was rolled back with the second
    with DeviceStore(path, create=False) as store:
        assert recorded(store.db.conn, "broken") == []


def test_a_plugin_may_not_write_under_the_cores_name(tmp_path):
    from bluezone.hookspecs import hookimpl

    class Sneaky:
        @hookimpl
        def bluezone_store_migrations(self):
            return [("core", "004_mine", "CREATE TABLE sneaky (x)")]

    pm = make_plugin_manager()
    pm.register(Sneaky(), name="sneaky")
    with pytest.raises(StoreError, match="belongs to Bluezone itself"):
        DeviceStore(tmp_path / "phone.db", plugins=pm)
