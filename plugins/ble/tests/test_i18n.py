"""The BLE plugin's texts all go through its message catalogue.

The Vietnamese catalogue is complete and compiled; and run in the ``qps``
pseudo-locale, ``bluezone trace`` -- a simulated run's progress and summary,
its refusals (unknown scenario, no store, no system D-Bus for the real
radio) and its help page -- shows no English word outside the pseudo-locale's
brackets, apart from what the test itself typed (paths, the scenario,
option names)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.i18n import ENV_LOCALE_DIRS
from bluezone.i18n.catalogues import Distribution, problems
from bluezone.i18n.pseudo import PSEUDO_LANGUAGE, untranslated
from bluezone.testing import catalogue_missing_from_wheel, pseudo_locale

PACKAGE = Path(__file__).resolve().parents[1] / "bluezone_ble"
DIST = Distribution(PACKAGE, "bluezone_ble", PACKAGE / "locale")
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
#: What a help page shows that is no text: option names, metavars.
NOT_TEXT = re.compile(r"(?<![\w-])--?[a-z][a-z0-9-]*|\b[A-Z][A-Z_]+\b|\[OPTIONS\]|\d+<=x<=\d+|x>=\d+")


def test_every_ble_text_is_in_the_vietnamese_catalogue_and_compiled():
    assert problems(DIST) == []


def test_the_catalogue_ships_in_the_distribution(tmp_path):
    """The wheel carries the template, the translations and the compiled
    catalogue: an installed (not editable) copy speaks Vietnamese."""
    assert catalogue_missing_from_wheel(PACKAGE.parent, "bluezone_ble/locale", "bluezone_ble", tmp_path) == []


@pytest.fixture(scope="module")
def qps(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("qps")
    deployment = folder / "deployment.toml"
    deployment.write_text(f'[deployment]\nname = "Gia Lai"\nregion = "452"\nlanguages = ["{PSEUDO_LANGUAGE}"]\n\n'
                          '[authority]\nurl = "https://a.example"\n\n[ble]\nadvertise = false\n')
    env = {k: v for k, v in os.environ.items() if k != "BLUEZONE_STORE"}
    env.update({ENV_LOCALE_DIRS: str(pseudo_locale(folder / "locale")), "BLUEZONE_CONFIG": str(deployment)})
    return env


def run(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env={**env, **extra}, timeout=300)


def test_trace_speaks_only_through_the_catalogue(qps, tmp_path):
    out = tmp_path / "run"
    simulated = run(qps, "trace", "--simulate", "office", "--devices", "3", "--minutes", "20", "--seed", "2",
                    "--out", str(out))
    assert simulated.returncode == 0, simulated.stderr
    assert (out / "truth.json").is_file() and "100%" in simulated.stdout
    unknown = run(qps, "trace", "--simulate", "beach")
    no_store = run(qps, "trace")
    phone = tmp_path / "me.db"
    assert run(qps, "init", "--store", str(phone), "--consent", "all").returncode == 0
    no_bus = run(qps, "trace", "--store", str(phone), "--scans", "1",
                 DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path}/no-bus")
    for refused in (unknown, no_store, no_bus):
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    allowed = [str(tmp_path), "office", "beach", "bus, home, market, office"]
    left = {name: untranslated(proc.stdout + proc.stderr, allowed)
            for name, proc in (("simulate", simulated), ("unknown", unknown), ("no store", no_store),
                               ("no bus", no_bus))}
    assert {name: found for name, found in left.items() if found} == {}, (simulated.stdout, no_bus.stderr)


def test_the_help_page_speaks_through_the_catalogue(qps):
    proc = run(qps, "trace", "--help")
    assert proc.returncode == 0, proc.stderr
    assert untranslated(NOT_TEXT.sub(" ", proc.stdout), ["bluezone", "trace"]) == [], proc.stdout
