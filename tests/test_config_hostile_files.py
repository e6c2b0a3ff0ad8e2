"""``bluezone config check`` against hostile files, as a real subprocess: a FIFO
(nobody ever writes), a symlink to /dev/zero (endless), a huge file and TOML
nested thousands deep. Each gets one clear error line and exit 1, never a
hang nor a traceback. The subprocess timeout is a hang guard, not a speed check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def make(tmp: Path, kind: str) -> Path:
    path = tmp / f"{kind}.toml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "huge":
        path.write_text("# padding\n" * 300_000)  # 3 MB of comments
    elif kind == "deep":
        path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    return path


@pytest.mark.parametrize("kind, words", [("fifo", "not a regular file"), ("zero", "not a regular file"),
                                         ("huge", "larger than"), ("deep", "nested too deeply")])
def test_a_hostile_config_file_gets_one_error_line(tmp_path, kind, words):
    path = make(tmp_path, kind)
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=60,
                         env={"LANGUAGE": "en", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert words in out.stderr.splitlines()[0]
