"""The ``bluezone`` command line.

The core's commands live in modules of this package; plugins add theirs
through the ``bluezone_register_commands`` hook. Errors a person can fix
are one line on stderr (``Error: ...``) with exit code 2; see :func:`fail`.
"""

from __future__ import annotations

import os
import sys

import click

from ..plugins import make_plugin_manager
from .common import fail  # noqa: F401  (re-exported for plugins)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bluezone")
def cli() -> None:
    """Bluezone: privacy-first contact tracing.

    Citizens trace, check in, sync and report; offices run venue check-in;
    health authorities run the server. Start with 'bluezone demo'.
    """


def _register_core_commands() -> None:
    from . import authority_cmd, citizen_cmd, config_cmd, declare_cmd, demo_cmd, export_cmd, plugins_cmd, schedule_cmd, serve_cmd

    # declare_cmd last: it attaches 'declarations' to the 'authority' group made by authority_cmd
    for module in (citizen_cmd, config_cmd, schedule_cmd, export_cmd, plugins_cmd, demo_cmd, serve_cmd, authority_cmd, declare_cmd):
        module.register(cli)


def _register_plugin_commands() -> None:
    disabled = [n for n in os.environ.get("BLUEZONE_DISABLE_PLUGINS", "").split(",") if n]
    pm = make_plugin_manager(disabled)
    pm.hook.bluezone_register_commands(cli=cli)


_register_core_commands()
_register_plugin_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="bluezone")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
