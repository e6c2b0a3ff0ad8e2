"""``bluezone demo``: a short, real scenario with what is installed."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Keep the demo's stores here (default: a temporary folder).")
@click.option("--seed", type=int, default=7, show_default=True)
def demo_command(workdir: str | None, seed: int) -> None:
    """Two phones meet, one reports, the other matches (the core alone).

    The bluezone-demo plugin, installed by 'make install', replaces this with
    a whole simulated province day over real HTTP.
    """
    from ..demo import run_demo

    run_demo(workdir, seed=seed, echo=click.echo)


def register(cli: click.Group) -> None:
    cli.add_command(demo_command)
