"""The demo's texts all go through its message catalogue.

The Vietnamese catalogue is complete and compiled; and ``bluezone demo`` run
in the ``qps`` pseudo-locale shows no English word outside the pseudo-
locale's brackets -- neither on the terminal (steps, summary) nor in the HTML
report's headings, labels and table -- apart from values the run itself made
(citizen ids, paths, URLs, alert sources, the alerts' own Vietnamese texts)."""

from __future__ import annotations

import json
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

PACKAGE = Path(__file__).resolve().parents[1] / "bluezone_demo"
DIST = Distribution(PACKAGE, "bluezone_demo", PACKAGE / "locale")
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
NOT_TEXT = re.compile(r"(?<![\w-])--?[a-z][a-z0-9-]*|\b[A-Z][A-Z_]+\b|\[OPTIONS\]|\d+<=x<=\d+")


def test_every_demo_text_is_in_the_vietnamese_catalogue_and_compiled():
    assert problems(DIST) == []


def test_the_catalogue_ships_in_the_distribution(tmp_path):
    """The wheel carries the template, the translations and the compiled
    catalogue: an installed (not editable) copy speaks Vietnamese."""
    assert catalogue_missing_from_wheel(PACKAGE.parent, "bluezone_demo/locale", "bluezone_demo", tmp_path) == []


@pytest.fixture(scope="module")
def qps(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("qps")
    deployment = folder / "deployment.toml"
    deployment.write_text(f'[deployment]\nname = "Gia Lai"\nregion = "452"\nlanguages = ["{PSEUDO_LANGUAGE}"]\n\n'
                          '[authority]\nurl = "https://a.example"\n')
    return {**os.environ, ENV_LOCALE_DIRS: str(pseudo_locale(folder / "locale")), "BLUEZONE_CONFIG": str(deployment)}


def visible_text(html: str) -> str:
    """What a reader sees of the report: no markup, no embedded pictures, no styles."""
    body = html.split("<body>", 1)[1]
    body = re.sub(r'src="data:[^"]*"', " ", body)
    return re.sub(r"<[^>]+>", " ", body)


def test_the_demo_and_its_report_speak_only_through_the_catalogue(qps, tmp_path):
    work = tmp_path / "demo"
    proc = subprocess.run([BLUEZONE, "demo", "--citizens", "8", "--seed", "3", "--declarations", "1",
                           "--workdir", str(work)], capture_output=True, text=True, env=qps, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((work / "result.json").read_text())
    alerts = [a for shown in result["alerts"].values() for a in shown]
    assert alerts  # the report's table of warned people is not empty
    allowed = [str(work), *result["alerts"], *(a["message_vi"] for a in alerts), "ble", "venue",
               re.search(r"http://127\.0\.0\.1:\d+", proc.stdout).group(0)]  # type: ignore[union-attr]
    report = visible_text((work / "report.html").read_text())
    assert untranslated(proc.stdout, allowed) == [], proc.stdout
    assert untranslated(report, allowed) == [], report


def test_the_help_page_speaks_through_the_catalogue(qps):
    proc = subprocess.run([BLUEZONE, "demo", "--help"], capture_output=True, text=True, env=qps, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert untranslated(NOT_TEXT.sub(" ", proc.stdout), ["bluezone", "demo", "--open", "--no-open"]) == [], \
        proc.stdout
