"""A store is opened, never made, by every command but ``init``; a store that
cannot be used is refused in one line and left exactly as it was.

Through the real console script (``bluezone ...`` subprocesses) on real
SQLite files, as the problems were found: a check-in that silently made a
new key for a store whose key file was missing (splitting it in two), and
tracebacks from a damaged or newer store.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nacl.public
import pytest

from bluezone.store import DeviceStore, engine, migrations
from bluezone.store.engine import open_raw
from bluezone.store.secrets import default_key_file

#: The commands include the check-in and BLE plugins' (checkin, visits, trace): with them installed.
pytestmark = pytest.mark.needs_plugins

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, cwd=cwd, timeout=120, input=stdin)


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def fingerprint(path: Path) -> tuple[str, list[str]]:
    """The file's bytes and which siblings exist (a -wal or -shm left behind is a change too)."""
    siblings = sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))
    return hashlib.sha256(path.read_bytes()).hexdigest(), siblings


@pytest.fixture
def phone(tmp_path):
    """A deployment, a venue poster URL and a phone set up with 'bluezone init'."""
    authority_key = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()
    (tmp_path / "province.toml").write_text(
        '[deployment]\nname = "Gia Lai"\nregion = "452"\n[plugins]\ndisabled = ["alerts-console"]\nallow_missing = ["alert sink"]\n'
        f'[authority]\nurl = "file://{tmp_path / "mirror"}"\ndeclaration_public_key = "{authority_key}"\n'
        f'[qr_checkin]\nurl_base = "https://qr.example.vn"\nauthority_public_key = "{authority_key}"\n'
    )
    (tmp_path / "mirror").mkdir()
    made = cli("venue", "create", "--name", "Quán cà phê Phố Núi", "--address", "Pleiku", "--out",
               str(tmp_path / "venue"), "--config", "province.toml", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    store = tmp_path / "phone.db"
    init = cli("init", "--config", "province.toml", "--store", str(store), "--language", "en", "--consent", "all", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    return tmp_path, store


def commands(store: Path, folder: Path) -> dict[str, list[str]]:
    """Every citizen command that opens an existing store, with its arguments."""
    url = (folder / "venue" / "entry-url.txt").read_text().strip()
    common = ["--config", "province.toml", "--store", str(store)]
    return {
        "status": ["status", *common],
        "sync": ["sync", *common, "--no-decoy"],
        "checkin": ["checkin", url, "--yes", *common],
        "checkout": ["checkout", *common],
        "visits": ["visits", *common],
        "declare": ["declare", *common, "--from-json", "-", "--keep-copy", "--no-submit", "--out", "d.sealed"],
        "trace": ["trace", *common, "--scans", "1"],
        "consent": ["consent", *common],
        "settings": ["settings", *common, "--f2", "off"],
        "my-data": ["my-data", *common, "--json"],
    }


def test_a_missing_key_file_is_never_replaced_by_any_command(phone):
    folder, store = phone
    key = default_key_file(store)
    assert key.exists()
    checked_in = cli(*commands(store, folder)["checkin"], cwd=folder)
    assert checked_in.returncode == 0, checked_in.stderr
    kept = key.read_bytes()
    key.unlink()  # lost in a restore, a wiped keystore, a copied phone
    before = fingerprint(store)
    for name, args in commands(store, folder).items():
        refused = one_line_refusal(cli(*args, cwd=folder, stdin="{}"))
        assert str(key) in refused, (name, refused)
        assert "restore" in refused and "khôi phục" in refused, (name, refused)
        assert not key.exists(), f"{name} made a new key"
        assert fingerprint(store) == before, f"{name} changed the store"
    key.write_bytes(kept)  # restoring the key file brings everything back
    key.chmod(0o600)
    visits = cli(*commands(store, folder)["visits"], cwd=folder)
    assert visits.returncode == 0 and "Phố Núi" in visits.stdout


def test_commands_other_than_init_do_not_create_a_store(phone):
    folder, _ = phone
    absent = folder / "never-initialised.db"
    for name, args in commands(absent, folder).items():
        refused = one_line_refusal(cli(*args, cwd=folder, stdin="{}"))
        assert "bluezone init" in refused, (name, refused)
        assert not absent.exists(), f"{name} created a store"
        assert not default_key_file(absent).exists(), f"{name} created a key"


def _random_bytes(store: Path) -> None:
    store.write_bytes(os.urandom(64 * 1024))


def _truncated(store: Path) -> None:
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2 + 100])


def _cut_at_a_page(store: Path) -> None:
    data = store.read_bytes()  # encrypted: its header is ciphertext, its pages SQLCipher's
    store.write_bytes(data[: engine.PAGE_SIZE * 2])


