"""bluezone.store.secrets: where a store's key lives, how it is made, and what is derived from it.

A phone keeps its store key in a file apart from the database. Everything
here must stay the same from one release to the next: a release that looked
for the key under another name, or derived another database key, check value
or tag key from it, would make every existing store unopenable (or count its
matched contributions a second time). The literal values below are those of
the released format; a change to them is a change of on-disk format and
needs a migration, not a new literal.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bluezone.i18n import render
from bluezone.store.secrets import (
    WRONG_KEY_MESSAGE,
    AtRestCipher,
    StoreKeyError,
    default_key_dir,
    default_key_file,
    write_private_file,
)

KEY = bytes(range(32))


def test_the_key_folder_is_the_environments_then_the_users_config(monkeypatch, tmp_path):
    monkeypatch.setenv("BLUEZONE_KEY_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_key_dir() == tmp_path / "mine"
    monkeypatch.setenv("BLUEZONE_KEY_DIR", "")  # set but empty: not a folder
    assert default_key_dir() == tmp_path / "xdg" / "bluezone" / "keys"
    monkeypatch.delenv("BLUEZONE_KEY_DIR")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_key_dir() == tmp_path / "home" / ".config" / "bluezone" / "keys"


def test_a_stores_key_file_is_named_after_its_full_path(monkeypatch, tmp_path):
    monkeypatch.setenv("BLUEZONE_KEY_DIR", "/keys")
    assert default_key_file(Path("/srv/phones/device.db")) == Path("/keys/store-948ac6bb1e9eeef3bd40.key")
    monkeypatch.chdir(tmp_path)
    assert default_key_file(Path("device.db")) == default_key_file(tmp_path / "device.db")
    assert default_key_file(tmp_path / "a.db") != default_key_file(tmp_path / "b.db")


def test_what_is_derived_from_a_key_does_not_change_between_releases():
    cipher = AtRestCipher(KEY)
    assert cipher.database_key().hex() == "a7624162f0eb7ba1eeefbfb0fc55080ff9c486a699e8b5b3f1449a93692c5212"
    assert cipher.check_value() == "50c8ff07c77956786cbea474ed125eb86a29bb3a54d43101d3f67eb747ff9aaa"
    assert cipher.tag(b"bluezone").hex() == "99eac3821eaba4f790918d44b9db21938a0bd64ae2ddc52be30e9638ba40e9ff"
    # three different keys from one: the sealing key is never a MAC or SQLCipher key
    assert len({cipher.database_key(), bytes.fromhex(cipher.check_value()), KEY}) == 3


def test_sealed_data_opens_only_with_its_key_and_unaltered():
    cipher, other = AtRestCipher(KEY), AtRestCipher(bytes(32))
    sealed = cipher.seal(b"Cafe Phuong")
    assert cipher.open(sealed) == b"Cafe Phuong"
    assert cipher.seal(b"Cafe Phuong") != sealed  # a fresh nonce every time
    for wrong in (lambda: other.open(sealed), lambda: cipher.open(sealed[:-1] + bytes([sealed[-1] ^ 1]))):
        with pytest.raises(StoreKeyError) as e:
            wrong()
        assert str(e.value) == str(WRONG_KEY_MESSAGE)


@pytest.mark.parametrize("length", [0, 31, 33])
def test_a_key_of_the_wrong_length_is_refused(length):
    with pytest.raises(StoreKeyError, match="wrong length"):
        AtRestCipher(bytes(length))


def test_a_key_is_made_only_when_asked_and_born_private(tmp_path):
    # a fresh machine: not even the config folder exists yet
    key_file = tmp_path / "home" / ".config" / "bluezone" / "keys" / "store.key"
    with pytest.raises(StoreKeyError) as e:
        AtRestCipher.from_file(key_file, create=False)
    assert str(key_file) in render(e.value.args[0], "en") and not key_file.exists()
    made = AtRestCipher.from_file(key_file, create=True)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    assert len(key_file.read_bytes()) == 32
    again = AtRestCipher.from_file(key_file, create=True)  # an existing key is read, never replaced
    assert again.check_value() == made.check_value()


def test_an_unreadable_key_file_is_named_in_one_line(tmp_path):
    folder = tmp_path / "store.key"
    folder.mkdir()  # a folder where the key file should be
    with pytest.raises(StoreKeyError) as e:
        AtRestCipher.from_file(folder, create=False)
    said = render(e.value.args[0], "en")
    assert said.startswith(f"cannot read the store key file {folder}: ") and "\n" not in said


def test_a_private_file_is_never_overwritten(tmp_path):
    path = tmp_path / "k"
    write_private_file(path, b"first")
    with pytest.raises(FileExistsError):
        write_private_file(path, b"second")
    assert path.read_bytes() == b"first"
