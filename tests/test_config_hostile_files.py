"""``bluezone config check`` on files that are not deployment files: one clear
line and a non-zero exit, never a hang (a FIFO, /dev/zero) or a traceback
(tables nested thousands deep, bytes that are not UTF-8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def check(path: Path) -> subprocess.CompletedProcess:
    # the timeout is a guard: before the size and file-type checks, a FIFO or /dev/zero hung here
    return subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=60)


def hostile_files(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    huge = tmp_path / "huge.toml"
    huge.write_text('[deployment]\nname = "T"\nregion = "452"\n' + "# padding\n" * 200_000)
    latin = tmp_path / "latin1.toml"
    latin.write_bytes('[deployment]\nname = "Gia Lai ở đây"\n'.encode("utf-16"))
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    return {"fifo": fifo, "dev-zero": zero, "deeply-nested": deep, "over 1 MiB": huge, "not utf-8": latin,
            "a folder": folder}


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "deeply-nested", "over 1 MiB", "not utf-8", "a folder"])
def test_a_file_that_is_no_deployment_file_is_one_line(tmp_path, kind):
    path = hostile_files(tmp_path)[kind]
    out = check(path)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    # the problem names the file (config check adds a one-line count; click a usage line for a folder)
    assert str(path) in lines[0] or str(path) in lines[-1], out.stderr
    assert len(lines) <= 3, out.stderr
