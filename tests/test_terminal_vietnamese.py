"""What a Vietnamese citizen sees, captured from a real terminal.

``bluezone status`` and ``bluezone declare`` run in a real tmux session (its
own server socket, started and killed by the test); the pane is captured
("the screenshot") and every word on it is checked against the English
words of the core's message catalogue: on a phone set up in Vietnamese none
may appear, apart from a short allow-list of names and units. The status
screen also shows the last sync in the deployment's time zone, written
dd/mm/yyyy, while the machine's clock is UTC.

tmux comes from Debian (``make test-deps`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bluezone.declarations.fixtures import write_deployment
from bluezone.store import DeviceStore

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
CATALOGUE = Path(__file__).resolve().parents[1] / "bluezone" / "i18n" / "locale"
#: Names and units that are the same in both languages (or are the product's own).
ALLOWED = {"bluezone", "bluetooth", "email", "test", "config", "store", "toml", "sync", "trace", "init", "status"}
#: 2026-11-30 09:00 UTC = 16:00 in Gia Lai (Asia/Ho_Chi_Minh, UTC+7).
LAST_SYNC = 1796029200


def english_words() -> set[str]:
    """Words of the English texts that no Vietnamese translation uses."""
    with open(CATALOGUE / "vi" / "LC_MESSAGES" / "bluezone.po", "rb") as f:
        po = read_po(f)
    words = lambda s: {w.lower() for w in re.findall(r"[A-Za-z]{3,}", s)}  # noqa: E731
    english: set[str] = set()
    vietnamese: set[str] = set()
    for m in po:
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strs = m.string if isinstance(m.string, tuple) else (m.string,)
        for s in ids:
            english |= words(re.sub(r"\{[^}]*\}", "", s or ""))
        for s in strs:
            vietnamese |= words(s or "")
    return english - vietnamese - ALLOWED


class Tmux:
    """One tmux server of our own (-L socket) with one window running a shell."""

    def __init__(self, folder: Path):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: run 'make test-deps' (Debian package tmux)")
        self.socket = f"bz-{uuid.uuid4().hex[:8]}"
        self.run("new-session", "-d", "-s", "citizen", "-x", "150", "-y", "50", "-c", str(folder),
                 "env TZ=UTC LANG=C.UTF-8 BLUEZONE_STORE= BLUEZONE_CONFIG= bash --norc --noprofile")

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def type(self, line: str) -> None:
        self.run("send-keys", "-t", "citizen", "-l", line)
        self.run("send-keys", "-t", "citizen", "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-200", "-t", "citizen")

    def wait_for(self, text: str, timeout: float = 90) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.close()


def english_on(screen: str, commands: list[str]) -> set[str]:
    for c in commands:  # what we typed (paths, options) is not what the program said
        screen = screen.replace(c, "")
    shown = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", screen)}
    return shown & english_words()


def test_status_and_declare_on_a_vietnamese_phone_show_no_english(tmp_path, tmux):
    deploy, _ = write_deployment(tmp_path)
    store = tmp_path / "lan.db"
    done = subprocess.run([BLUEZONE, "init", "--config", str(deploy), "--store", str(store), "--consent", "all",
                           "--language", "vi"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with DeviceStore(store, create=False) as s:
        s.set_meta("last_sync", str(LAST_SYNC))

    status = f"{BLUEZONE} status --config {deploy} --store {store}"
    tmux.type(status + "; echo DONE-$((6*7))")  # the marker appears only when the shell computes it
    screen = tmux.wait_for("DONE-42")
    assert "30/11/2026 16:00" in screen  # the deployment's clock, the Vietnamese way, on a UTC machine
    assert english_on(screen, [status + "; echo DONE-$((6*7))", "DONE-42"]) == set()

    tmux.run("send-keys", "-t", "citizen", "clear", "Enter")
    declare = f"{BLUEZONE} declare --config {deploy} --store {store} --no-submit"
    tmux.type(declare)
    tmux.wait_for("Họ và tên:")
    tmux.type("Trần Thị Lan")
    tmux.wait_for("Năm sinh:")
    tmux.type("1990")
    tmux.wait_for("Giới tính:")
    tmux.type("Nữ")
    tmux.wait_for("Quốc tịch")
    tmux.type("huỷ")
    screen = tmux.wait_for("Đã huỷ tờ khai")
    assert english_on(screen, [declare, "Trần Thị Lan"]) == set()
    with DeviceStore(store, create=False) as s:
        assert s.declarations() == []


def test_init_refusing_an_existing_store_speaks_the_language_asked_for(tmp_path):
    deploy, _ = write_deployment(tmp_path)
    store = tmp_path / "lan.db"
    args = [BLUEZONE, "init", "--config", str(deploy), "--store", str(store), "--consent", "all", "--language", "vi"]
    assert subprocess.run(args, capture_output=True, text=True, timeout=120).returncode == 0
    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and again.stderr.startswith("Lỗi: ") and "đã có" in again.stderr
    assert english_on(again.stderr, [str(store), "bluezone status"]) == set()
