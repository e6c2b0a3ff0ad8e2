"""The ``bluezone`` command line.

The core's commands live in modules of this package; plugins add theirs
through the ``bluezone_register_commands`` hook. Errors a person can fix
are one line on stderr (``Error: ...``) with exit code 2; see :func:`fail`.
"""

from __future__ import annotations

import sys

import click

from ..i18n import N_, _
from ..plugins import process_plugin_set
from .common import error_line, fail  # noqa: F401  (fail is re-exported for plugins)
from .i18n_click import Group


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             help=N_("Bluezone: privacy-first contact tracing.\n\n"
                     "Citizens trace, check in, sync and report; offices run venue check-in; "
                     "health authorities run the server. Start with 'bluezone demo'."))
@click.version_option(package_name="bluezone", help=N_("Show the version and exit."))
def cli() -> None:
    """The root group; its help is the N_() text above (translated when shown)."""


def _register_core_commands() -> None:
    """The phone side's commands. 'serve' and 'authority ...' come from the
    bluezone-authority distribution through bluezone_register_commands."""
    from . import (
        citizen_cmd,
        config_cmd,
        cover_cmd,
        declare_cmd,
        demo_cmd,
        export_cmd,
        install_hints,
        plugins_cmd,
        privacy_cmd,
        schedule_cmd,
    )

    for module in (citizen_cmd, config_cmd, schedule_cmd, export_cmd, plugins_cmd, demo_cmd, declare_cmd,
                   install_hints, privacy_cmd, cover_cmd):
        module.register(cli)


def _register_plugin_commands() -> None:
    """Commands of the active plugins only: the process's plugin set honours
    the deployment file named by --config / $BLUEZONE_CONFIG and
    $BLUEZONE_DISABLE_PLUGINS (bluezone.plugins.process_plugin_set)."""
    process_plugin_set().pm.hook.bluezone_register_commands(cli=cli)


# Commands that must run even when the plugin set has problems, to show them.
_DIAGNOSTIC_COMMANDS = {"plugins", "config"}


def _refuse_broken_plugin_set(argv: list[str]) -> None:
    """A plugin that fails to load, or an essential capability switched off,
    ends every command but the diagnostic ones with one line per problem."""
    problems = process_plugin_set().problems
    command = next((a for a in argv if not a.startswith("-")), None)
    if not problems or command in _DIAGNOSTIC_COMMANDS or command is None or "--help" in argv or "-h" in argv:
        return
    for problem in problems:
        click.echo(error_line(str(problem)), err=True)
    click.echo(str(_("Run 'bluezone plugins' to see which plugins are active and why.")), err=True)
    sys.exit(2)


_register_core_commands()
_register_plugin_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        _refuse_broken_plugin_set(sys.argv[1:])
        cli(prog_name="bluezone")
    except KeyboardInterrupt:
        click.echo(str(_("Interrupted.")), err=True)
        sys.exit(130)
