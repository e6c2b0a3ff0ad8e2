"""``bluezone config``: check a deployment file."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import click

from ..config import Config, ConfigError, Problem, load_config, read_config_text
from ..i18n import N_, _, _n, text
from ..plugins import call_hook, process_plugin_set
from .i18n_click import Group


@click.group("config", cls=Group, help=N_("Deployment configuration files."))
def config_group() -> None:
    pass


@config_group.command("check", help=N_("Validate a deployment TOML and list every problem with its location."))
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    other = _other_kind(file)
    if other is not None:
        _check_other(file, *other)
        return
    try:
        config = load_config(file)
    except ConfigError as e:
        for problem in e.problems:
            click.echo(problem.format(file), err=True)
        click.echo(str(_found(len(e.problems), file)), err=True)
        raise SystemExit(1) from None
    # The schema says what types a section holds; its settings class checks the
    # rest (a CIDR that parses, a path that resolves): build every one now, so
    # what 'bluezone serve' or a command would refuse later is reported here.
    refused: dict[str, str] = {}  # one line per problem, even when several sections read the same value
    for section in sorted(config.settings_classes(), key=lambda name: name != "deployment"):
        try:
            config.typed(section)
        except (ValueError, TypeError, LookupError) as e:
            refused.setdefault(str(e), f"{file}: [{section}] {e}")
    if refused:
        for line in refused.values():
            click.echo(line, err=True)
        click.echo(str(_found(len(refused), file)), err=True)
        raise SystemExit(1)
    _warn_outside_hosts(config, file)
    enabled = ", ".join(config.plugins.active_names())
    click.echo(text(_("{path}: OK — deployment {name!r} (region {region}), schedule {schedule}, retention {days} days",
                     path=file, name=config.name, region=config.region, schedule=config.schedule_name,
                     days=config.retention_days)))
    click.echo(text(_("plugins: {names}", names=enabled)))


def _other_kind(file: str) -> tuple[str, Callable[[Path], list[Problem]]] | None:
    """The section and checker of a file that is not a deployment but another
    kind a plugin claims (``bluezone_config_files``: the gateway's ``[gateway]``).
    A file that does not parse, or has ``[deployment]``, is a deployment's to report."""
    try:
        data = tomllib.loads(read_config_text(Path(file)))
    except (ConfigError, tomllib.TOMLDecodeError, RecursionError):
        return None  # load_config reports it, in one line
    if "deployment" in data:
        return None
    kinds: dict[str, Callable[[Path], list[Problem]]] = {}
    for claimed in call_hook(process_plugin_set().pm.hook.bluezone_config_files):
        kinds.update(claimed or {})
    return next(((section, kinds[section]) for section in data if section in kinds), None)


def _check_other(file: str, section: str, check: Callable[[Path], list[Problem]]) -> None:
    problems = sorted(check(Path(file)), key=lambda p: (p.line is None, p.line or 0))
    if problems:
        for problem in problems:
            click.echo(problem.format(file), err=True)
        click.echo(str(_found(len(problems), file)), err=True)
        raise SystemExit(1)
    click.echo(text(_("{path}: OK — a [{section}] file", path=file, section=section)))


def _found(n: int, path: str) -> object:
    return _n("{n} problem found in {path}.", "{n} problems found in {path}.", n, path=path)


def _warn_outside_hosts(config: Config, file: str) -> None:
    """Warnings (not errors) for configured URLs whose host is outside the
    country (bluezone.privacy.hosts); the file still checks OK."""
    from ..privacy.hosts import outside_hosts
    from ..privacy.notice import PrivacySettings

    for warning in outside_hosts(config.data, config.typed(PrivacySettings).hosts_in_country):
        click.echo(warning.format(file), err=True)


def register(cli: click.Group) -> None:
    cli.add_command(config_group)
