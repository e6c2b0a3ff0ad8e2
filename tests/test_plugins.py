"""Plugins: discovery through entry points, a third-party plugin, disabling by config."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bluezone.testing import install_plugin

from bluezone.config import load_config
from bluezone.plugins import PluginError, call_hook, collect_named, make_plugin_manager, plugin_names

THIRD_PARTY = textwrap.dedent(
    '''
    """A tiny third-party plugin: a schedule, an alert sink and a command."""
    import click
    from bluezone.hookspecs import hookimpl
    from bluezone.models import DerivedIdentifier

    DELIVERED = []

    class Rot13Schedule:
        name = "rot-test"
        key_length = 4
        identifier_length = 4
        match_tolerance_intervals = 0

        def derive(self, key_data, start, count, metadata=None):
            for i in range(count):
                yield DerivedIdentifier(start + i, bytes(b ^ (i & 0xFF) for b in key_data))

    @hookimpl
    def bluezone_key_schedules():
        return [Rot13Schedule()]

    @hookimpl
    async def bluezone_deliver_alert(alert, language, config):
        DELIVERED.append((alert, language))
        return "delivered"

    @hookimpl
    def bluezone_register_commands(cli):
        @cli.command("hello-plugin")
        def hello():
            """Greets from a third-party plugin."""
            click.echo("xin chào from a plugin")
    '''
)


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """Install a fixture distribution: real .dist-info metadata with an entry point."""
    site = tmp_path / "site"
    install_plugin(site, "bz-thirdparty-fixture", "rot-test", THIRD_PARTY)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_builtin_plugins_register_through_entry_points():
    names = plugin_names(make_plugin_manager())
    assert {"gaen", "dp3t-lowcost"} <= set(names)


def test_core_never_imports_a_plugin_by_name():
    core = Path(__file__).resolve().parent.parent / "bluezone"
    pattern = re.compile(r"^\s*(from|import)\s+bluezone_(ble|qr_checkin|demo|authority|transport)\b", re.M)
    offenders = [str(p) for p in core.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def make_alert():
    import datetime as dt

    from bluezone.models import Alert, Tier

    day = dt.date(2026, 11, 20)
    return Alert("e1", Tier.F1, "ble", day, 0, day, {"vi": "Cảnh báo F1", "en": "F1 warning"})


def test_third_party_plugin_hooks_are_called(third_party, capsys, tmp_path):
    pm = make_plugin_manager()
    assert "rot-test" in plugin_names(pm)
    # a deployment that names the plugin's schedule gets it from the core, not a built-in one
    path = tmp_path / "d.toml"
    path.write_text('[deployment]\nname = "T"\nregion = "452"\n[schedule]\nname = "rot-test"\n'
                    '[authority]\nurl = "https://a.example"\n')
    schedule = load_config(path).schedule()
    assert type(schedule).__module__ == "bz_thirdparty_fixture" and schedule.name == "rot-test"
    derived = list(schedule.derive(b"\x01\x02\x03\x04", 10, 2))
    assert [d.identifier for d in derived] == [b"\x01\x02\x03\x04", b"\x00\x03\x02\x05"]
    # an async implementation is awaited by the synchronous caller (the documented convention)
    alert = make_alert()
    assert "delivered" in call_hook(pm.hook.bluezone_deliver_alert, alert=alert, language="vi", config=None)
    module = sys.modules["bz_thirdparty_fixture"]
    assert module.DELIVERED[-1] == (alert, "vi")


def test_third_party_plugin_can_be_disabled_by_config(third_party, tmp_path):
    path = tmp_path / "d.toml"
    path.write_text(textwrap.dedent("""
        [deployment]
        name = "T"
        region = "452"
        [plugins]
        disabled = ["rot-test"]
        [authority]
        url = "https://a.example"
    """))
    config = load_config(path)
    assert "rot-test" not in plugin_names(config.pm)
    assert "gaen" in plugin_names(config.pm)
    def delivered() -> int:
        module = sys.modules.get("bz_thirdparty_fixture")
        return len(module.DELIVERED) if module else 0

    before = delivered()
    call_hook(config.pm.hook.bluezone_deliver_alert, alert=make_alert(), language="en", config=config)
    assert delivered() == before


def test_enabled_list_loads_only_those(third_party):
    assert plugin_names(make_plugin_manager(enabled=["gaen"])) == ["gaen"]


def test_two_plugins_offering_one_name_is_an_error():
    class S:
        name = "same"

    with pytest.raises(PluginError, match="same"):
        collect_named([[S()], [S()]], "key schedule")


def test_plugin_commands_appear_in_the_cli(third_party):
    env_path = f"{third_party}"
    import os

    env = dict(os.environ, PYTHONPATH=env_path)
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "hello-plugin"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "xin chào from a plugin" in out.stdout
    env["BLUEZONE_DISABLE_PLUGINS"] = "rot-test"
    out = subprocess.run([str(Path(sys.executable).with_name("bluezone")), "hello-plugin"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2
