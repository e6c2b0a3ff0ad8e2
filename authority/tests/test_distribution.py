"""The authority is its own distribution and plugs into ``bluezone`` like any
plugin: its server, portal, commands and loopback transport come through the
``bluezone`` entry-point group, and switching its commands plugin off takes
'serve' and 'authority' away (the phone side never imports it)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import distribution

from bluezone.i18n import text


def bluezone(*args: str, disabled: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BLUEZONE_CONFIG"}
    env["BLUEZONE_DISABLE_PLUGINS"] = disabled
    return subprocess.run([sys.executable, "-c", "from bluezone.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_the_distribution_declares_its_plugins_through_entry_points():
    eps = {ep.name: ep.value for ep in distribution("bluezone-authority").entry_points if ep.group == "bluezone"}
    assert eps == {"server": "bluezone_authority.server.plugin", "portal": "bluezone_authority.portal.plugin",
                   "authority-commands": "bluezone_authority.cli", "loopback": "bluezone_authority.loopback"}


def test_serve_and_authority_commands_come_from_the_authority_distribution():
    listing = bluezone("plugins")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines() if line.strip()}
    for name in ("server", "portal", "authority-commands", "loopback"):
        # the listing is in the deployment's first language (vi without a deployment file)
        assert "bluezone-authority" in rows[name] and text("active", "vi") in rows[name], rows.get(name)
    serve = bluezone("serve", "--help")
    assert serve.returncode == 0 and "--config" in serve.stdout
    authority = bluezone("authority", "--help")
    assert authority.returncode == 0, authority.stderr
    for sub in ("keygen", "token", "issue-code", "staff", "export", "purge", "declarations"):
        assert f"  {sub} " in authority.stdout, sub
    declarations = bluezone("authority", "declarations", "--help")
    assert declarations.returncode == 0
    for sub in ("list", "triage", "show", "csv", "fetch", "purge", "keygen"):
        assert f"  {sub} " in declarations.stdout, sub


def test_switching_the_commands_plugin_off_removes_serve_and_authority():
    help_text = bluezone("--help", disabled="authority-commands").stdout
    assert "  serve " not in help_text and "  authority " not in help_text and "  declare " in help_text
    p = bluezone("serve", "--help", disabled="authority-commands")
    [line] = p.stderr.splitlines()  # the core's placeholder says what to install or enable
    assert p.returncode == 2 and "bluezone-authority" in line and "authority-commands" in line