def _newer(store: Path) -> None:
    with open_raw(store) as conn:
        conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.close()


def _not_sqlite_header(store: Path) -> None:
    data = bytearray(store.read_bytes())
    data[:16] = b"Bluezone backup\x00"
    store.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, expected", [
    (_random_bytes, "not a SQLite database"),
    (_truncated, "cut short"),
    (_cut_at_a_page, "cut short"),
    (_newer, "newer than this Bluezone"),
    (_not_sqlite_header, "not a SQLite database"),
])
def test_a_damaged_or_newer_store_is_refused_in_one_line_and_left_as_it_is(phone, damage, expected):
    folder, store = phone
    with DeviceStore(store, create=False) as s:  # give it some content first, then close cleanly
        s.set_meta("last_sync", "1")
    assert not Path(f"{store}-wal").exists()
    damage(store)
    before = fingerprint(store)
    for name in ("status", "sync", "checkin"):
        refused = one_line_refusal(cli(*commands(store, folder)[name], cwd=folder, stdin="{}"))
        assert expected in refused, (name, refused)
        assert fingerprint(store) == before, f"{name} changed the refused file"
    if damage is _newer:
        assert "upgrade Bluezone" in refused and "cập nhật" in refused
    else:
        assert "restore it from a backup" in refused and "khôi phục" in refused


def test_damage_deep_inside_a_store_ends_a_command_in_one_line(phone):
    """Whole-file checks cannot see a page overwritten in the middle; SQLite
    finds it while the command runs, and the command still ends in one line."""
    folder, store = phone
    with DeviceStore(store, create=False) as s:
        from bluezone.matching.fixtures import background_sightings

        s.add_sightings(background_sightings(4000, s.now() - 86400, 1))
        s.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(store.read_bytes())
    page = engine.PAGE_SIZE
    for p in range(2, len(data) // page):  # every page but the header page: b-tree pages become junk
        data[p * page:(p + 1) * page] = os.urandom(page)
    store.write_bytes(bytes(data))
    refused = one_line_refusal(cli(*commands(store, folder)["status"], cwd=folder))
    assert "not a usable Bluezone device store" in refused and "khôi phục" in refused


def test_another_stores_key_file_is_refused_before_anything_is_written(phone):
    """A key file swapped for another store's (a wrong restore, two phones'
    backups mixed up). A store with nothing sealed yet opened without
    complaint, and a sync or check-in then sealed data and keyed tags with
    the wrong key: the store was split across two keys. The store knows a
    check value of its key, so every command refuses at open, in one line,
    and neither file changes."""
    folder, store = phone
    other = folder / "other.db"
    assert cli("init", "--config", "province.toml", "--store", str(other), "--language", "en", "--consent", "all",
               cwd=folder).returncode == 0
    key = default_key_file(store)
    own = key.read_bytes()
    key.write_bytes(default_key_file(other).read_bytes())
    before = fingerprint(store)
    for name, args in commands(store, folder).items():
        refused = one_line_refusal(cli(*args, cwd=folder, stdin="{}"))
        assert "another store's key" in refused and "khóa của kho khác" in refused, (name, refused)
        assert fingerprint(store) == before, f"{name} changed the store"
    key.write_bytes(own)  # the right key file: everything works again
    checked_in = cli(*commands(store, folder)["checkin"], cwd=folder)
    assert checked_in.returncode == 0, checked_in.stderr
    assert cli(*commands(store, folder)["visits"], cwd=folder).returncode == 0


def test_a_store_from_before_the_key_check_learns_it_only_from_a_key_that_opens_its_data(phone):
    folder, store = phone
    assert cli(*commands(store, folder)["checkin"], cwd=folder).returncode == 0  # one sealed visit
    with open_raw(store) as conn:  # as a store made before the check value existed
        conn.execute("DELETE FROM meta WHERE key = 'key_check'")
    other = folder / "other.db"
    assert cli("init", "--config", "province.toml", "--store", str(other), "--language", "en", "--consent", "all",
               cwd=folder).returncode == 0
    key = default_key_file(store)
    own = key.read_bytes()
    key.write_bytes(default_key_file(other).read_bytes())
    (folder / "own.key").write_bytes(own)
    refused = one_line_refusal(cli(*commands(store, folder)["status"], cwd=folder))
    assert "another store's key" in refused
    with open_raw(store, folder / "own.key") as conn:  # the wrong key was not taken as the store's
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'key_check'").fetchone() == (0,)
    key.write_bytes(own)
    assert cli(*commands(store, folder)["status"], cwd=folder).returncode == 0
    with open_raw(store) as conn:  # learnt from the right key
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'key_check'").fetchone() == (1,)
