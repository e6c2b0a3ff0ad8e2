"""The check-in plugin's phone part works where the authority
(``bluezone-authority``) is not installed: it imports the authority only in
its server and portal code paths. A subprocess makes ``bluezone_authority``
unimportable (as on a phone) and runs the plugin's phone-side hooks and
commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points

PROBE = """
import contextlib, io, json, sys
sys.modules["bluezone_authority"] = None  # 'import bluezone_authority' now fails, as on a phone
from bluezone.plugins import make_plugin_manager, call_hook
from bluezone.feed import collect_feeds
pm = make_plugin_manager(enabled=["qr-checkin"])
schemas = {k for r in call_hook(pm.hook.bluezone_config_schema) for k in r}
feeds = sorted(collect_feeds(pm))
sources = call_hook(pm.hook.bluezone_alert_sources)
sys.argv = ["bluezone", "--help"]
from bluezone import cli
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        cli.main()
except SystemExit:
    pass
print(json.dumps({"schemas": sorted(schemas), "feeds": feeds, "sources": sources, "help": out.getvalue(),
                  "authority": sorted(m for m in sys.modules if m.startswith("bluezone_authority."))}))
"""


def test_phone_side_hooks_and_commands_need_no_authority():
    # the other distributions' plugins are switched off, as if they were not installed
    others = [ep.name for ep in entry_points(group="bluezone")
              if ep.dist is not None and ep.dist.name not in ("bluezone", "bluezone-qr-checkin")]
    env = {k: v for k, v in os.environ.items() if k != "BLUEZONE_CONFIG"}
    env["BLUEZONE_DISABLE_PLUGINS"] = ",".join(others)
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout.splitlines()[-1])
    assert "venue-traces" in result["feeds"]
    assert any("venue" in s for s in result["sources"])
    for command in ("checkin", "checkout", "visits", "venue"):
        assert f"  {command} " in result["help"], command
    assert "  serve " not in result["help"]
    assert result["authority"] == []
