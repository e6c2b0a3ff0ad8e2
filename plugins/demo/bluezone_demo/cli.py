"""The ``bluezone demo`` command."""

from __future__ import annotations

import tempfile
import webbrowser
from pathlib import Path

import click

from bluezone import CliCommand
from bluezone.i18n import N_, _, text


@click.command("demo", cls=CliCommand, help=N_(
    "A simulated province day, end to end over real HTTP.\n\n"
    "The authority server runs on loopback; citizens trace with the radio simulator through buses, offices, the "
    "market and home; an office runs QR check-in; an F0 uploads with a code; everyone syncs; an F1 publishes for "
    "F2 warnings; the office's venue is traced; declarations are sealed. Prints a summary against the "
    "simulator's ground truth and writes an HTML report."))
@click.option("--citizens", type=click.IntRange(8, 500), default=80, show_default=True,
              help=N_("Simulated citizens (the issue's range is 50–200)."))
@click.option("--seed", type=int, default=7, show_default=True, help=N_("Seed of the day's plan and radio."))
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help=N_("Keep everything here (default: a new temporary folder)."))
@click.option("--declarations", type=click.IntRange(0, 50), default=5, show_default=True,
              help=N_("How many warned people submit a health declaration."))
@click.option("--open/--no-open", "open_report", default=False, help=N_("Open the HTML report in a browser."))
def demo_command(citizens: int, seed: int, workdir: str | None, declarations: int, open_report: bool) -> None:
    """The integrator's tour of the whole system (help text above); its summary
    and report are in the first deployment language, for the one reader."""
    from bluezone_authority.server.process import ServerProcessError

    from .authority import DemoError
    from .province import run_province_day
    from .report import summary_lines, write_report

    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="bluezone-demo-"))
    click.echo(text(_("Bluezone demo — a day in Gia Lai ({citizens} citizens, seed {seed})", citizens=citizens,
                      seed=seed)))
    click.echo(text(_("working folder: {folder}", folder=folder)))
    try:
        result = run_province_day(folder, citizens=citizens, seed=seed, echo=click.echo, declarations=declarations)
    except (DemoError, ServerProcessError) as e:
        raise click.ClickException(str(e)) from e
    path = write_report(result)
    click.echo("")
    for line in summary_lines(result):
        click.echo(line)
    click.echo("\n" + text(_("HTML report: {uri}", uri=path.as_uri())))
    if open_report:
        webbrowser.open(path.as_uri())
