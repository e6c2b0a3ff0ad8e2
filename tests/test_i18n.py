"""One message catalogue: texts go through gettext, languages come from the
deployment file, plugins extend the catalogue, the core's catalogue is
complete, and the pseudo-locale shows what did not go through it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone import i18n
from bluezone.config import ConfigError, load_config
from bluezone.i18n import Message, _, _n, render, use_languages
from bluezone.i18n.catalogues import Distribution, problems
from bluezone.i18n.pseudo import PSEUDO_LANGUAGE, pseudo, untranslated, write_pseudo_catalogues
from bluezone.testing import install_plugin

ROOT = Path(__file__).resolve().parent.parent
CORE = Distribution(ROOT / "bluezone", "bluezone", ROOT / "bluezone" / "i18n" / "locale")
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def compile_catalogue(localedir: Path, language: str, domain: str, entries: dict[str, str]) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale=language, domain=domain)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    out = localedir / language / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{domain}.mo", "wb") as f:
        write_mo(f, catalog)


@pytest.fixture
def clean_registry():
    before = list(i18n._catalogues)
    yield
    i18n._catalogues[:] = before
    i18n._translations.clear()


# --- the core's catalogue ----------------------------------------------------------------


def test_every_core_text_is_in_the_vietnamese_catalogue_and_compiled():
    """A _() added without its translation, a {field} lost in translation or
    a stale .mo fails here, naming the text (fix: make messages, translate)."""
    assert problems(CORE) == []


def test_the_catalogue_check_notices_a_missing_translation(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text("from bluezone.i18n import _\nX = _('Keys uploaded: {n}')\n")
    dist = Distribution(package, "pkg", tmp_path / "locale")
    found = problems(dist)
    assert found == [f"pkg [vi]: no catalogue at {dist.po('vi')}"]
    i18n.catalogues.update(dist, ["vi"])
    assert problems(dist) == ["pkg [vi]: not translated: 'Keys uploaded: {n}'"]
    i18n.catalogues.fill(dist.po("vi"), {"Keys uploaded: {n}": "Đã gửi khoá: {count}"})
    i18n.catalogues.update(dist, ["vi"])
    assert problems(dist) == ["pkg [vi]: the fields differ in the translation of 'Keys uploaded: {n}'"]


# --- rendering ---------------------------------------------------------------------------


def test_a_message_is_shown_in_each_active_language_once():
    message = _("Interrupted.")
    assert message.text("vi") == "Đã dừng." and message.text("en") == "Interrupted."
    with use_languages("vi", "en"):
        assert str(message) == "Đã dừng. / Interrupted."
    with use_languages("en"):
        assert str(message) == "Interrupted."
    # a text no catalogue knows is not repeated
    assert render(_("no such text anywhere"), ["vi", "en"]) == "no such text anywhere"


def test_fields_and_plurals_follow_the_language():
    inner = _("Error")
    outer = Message("{what}: {n}", {"what": inner, "n": 3})
    assert outer.text("vi") == "Lỗi: 3" and outer.text("en") == "Error: 3"
    many = _n("{n} problem in {path}; run 'bluezone config check {path}' for details",
              "{n} problems in {path}; run 'bluezone config check {path}' for details", 2, path="d.toml")
    assert many.text("en") == "2 problems in d.toml; run 'bluezone config check d.toml' for details"
    assert many.text("vi").startswith("d.toml có 2 lỗi")


def test_a_broken_translation_falls_back_to_english(tmp_path, monkeypatch, clean_registry):
    compile_catalogue(tmp_path, "vi", "bluezone", {"Keys: {n}": "Khoá: {count}"})
    monkeypatch.setenv(i18n.ENV_LOCALE_DIRS, str(tmp_path))
    assert _("Keys: {n}", n=4).text("vi") == "Keys: 4"


# --- plugins extend the catalogue; languages come from the deployment file ---------------

JRAI_PLUGIN = """
from pathlib import Path
from bluezone import hookimpl, MessageCatalogue

