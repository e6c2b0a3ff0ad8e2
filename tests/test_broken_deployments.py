"""Every citizen command, given a broken deployment file, ends with one line and no traceback.

Each broken file below once passed loading and crashed a command later
(a missing export key file: a FileNotFoundError traceback in ``sync``; an
unknown time zone: ZoneInfoNotFoundError in ``checkin`` and ``visits``).
The commands are collected from the click group, so a command added later
is covered without touching this test. They run through the console script
against a phone set up with a good file, so each gets past its own
arguments and the store to the deployment file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest

pytestmark = pytest.mark.needs_plugins  # venue, checkin and trace are plugins' commands

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
GOOD = """
[deployment]
name = "Gia Lai"
region = "452"

[authority]
url = "http://127.0.0.1:9"
"""
#: one deployment file per way of being broken: (name, text replacing GOOD)
BROKEN = {
    "missing export key file": GOOD + 'export_keys = [ { key_id = "452", public_key = "gone.pub.pem" } ]\n',
    "unknown time zone": GOOD.replace('region = "452"', 'region = "452"\ntimezone = "Asia/Hanoi_City"'),
    "declaration key not base64": GOOD + 'declaration_public_key = "not base64!"\n',
    "venue key abc": GOOD + '\n[qr_checkin]\nauthority_public_key = "abc"\n',
    "isolation_days = 0": GOOD + "\n[risk]\nisolation_days = 0\n",
    "descending thresholds": GOOD + "\n[risk]\nattenuation_thresholds_db = [68, 63, 58]\n",
    "unknown schedule": GOOD + '\n[schedule]\nname = "nope"\n',
    "not TOML": "[deployment\nname = ",
}
#: top-level commands that are not the citizen's (staff, operators, diagnostics)
NOT_CITIZEN = {"authority", "serve", "gateway", "demo", "config", "plugins", "schedule"}  # operators and tools


def citizen_commands() -> list[tuple[list[str], click.Command]]:
    """(words, command) of every citizen command that reads a deployment file."""
    from bluezone.cli import cli

    out: list[tuple[list[str], click.Command]] = []

    def walk(group: click.Group, words: list[str]) -> None:
        for name, command in sorted(group.commands.items()):
            if not words and name in NOT_CITIZEN:
                continue
            reads_config = any(p.name == "config_path" for p in command.params)
            if isinstance(command, click.Group):
                if reads_config and command.invoke_without_command:
                    out.append(([*words, name], command))
                walk(command, [*words, name])
            elif reads_config:
                out.append(([*words, name], command))

    walk(cli, [])
    return out


def value_for(param: click.Parameter, dummy: Path) -> str:
    """A value its type accepts, so the command gets past its arguments."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, click.types._NumberParamTypeBase):
        return "1"
    if isinstance(kind, click.Path) and not kind.file_okay:
        return str(dummy.parent / "folder")
    return str(dummy)


def arguments(command: click.Command, config: Path, store: Path, dummy: Path) -> list[str]:
    """The options and arguments a command needs to reach its deployment file
    (``init`` gets a new store: the phone's own is set up already)."""
    args: list[str] = []
    for p in command.params:
        if p.name == "config_path":
            args += ["--config", str(config)]
        elif p.name == "store_path":
            args += ["--store", str(store.with_name("new.db") if command.name == "init" else store)]
        elif p.required and isinstance(p, click.Option):
            args += [p.opts[0], value_for(p, dummy)]
    for p in command.params:
        if p.required and isinstance(p, click.Argument):
            args.append(value_for(p, dummy))
    return args


def test_the_collection_covers_the_citizen_commands():
    names = {" ".join(words) for words, _ in citizen_commands()}
    for expected in ("init", "status", "sync", "report", "checkin", "declare", "trace", "venue create"):
        assert expected in names, names


def test_every_citizen_command_refuses_a_broken_deployment_in_one_line(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    store = tmp_path / "phone.db"
    env = {**os.environ, "BLUEZONE_KEY_DIR": str(tmp_path / "keys")}
    setup = subprocess.run([BLUEZONE, "init", "--config", str(good), "--store", str(store), "--language", "vi",
                            "--consent", "all"], capture_output=True, text=True, env=env, timeout=120,
                           stdin=subprocess.DEVNULL)
    assert setup.returncode == 0, setup.stderr
    files = []
    for i, text in enumerate(BROKEN.values()):
        path = tmp_path / f"broken-{i}.toml"
        path.write_text(text)
        files.append(path)
    dummy = tmp_path / "dummy.txt"
    dummy.write_text("x\n")
    (tmp_path / "folder").mkdir()
    before = store.read_bytes()
    commands = citizen_commands()
    # every command meets at least one broken file, every file several commands
    runs = [(words, arguments(command, files[i % len(files)], store, dummy), files[i % len(files)])
            for i, (words, command) in enumerate(commands)]

    def run(item):
        words, args, _ = item
        return subprocess.run([BLUEZONE, *words, *args], capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, runs))
    bad = []
    for (words, _args, file), proc in zip(runs, results, strict=True):
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        if proc.returncode == 0 or "Traceback" in proc.stderr or len(lines) != 1 or str(file) not in lines[0]:
            bad.append(f"bluezone {' '.join(words)} with {file.name} → {proc.returncode}: {proc.stderr!r}")
    assert not bad, "\n".join(bad)
    assert store.read_bytes() == before  # nothing written to the phone on the way out
