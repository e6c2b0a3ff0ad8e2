"""The server's schema on Alembic (server/schema_versions.py, server/migrations/).

Each test runs on a real SQLite file and on a real PostgreSQL started by the
session (``server_database``). Plugins here are plain folders of revision
files handed to a real plugin manager through ``bluezone_server_migrations``;
their first revisions create tables without ``IF NOT EXISTS``, so a revision
run twice fails loudly instead of passing unnoticed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bluezone.hookspecs import hookimpl
from bluezone.plugins import BluezonePluginManager
from bluezone_authority.server.database import open_database
from bluezone_authority.server.db import ServerDB, migration_status
from bluezone_authority.server.testing import describe_schema

CORE = ["001_schema", "002_coarse_upload_times", "003_key_revisions", "004_rate_windows", "005_federation"]
SNAPSHOT = Path(__file__).parent / "data" / "server_schema_005"


def write_revision(folder: Path, rev: str, down: str | None, sql: str, *, label: str | None = None,
                   depends_on: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rev}.py").write_text(
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = {(label,) if label else None!r}\n"
        f"depends_on = {depends_on!r}\n\n\ndef upgrade():\n"
        "    from bluezone_authority.server.migrations import connection\n\n"
        f"    for statement in {sql.split(';')!r}:\n        connection().execute(statement)\n")


class Folders:
    """A plugin contributing revision folders."""

    def __init__(self, *folders: Path):
        self.folders = list(folders)

    @hookimpl
    def bluezone_server_migrations(self):
        return self.folders


def plugins(*folders: Path) -> BluezonePluginManager:
    pm = BluezonePluginManager()
    if folders:
        pm.register(Folders(*folders), name="folders")
    return pm


def versions(location: str) -> set[str]:
    with open_database(location) as db:
        return {r[0] for r in db.all("SELECT version_num FROM alembic_version")}


def tables(location: str) -> set[str]:
    with open_database(location) as db, db.transaction() as c:
        if db.kind == "sqlite":
            return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {r[0] for r in c.execute("SELECT table_name FROM information_schema.tables"
                                        " WHERE table_schema = current_schema()")}


def fingerprint(location: str) -> str:
    db = ServerDB.__new__(ServerDB)  # read every row of every table without opening (migrating) it
    db.backend = open_database(location)
    db.kind = db.backend.kind
    try:
        return db.fingerprint()
    finally:
        db.backend.close()


def test_the_core_revisions_build_the_schema_the_named_steps_built(server_database):
    """Same tables, columns, types, defaults, keys and indexes as the code
    before Alembic made (data/server_schema_005, recorded from that code)."""
    with ServerDB(server_database) as db:
        assert [str(r) for r in db.migrations_applied] == [f"core/{r}" for r in CORE]
        kind = db.kind
    assert describe_schema(server_database) == (SNAPSHOT / f"{kind}.txt").read_text().splitlines()
    assert versions(server_database) == {"005_federation"}


def test_a_failing_plugin_revision_leaves_the_database_as_it_was(server_database, tmp_path):
    """All pending revisions share one transaction: on a new database the
    core's five are rolled back with the plugin's (SQLite's DDL included);
    on a used one, every row and table stays as it was."""
    folder = tmp_path / "bad"
    write_revision(folder, "bad_001_ok", None, "CREATE TABLE bad_ok (x TEXT);INSERT INTO bad_ok VALUES ('in')",
                   label="bad")
    write_revision(folder, "bad_002_broken", "bad_001_ok", "CREATE TABLE (")
    with pytest.raises(ValueError) as refused:
        ServerDB(server_database, plugins=plugins(folder))
    message = str(refused.value)
    assert "revision bad/bad_002_broken failed: " in message and "nothing was changed" in message
    assert "\n" not in message
    assert tables(server_database) == set()  # not even the core's tables, nor alembic_version

    with ServerDB(server_database) as db, db.transaction() as c:
        c.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    before = fingerprint(server_database)
    with pytest.raises(ValueError, match="bad/bad_002_broken"):
        ServerDB(server_database, plugins=plugins(folder))
    assert fingerprint(server_database) == before
    assert "bad_ok" not in tables(server_database)


def test_a_database_from_a_newer_version_is_refused_unchanged(server_database, tmp_path):
    with ServerDB(server_database) as db, db.transaction() as c:
        c.execute("INSERT INTO alembic_version (version_num) VALUES ('006_from_the_future')")
    before = fingerprint(server_database)
    with pytest.raises(ValueError) as refused:
        ServerDB(server_database)
    assert str(refused.value).endswith("made by a newer Bluezone (core migrations unknown here: 006_from_the_future); "
                                       "left as it is: upgrade Bluezone")  # after the Vietnamese
    assert fingerprint(server_database) == before

    # a plugin's revision newer than the installed plugin: refused too (its branch would be misread)
    folder = tmp_path / "notes"
    write_revision(folder, "notes_001_table", None, "CREATE TABLE notes (x TEXT)", label="notes")
    with open_database(server_database) as db:
        db.execute("DELETE FROM alembic_version WHERE version_num = '006_from_the_future'")
        db.execute("INSERT INTO alembic_version (version_num) VALUES ('notes_002_newer')")
    before = fingerprint(server_database)
    with pytest.raises(ValueError, match=r"newer version of the plugin notes \(revisions unknown here: notes_002_newer\)"):
        ServerDB(server_database, plugins=plugins(folder))
    assert fingerprint(server_database) == before


def test_a_plugin_not_installed_keeps_its_revision_and_takes_up_where_it_was(server_database, tmp_path):
    folder = tmp_path / "notes"
    write_revision(folder, "notes_001_table", None, "CREATE TABLE notes (x TEXT)", label="notes",
                   depends_on="001_schema")
    with ServerDB(server_database, plugins=plugins(folder)) as db:
        assert "notes/notes_001_table" in [str(r) for r in db.migrations_applied]
        db.backend.execute("INSERT INTO notes VALUES ('kept')")
    with ServerDB(server_database) as db:  # the plugin is gone
        assert db.migrations_applied == []
        assert db.all("SELECT x FROM notes") == [("kept",)]
    assert versions(server_database) == {"005_federation", "notes_001_table"}
    status = migration_status(server_database)
    assert status.absent == ["notes_001_table"] and status.pending == []
    assert [str(r) for r in status.heads] == ["core/005_federation"]

    write_revision(folder, "notes_002_more", "notes_001_table", "ALTER TABLE notes ADD COLUMN y TEXT")
    with ServerDB(server_database, plugins=plugins(folder)) as db:  # back, one revision newer
        assert [str(r) for r in db.migrations_applied] == ["notes/notes_002_more"]  # 001 not run again
        assert db.all("SELECT x, y FROM notes") == [("kept", None)]
    assert versions(server_database) == {"005_federation", "notes_002_more"}


def _make_legacy(location: str, tmp_path: Path) -> Path:
    """A database as the named-migration code left it: the core's steps up to
    003 and a plugin's (``notes/001_table``) in ``_migrations``, a step of a
    plugin no longer installed (``gone/001_x``), rows in core and plugin
    tables. Built by today's code, then its ledger swapped for the old one."""
    folder = tmp_path / "notes"
    write_revision(folder, "notes_001_table", None, "CREATE TABLE notes (x TEXT)", label="notes")
    with ServerDB(location, plugins=plugins(folder)) as db, db.transaction() as c:
        c.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
        c.execute("INSERT INTO notes VALUES ('kept')")
        c.execute("CREATE TABLE gone_things (x TEXT)")
        c.execute("INSERT INTO gone_things VALUES ('kept')")
        c.execute("DROP TABLE alembic_version")
        c.execute("CREATE TABLE _migrations (owner TEXT NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL,"
                  " PRIMARY KEY (owner, name))")
        for owner, name in [("core", "001_schema"), ("core", "002_coarse_upload_times"), ("core", "003_key_revisions"),
                            ("notes", "001_table"), ("gone", "001_x")]:
            c.execute("INSERT INTO _migrations VALUES (?, ?, 1700000000)", (owner, name))
    return folder


def _ledger(location: str) -> list[tuple]:
    with open_database(location) as db:
        return db.all("SELECT owner, name FROM _migrations ORDER BY owner, name")


def test_a_named_migrations_database_is_adopted_with_every_row(server_database, tmp_path):
    """Stamped at the revisions its ``_migrations`` rows name (none of them
    runs again: the plugin's CREATE TABLE would fail), the newer revisions
    applied, the ledger dropped, all in one transaction: a failure on the way
    leaves the old ledger as it was."""
    folder = _make_legacy(server_database, tmp_path)
    ledger = _ledger(server_database)
    before = fingerprint(server_database)

    status = migration_status(server_database, plugins(folder))  # reads through the adoption, keeps nothing
    assert [str(r) for r in status.heads] == ["core/003_key_revisions", "notes/notes_001_table"]
    assert [str(r) for r in status.pending] == ["core/004_rate_windows", "core/005_federation"]
    assert status.absent == ["gone_001_x"]
    assert _ledger(server_database) == ledger and "alembic_version" not in tables(server_database)

    write_revision(folder, "notes_002_broken", "notes_001_table", "CREATE TABLE (")
    with pytest.raises(ValueError, match="notes/notes_002_broken"):
        ServerDB(server_database, plugins=plugins(folder))
    assert fingerprint(server_database) == before and _ledger(server_database) == ledger

    (folder / "notes_002_broken.py").unlink()
    write_revision(folder, "notes_002_more", "notes_001_table", "ALTER TABLE notes ADD COLUMN y TEXT")
    with ServerDB(server_database, plugins=plugins(folder)) as db:
        assert sorted(str(r) for r in db.migrations_applied) == ["core/004_rate_windows", "core/005_federation",
                                                                  "notes/notes_002_more"]
        assert db.get_meta("kept") == "yes"
        assert db.all("SELECT x, y FROM notes") == [("kept", None)]
        assert db.all("SELECT x FROM gone_things") == [("kept",)]
    assert "_migrations" not in tables(server_database)
    assert versions(server_database) == {"005_federation", "notes_002_more", "gone_001_x"}
    with ServerDB(server_database, plugins=plugins(folder)) as db:
        assert db.migrations_applied == []


def test_a_named_migrations_database_from_a_newer_bluezone_is_refused_with_its_ledger(server_database, tmp_path):
    folder = _make_legacy(server_database, tmp_path)
    with open_database(server_database) as db:
        db.execute("INSERT INTO _migrations VALUES ('core', '999_from_the_future', 0)")
    before = fingerprint(server_database)
    with pytest.raises(ValueError, match="newer Bluezone .*999_from_the_future"):
        ServerDB(server_database, plugins=plugins(folder))
    assert fingerprint(server_database) == before and "alembic_version" not in tables(server_database)


@pytest.mark.parametrize("rev, label, fragment", [
    ("notes_001_table", "core", "Branch name 'core' in revision .*already used by revision"),  # Alembic's own check
    ("notes_001_table", None, "branch labelled with the plugin's name"),
    ("other_001_table", "notes", "their ids begin with that name"),
    ("notes_001_a_name_longer_than_alembic_keeps", "notes", "at most 32 characters"),
])
def test_a_malformed_plugin_revision_is_refused_before_anything_runs(tmp_path, rev, label, fragment):
    path = str(tmp_path / "server.db")
    ServerDB(path).close()
    before = fingerprint(path)
    write_revision(tmp_path / "bad", rev, None, "CREATE TABLE t (x TEXT)", label=label)
    with pytest.raises(ValueError, match=fragment):
        ServerDB(path, plugins=plugins(tmp_path / "bad"))
    assert fingerprint(path) == before


def test_a_plugin_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not a folder of revision files"):
        ServerDB(str(tmp_path / "server.db"), plugins=plugins(tmp_path / "missing"))
    assert sqlite3.connect(tmp_path / "server.db").execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