@hookimpl
def bluezone_message_catalogues():
    return [MessageCatalogue("bz_jrai", Path(__file__).parent / "locale")]
"""

DEPLOYMENT = """
[deployment]
name = "Gia Lai"
region = "452"
languages = {languages}

[authority]
url = "https://a.example"
"""


def test_a_plugin_adds_a_language_the_deployment_file_can_then_name(tmp_path, monkeypatch, clean_registry):
    site = tmp_path / "site"
    package = install_plugin(site, "bz-jrai", "jrai", JRAI_PLUGIN)
    # Jrai for two core texts; the rest falls back to English, the source language.
    compile_catalogue(package / "locale", "jra", "bz_jrai", {"Error": "Soh", "Interrupted.": "Dŏ leh."})
    path = tmp_path / "d.toml"
    path.write_text(DEPLOYMENT.format(languages='["jra", "vi", "en"]'))

    with pytest.raises(ConfigError) as refused:  # not installed: no catalogue for 'jra'
        load_config(path)
    assert any("no message catalogue for 'jra'" in str(p) for p in refused.value.problems)

    monkeypatch.syspath_prepend(str(site))
    config = load_config(path)
    assert config.languages == ["jra", "vi", "en"]
    assert "jra" in i18n.available_languages()
    assert render(_("Interrupted."), config.languages) == "Dŏ leh. / Đã dừng. / Interrupted."
    assert _("Run 'bluezone plugins' to see which plugins are active and why.").text("jra").startswith("Run ")


def test_the_command_line_speaks_the_deployment_languages(tmp_path):
    site = tmp_path / "site"
    package = install_plugin(site, "bz-jrai", "jrai", JRAI_PLUGIN)
    compile_catalogue(package / "locale", "jra", "bz_jrai", {"Error": "Soh"})
    path = tmp_path / "d.toml"
    path.write_text(DEPLOYMENT.format(languages='["jra", "en"]') + "[plugins]\ndisabled = [\"no-such\"]\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("BLUEZONE_CONFIG", None)
    out = subprocess.run([BLUEZONE, "status", "--config", str(path), "--store", str(tmp_path / "s.db")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0].startswith("Soh / Error: [plugins] disabled: unknown plugin 'no-such'")


# --- the pseudo-locale -------------------------------------------------------------------


def test_pseudo_marks_text_and_keeps_fields():
    assert pseudo("Keys uploaded: {n}") == "⟦Ķéýś úpĺóàđéđ: {n}⟧"
    assert untranslated("⟦Éŕŕóŕ⟧: ⟦ñó śŧóŕé àŧ {p}⟧ /tmp/store.db", allowed=["/tmp/store.db"]) == []
    assert untranslated("⟦Éŕŕóŕ⟧: no store here", allowed=[]) == ["store", "here"]


def test_the_pseudo_locale_reaches_the_command_line(tmp_path):
    localedir = write_pseudo_catalogues([("bluezone", CORE.template)], tmp_path / "locale")
    path = tmp_path / "d.toml"
    path.write_text(DEPLOYMENT.format(languages=f'["{PSEUDO_LANGUAGE}"]') + "[plugins]\ndisabled = [\"nope\"]\n")
    env = dict(os.environ, **{i18n.ENV_LOCALE_DIRS: str(localedir)})
    env.pop("BLUEZONE_CONFIG", None)
    out = subprocess.run([BLUEZONE, "status", "--config", str(path), "--store", str(tmp_path / "s.db")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    first, second = out.stderr.splitlines()[:2]
    assert first.startswith("⟦Éŕŕóŕ⟧: ")
    assert untranslated(second) == []


def test_the_core_catalogue_ships_in_the_distribution(tmp_path):
    """The wheel carries the template, the translations and the compiled
    catalogue: an installed (not editable) phone speaks Vietnamese."""
    from bluezone.testing import catalogue_missing_from_wheel

    assert catalogue_missing_from_wheel(ROOT, "bluezone/i18n/locale", "bluezone", tmp_path) == []
