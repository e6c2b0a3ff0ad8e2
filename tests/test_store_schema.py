"""bluezone.store.migrations: the on-disk version, the usual open, a newer store's refusal, two openers.

tests/test_plugin_owned_store.py covers the steps themselves (old stores
upgraded without loss, plugins' steps, failures rolled back); these pin what
those cannot see: what an open of an up-to-date store writes (nothing), the
version number older releases compare against, and a second process that
migrated the store while this one waited for the lock.
"""

from __future__ import annotations

import pytest

from bluezone.store import DeviceStore, StoreError, migrations
from bluezone.store.engine import open_raw

NOW = 1_795_000_000


def open_store(path, **kw) -> DeviceStore:
    return DeviceStore(path, clock=lambda: NOW, **kw)  # the default key file, as open_raw reads it


def files(path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in path.parent.glob(path.name + "*")}


def test_opening_an_up_to_date_store_writes_nothing(tmp_path):
    """Nothing to migrate and nothing old to purge: the file stays byte for
    byte (SQLCipher gives every written page a fresh IV, so even rewriting
    the same version number would show). A status check or a backup tool
    never sees a store change because it was only opened."""
    path = tmp_path / "device.db"
    open_store(path).close()
    before = files(path)
    with open_store(path, create=False) as store:
        assert store.migrations_applied == []
    assert files(path) == before


def test_the_version_number_on_disk_is_the_one_older_releases_know():
    """Releases before this one refuse a store whose ``user_version`` is
    above the number they wrote; raising it is a format change that every
    older phone would treat as a newer store."""
    assert migrations.SCHEMA_VERSION == 5 == len(migrations.CORE_MIGRATIONS)


def test_a_new_store_records_that_number(tmp_path):
    path = tmp_path / "device.db"
    open_store(path).close()
    conn = open_raw(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    finally:
        conn.close()


def test_a_newer_store_is_refused_naming_the_first_step_unknown_here_and_the_last_known(tmp_path):
    path = tmp_path / "newer.db"
    open_store(path).close()
    conn = open_raw(path)
    conn.execute("INSERT INTO _migrations VALUES ('core', '998_first_new_step', 0)")
    conn.execute("INSERT INTO _migrations VALUES ('core', '999_second_new_step', 0)")
    conn.close()
    with pytest.raises(StoreError) as e:
        open_store(path, create=False)
    said = str(e.value)
    assert "core/998_first_new_step" in said and "999" not in said
    assert f"core/{migrations.CORE_MIGRATIONS[-1].name}" in said
    assert "core/005_own_reports_and_revisions" in said


def test_a_store_another_process_migrated_meanwhile_is_not_recorded_twice(tmp_path, monkeypatch):
    """Two commands open an old store at once: both read its old version
    before either takes the write lock; the second, once it has the lock,
    finds the steps recorded by the first and must not record the old
    steps again."""
    path = tmp_path / "device.db"
    open_store(path).close()  # migrated by "the other process"
    stale = iter([3])  # what this one read before waiting for the lock
    real = migrations.current_version
    monkeypatch.setattr(migrations, "current_version", lambda conn: next(stale, None) or real(conn))
    with open_store(path, create=False) as store:
        rows = store.db.execute("SELECT owner, name, count(*) FROM _migrations GROUP BY owner, name").fetchall()
        assert {r[1] for r in rows} == {m.name for m in migrations.CORE_MIGRATIONS}
        assert all(r[2] == 1 for r in rows)
        assert migrations.current_version(store.db.conn) == 5
