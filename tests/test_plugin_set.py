"""One plugin set per process, checked: what a plugin author or integrator
gets wrong is reported with the plugin's name and where to fix it.

Each broken plugin here is a real installed distribution (``.dist-info``
with an entry point) on ``sys.path``, found the way any plugin is found;
the command-line cases run the real ``bluezone`` console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.config import ConfigError, load_config
from bluezone.hookspecs import hookimpl
from bluezone.plugins import (
    DISABLED_BY_ENV,
    DISABLED_BY_FILE,
    ENABLED_BY_DEFAULT,
    NOT_ENABLED,
    BluezonePluginManager,
    PluginError,
    plugin_set,
)
from bluezone.testing import install_plugin

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))

MINIMAL = """
[deployment]
name = "T"
region = "452"
{plugins}
[authority]
url = "{url}"
"""


def deployment(tmp_path: Path, plugins: str = "", url: str = "https://a.example", extra: str = "") -> Path:
    path = tmp_path / "d.toml"
    path.write_text(MINIMAL.format(plugins=plugins, url=url) + extra)
    return path


def install(site: Path, dist: str, ep_name: str, source: str, version: str = "0.3") -> None:
    """A distribution with one plugin module, as pip would leave it."""
    install_plugin(site, dist, ep_name, source, version=version)


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def run(*args: str, site: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, **env)
    environ.pop("BLUEZONE_CONFIG", None)
    environ.pop("BLUEZONE_DISABLE_PLUGINS", None)
    environ.update(env)
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env=environ, timeout=120)


def messages(pset) -> list[str]:
    return [str(p) for p in pset.problems]


# --- choosing: unknown names, essentials ------------------------------------------------


def test_the_issue_case_is_refused_with_both_problems_on_their_line(tmp_path):
    path = deployment(tmp_path, '[plugins]\ndisabled = ["risk-gaen", "no-such-plugin"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = [p.format(str(path)) for p in info.value.problems]
    assert len(lines) == 2
    assert all(line.startswith(f"{path}:6: [plugins] disabled: ") for line in lines)
    assert "unknown plugin 'no-such-plugin'" in lines[0]
    assert "no active plugin provides a scorer" in lines[1] and "'risk-gaen' provides it" in lines[1]

    out = run("config", "check", str(path))
    assert out.returncode == 1 and out.stderr.count("[plugins] disabled:") == 2


def test_unknown_names_in_enabled_and_the_environment_are_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("BLUEZONE_DISABLE_PLUGINS", "transprt")
    pset = plugin_set({"enabled": ["gaen", "risk-gaen", "alerts-console", "transport", "risk-gaem"]},
                      authority_url="https://a.example")
    assert messages(pset) == [
        "[plugins] enabled: unknown plugin 'risk-gaem' (did you mean risk-gaen?); installed: " + pset_names(pset),
        "BLUEZONE_DISABLE_PLUGINS: unknown plugin 'transprt' (did you mean transport?); installed: "
        + pset_names(pset),
    ]


def pset_names(pset) -> str:
    return ", ".join(sorted(p.name for p in pset.plugins))


@pytest.mark.parametrize(("section", "env", "location", "provider"), [
    ({"disabled": ["alerts-console"]}, "", "[plugins] disabled", "alerts-console"),
    (None, "alerts-console", "BLUEZONE_DISABLE_PLUGINS", "alerts-console"),
    ({"enabled": ["gaen", "match-keys", "alerts-console", "transport"]}, "", "[plugins] enabled", "risk-gaen"),
    ({"enabled": ["gaen", "risk-gaen", "alerts-console"]}, "", "[plugins] enabled", "transport"),
])
def test_switching_off_the_last_provider_of_an_essential_capability_is_an_error(section, env, location, provider):
    pset = plugin_set(section, authority_url="https://a.example", environ={"BLUEZONE_DISABLE_PLUGINS": env})
    [problem] = pset.problems
    assert problem.location == location and f"'{provider}' provides it but is switched off" in problem.message


def test_a_scheme_no_plugin_offers_is_reported_at_the_authority_url(tmp_path):
    path = deployment(tmp_path, url="sftp://a.example")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert problem.location == "[authority] url" and problem.line == 7
    assert "sftp://" in problem.message and "https" in problem.message


def test_a_replacement_scorer_lets_the_default_go(site):
    install(site, "bz-strict-scoring", "strict-scoring", """
        from bluezone.hookspecs import hookimpl

        @hookimpl
        def bluezone_score_exposure_windows(windows, config):
            return []
    """)
    pset = plugin_set({"disabled": ["risk-gaen"]}, authority_url="https://a.example", environ={})
    assert pset.problems == []
    assert "scorer" in next(p for p in pset.plugins if p.name == "strict-scoring").capabilities


def test_running_without_an_alert_sink_must_be_said_in_the_file(tmp_path):
    quiet = '[plugins]\ndisabled = ["alerts-console"]\n'
    with pytest.raises(ConfigError, match="allow_missing"):
        load_config(deployment(tmp_path, quiet))
    config = load_config(deployment(tmp_path, quiet + 'allow_missing = ["alert sink"]\n'))
    assert "alerts-console" not in config.plugins.active_names()
    with pytest.raises(ConfigError, match=r"\[plugins\] allow_missing\[0\]"):
        load_config(deployment(tmp_path, quiet + 'allow_missing = ["scorer"]\n'))


# --- a plugin author's mistakes ----------------------------------------------------------


def test_a_misspelled_hook_is_an_error_naming_plugin_and_hook(site, tmp_path):
    install(site, "bz-typo", "typo", """
        from bluezone.hookspecs import hookimpl

        @hookimpl
        def bluezone_deliver_alrt(alert, language, config):
            pass
    """)
    pset = plugin_set(None, environ={})
    [problem] = pset.problems
    assert problem.location == "plugin 'typo'"
    assert "bluezone_deliver_alrt is not a Bluezone hook (did you mean bluezone_deliver_alert?)" in problem.message
    assert "distribution bz-typo 0.3" in problem.message
    assert "typo" not in pset.active_names()

    out = run("config", "check", str(deployment(tmp_path)), site=site)
    # one line in both deployment languages: "<file>: plugin 'typo': <Vietnamese> / <English>"
    assert out.returncode == 1 and "plugin 'typo': bluezone_deliver_alrt không phải hook của Bluezone" in out.stderr
    assert " / bluezone_deliver_alrt is not a Bluezone hook" in out.stderr


def test_async_implementation_of_a_sync_hook_is_refused_at_registration():
    class Matcher:
        @hookimpl
        async def bluezone_feeds(self):
            return []

    pm = BluezonePluginManager()
    with pytest.raises(PluginError, match=r"plugin 'async-matcher': bluezone_feeds must be synchronous "
                                          r"\(each feed's match runs inside the batch's store transaction\), but its "
                                          r"implementation is 'async def'"):
        pm.register(Matcher(), "async-matcher")
    assert pm.get_plugin("async-matcher") is None  # nothing half-registered


def test_async_implementation_of_an_either_hook_is_accepted():
    class Sink:
        @hookimpl
        async def bluezone_deliver_alert(self, alert, language, config):
            return None

    pm = BluezonePluginManager()
    assert pm.register(Sink(), "async-sink") == "async-sink"


def test_an_argument_the_hook_does_not_pass_is_refused():
    class Sink:
        @hookimpl
        def bluezone_deliver_alert(self, alert, lang, config):
            return None

    with pytest.raises(PluginError, match=r"plugin 'bad-args': .*\{'lang'\}.*hookspec"):
        BluezonePluginManager().register(Sink(), "bad-args")


def test_first_party_plugins_match_the_specs():
    """Every built-in and plugins/ implementation registered through the same
    checks (argument names, hook names, sync/async) without a problem."""
    pset = plugin_set(None, authority_url="https://a.example", environ={})
    assert pset.problems == []
    pset.pm.check_pending()
    assert all(p.active for p in pset.plugins)


def test_an_import_error_names_the_plugin_and_its_distribution(site, tmp_path):
    install(site, "bz-broken", "broken", "import bluezone_no_such_module\n", version="1.2")
    pset = plugin_set(None, environ={})
    [problem] = pset.problems
    assert problem.location == "plugin 'broken'"
    assert problem.message.startswith("error importing plugin 'broken' from distribution bz-broken 1.2 (bz_broken): "
                                      "ModuleNotFoundError")
    assert next(p for p in pset.plugins if p.name == "broken").reason == "failed to load"

    out = run("schedule", "list", site=site)
    assert out.returncode == 2
    assert "Lỗi / Error: plugin 'broken': lỗi khi nạp plugin 'broken' từ gói phân phối bz-broken 1.2" in out.stderr
    assert " / error importing plugin 'broken' from distribution bz-broken 1.2" in out.stderr
    assert "Traceback" not in out.stderr
    # disabling it is the way out: it is not even imported then
    out = run("schedule", "list", site=site, BLUEZONE_DISABLE_PLUGINS="broken")
    assert out.returncode == 0 and "gaen" in out.stdout


# --- a disabled plugin leaves no trace -------------------------------------------------------


SECTION_AND_COMMAND = """
    import click
    from bluezone.hookspecs import hookimpl

    @hookimpl
    def bluezone_config_schema():
        return {"sms_alerts": {"type": "object", "properties": {"gateway": {"type": "string"}},
                               "additionalProperties": False}}

    @hookimpl
    def bluezone_register_commands(cli):
        @cli.command("sms-test")
        def sms_test():
            click.echo("sms plugin here")
