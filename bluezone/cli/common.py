"""Helpers shared by the command modules."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from ..config import Config, ConfigError, load_config


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error a person can act on, and exit."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def load_config_or_fail(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        click.echo(str(e), err=True)
        fail(f"{len(e.problems)} problem(s) in {path}; run 'bluezone config check {path}' for details")


config_option = click.option(
    "--config", "config_path", envvar="BLUEZONE_CONFIG", required=True, type=click.Path(dir_okay=False),
    help="Deployment TOML file (or $BLUEZONE_CONFIG).",
)
