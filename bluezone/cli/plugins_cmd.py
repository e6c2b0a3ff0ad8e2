"""``bluezone plugins``: every installed plugin, whether it is active and why."""

from __future__ import annotations

import json

import click

from ..i18n import N_, text
from ..plugins import process_plugin_set
from .common import error_line
from .i18n_click import Command


@click.command("plugins", cls=Command, help=N_(
    "List installed plugins: distribution and version, active or not and why, and the essential capabilities "
    "each provides (scorer, alert sink, transport:SCHEME). Problems of the plugin set follow, one per line; "
    "the exit code is 1 when there are any."))
@click.option("--config", "config_path", envvar="BLUEZONE_CONFIG", default=None, type=click.Path(dir_okay=False),
              help=N_("Deployment TOML whose [plugins] section applies (or $BLUEZONE_CONFIG)."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print JSON instead of a table."))
@click.option("--hooks", "show_hooks", is_flag=True, help=N_("Also list the hooks each active plugin implements."))
def plugins_command(config_path: str | None, as_json: bool, show_hooks: bool) -> None:
    plugins = process_plugin_set()
    if as_json:
        click.echo(json.dumps({"plugins": [p.as_dict() for p in plugins.plugins],
                               "problems": [{"location": p.location, "message": p.message}
                                            for p in plugins.problems]}, indent=2, ensure_ascii=False))
    else:
        state = {True: text(N_("active")), False: text(N_("inactive"))}
        rows = [(p.name, f"{p.distribution or '?'} {p.version or ''}".strip(), state[p.active],
                 text(p.reason), ", ".join(p.capabilities) or "-")
                for p in sorted(plugins.plugins, key=lambda p: p.name)]
        header = tuple(text(h) for h in (N_("plugin"), N_("distribution"), N_("state"), N_("why"),
                                         N_("essential capabilities")))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4])
        if show_hooks:
            for p in plugins.plugins:
                if p.active:
                    click.echo(f"{p.name}: {', '.join(p.hooks)}")
        for problem in plugins.problems:
            click.echo(error_line(str(problem)), err=True)
    if plugins.problems:
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(plugins_command)