"""


def test_a_disabled_plugin_adds_no_config_section_and_no_command(site, tmp_path):
    install(site, "bz-sms", "sms-alerts", SECTION_AND_COMMAND)
    on = deployment(tmp_path, extra='\n[sms_alerts]\ngateway = "https://sms.example"\n')
    assert load_config(on).section("sms_alerts") == {"gateway": "https://sms.example"}
    assert run("sms-test", "--help", site=site, BLUEZONE_CONFIG=str(on)).returncode == 0

    off_path = tmp_path / "off.toml"
    off_path.write_text(MINIMAL.format(plugins='[plugins]\ndisabled = ["sms-alerts"]\n', url="https://a.example")
                        + '\n[sms_alerts]\ngateway = "https://sms.example"\n')
    with pytest.raises(ConfigError, match=r"\[sms_alerts\]: unknown section; it belongs to plugin 'sms-alerts', "
                                          r"disabled by \[plugins\] disabled"):
        load_config(off_path)
    for how in ({"BLUEZONE_CONFIG": str(off_path)}, {}):
        args = ("sms-test",) if how else ("sms-test", "--config", str(off_path))
        out = run(*args, site=site, **how)
        assert out.returncode == 2 and "No such command 'sms-test'" in out.stderr
    out = run("sms-test", site=site, BLUEZONE_DISABLE_PLUGINS="sms-alerts")
    assert out.returncode == 2


# --- bluezone plugins ---------------------------------------------------------------------


def test_plugins_command_shows_version_state_reason_and_capabilities(site, tmp_path):
    install(site, "bz-sms", "sms-alerts", SECTION_AND_COMMAND, version="2.5")
    path = deployment(tmp_path, '[plugins]\ndisabled = ["dp3t-lowcost"]\n')
    out = run("plugins", "--json", "--config", str(path), site=site, BLUEZONE_DISABLE_PLUGINS="sms-alerts")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert report["problems"] == []
    assert by_name["sms-alerts"] | {} == {"name": "sms-alerts", "distribution": "bz-sms", "version": "2.5",
                                          "active": False, "reason": DISABLED_BY_ENV, "capabilities": [],
                                          "hooks": []}
    assert (by_name["dp3t-lowcost"]["active"], by_name["dp3t-lowcost"]["reason"]) == (False, DISABLED_BY_FILE)
    assert by_name["risk-gaen"]["reason"] == ENABLED_BY_DEFAULT and by_name["risk-gaen"]["capabilities"] == ["scorer"]
    assert "transport:https" in by_name["transport"]["capabilities"]
    assert by_name["alerts-console"]["capabilities"] == ["alert sink"]

    text = run("plugins", site=site, BLUEZONE_CONFIG=str(path))
    assert text.returncode == 0
    line = next(x for x in text.stdout.splitlines() if x.startswith("sms-alerts "))
    # the table is in the deployment's first language (Vietnamese here)
    assert "bz-sms 2.5" in line and " đang bật " in line and "bật theo mặc định" in line


def test_plugins_command_says_not_in_enabled_and_exits_1_on_problems(tmp_path):
    path = deployment(tmp_path, '[plugins]\nenabled = ["gaen", "risk-gaen", "transport"]\n')
    out = run("plugins", "--json", "--config", str(path))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert {p["name"]: p["reason"] for p in report["plugins"]}["alerts-console"] == NOT_ENABLED
    assert [p["location"] for p in report["problems"]] == ["[plugins] enabled"]


def test_a_command_line_process_builds_its_plugin_set_once(tmp_path, monkeypatch):
    """The set the CLI chose its commands from is the one the command's
    deployment uses (not a second one built by other rules)."""
    import bluezone.plugins as plugins

    monkeypatch.setattr(plugins, "_PROCESS_SET", None)
    path = deployment(tmp_path, '[plugins]\ndisabled = ["dp3t-lowcost"]\n')
    first = plugins.process_plugin_set(["sync", "--config", str(path)], environ={})
    assert plugins.process_plugin_set() is first
    config = load_config(path)
    assert config.plugins is first and config.pm is first.pm
    assert "dp3t-lowcost" not in first.active_names()
    other = tmp_path / "other.toml"
    other.write_text(path.read_text())
    assert load_config(other).plugins is not first  # another file gets its own, by the same rules
