"""The phone side is its own distribution: ``bluezone`` installs, imports and
answers ``--help`` without the authority (``bluezone-authority``) or any
plugin, and without the portal's and server's libraries.

The CI lane ``make lane-core`` runs this file in a virtualenv holding only
``pip install -e .[test]``; elsewhere the subprocess switches off every
plugin that does not come from the ``bluezone`` distribution, which is what
a phone without them sees (switched-off plugins are never imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Libraries only the authority's server and portal use.
AUTHORITY_ONLY = ("aiohttp.web", "argon2", "jinja2", "alembic", "sqlalchemy", "bluezone_authority")

PROBE = """
import contextlib, io, json, sys
sys.argv = ["bluezone", *sys.argv[1:]]
from bluezone import cli
out = io.StringIO()
code = 0
try:
    with contextlib.redirect_stdout(out):
        cli.main()
except SystemExit as e:
    code = e.code or 0
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _phone_env() -> dict[str, str]:
    others = sorted(ep.name for ep in entry_points(group="bluezone")
                    if ep.dist is None or ep.dist.name != "bluezone")
    env = {k: v for k, v in os.environ.items() if k not in ("BLUEZONE_CONFIG",)}
    env["BLUEZONE_DISABLE_PLUGINS"] = ",".join(others)
    return env


def _run(*args: str) -> dict:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       env=_phone_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


def _authority_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == a or m.startswith(a + ".") for a in AUTHORITY_ONLY)]


def test_help_on_a_phone_imports_no_server_portal_or_authority_code():
    result = _run("--help")
    assert result["code"] == 0 and "bluezone [OPTIONS] COMMAND" in result["out"]
    for command in ("init", "sync", "report", "status", "declare", "schedule", "export", "config", "plugins"):
        assert f"  {command} " in result["out"], command
    assert "  serve " not in result["out"] and "  authority " not in result["out"]
    assert _authority_modules(result["modules"]) == []


def test_a_phone_command_runs_without_the_authority(tmp_path):
    """'schedule derive' loads the plugin set and runs a key schedule: still nothing of the server."""
    result = _run("schedule", "derive", "gaen", "--key", "00" * 16, "--start", "2650000",
                  "--count", "2")
    assert result["code"] == 0, result["out"]
    assert len([line for line in result["out"].splitlines() if line.strip()]) >= 2
    assert _authority_modules(result["modules"]) == []


def test_serve_and_authority_on_a_phone_say_what_to_install_in_one_line():
    for args in (("serve", "--config", "server.toml"), ("authority", "token", "create", "--name", "x")):
        p = subprocess.run([sys.executable, "-c", "from bluezone.cli import main; main()", *args],
                           capture_output=True, text=True, env=_phone_env(), timeout=120)
        [line] = p.stderr.splitlines()
        assert p.returncode == 2 and line.startswith("Lỗi / Error: ") and "pip install -e authority" in line, p.stderr
        assert "chưa được cài" in line  # and in Vietnamese


def test_plugin_commands_on_a_phone_without_the_plugin_say_what_to_install():
    """Here every first-party plugin is switched off (or absent, in the core's own lane)."""
    for args, dist in ((("trace", "--simulate", "office"), "bluezone-ble"),
                       (("checkin", "https://qr.example?v=3#x"), "bluezone-qr-checkin"),
                       (("venue", "create", "--name", "x"), "bluezone-qr-checkin")):
        p = subprocess.run([sys.executable, "-c", "from bluezone.cli import main; main()", *args],
                           capture_output=True, text=True, env=_phone_env(), timeout=120)
        [line] = p.stderr.splitlines()
        assert p.returncode == 2 and dist in line and "chưa được cài" in line, p.stderr


def test_the_core_declares_no_authority_only_dependency_and_the_authority_does():
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    authority = tomllib.loads((REPO / "authority" / "pyproject.toml").read_text())["project"]
    core_deps = " ".join(core["dependencies"])
    assert "argon2" not in core_deps and "jinja2" not in core_deps
    assert "alembic" not in core_deps and "sqlalchemy" not in core_deps  # the server's schema versions only
    authority_deps = " ".join(authority["dependencies"])
    assert "argon2-cffi" in authority_deps and "jinja2" in authority_deps and "bluezone" in authority_deps
    assert "alembic>=" in authority_deps and "sqlalchemy>=" in authority_deps


def test_every_core_entry_point_is_a_module_of_the_core_package():
    """The core's default plugins (schedules, matching, declarations, the http
    and file transports) ship inside it; none names another distribution."""
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["bluezone"]
    assert core["transport"] == "bluezone.transports"
    for name, module in core.items():
        path = REPO / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), (name, module)
