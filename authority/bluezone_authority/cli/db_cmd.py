"""``bluezone authority db current|upgrade``: the server database's schema revisions (Alembic).

Why a command when the server migrates on start anyway: an operator of
several workers (or of a PostgreSQL shared by machines) wants to upgrade the
schema once, before starting the new version everywhere, and to see what a
database holds without starting a server on it.
"""

from __future__ import annotations

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail
from bluezone.cli.i18n_click import Group
from bluezone.i18n import N_, _, _n, text


@click.group("db", cls=Group, help=N_("The server database: which schema revisions it has, and upgrading it."))
def db_group() -> None:
    pass


def shown(revision: object) -> str:
    """A revision id as printed: escapes for anything not printable. Why: the ids
    of plugins not installed are whatever rows ``alembic_version`` holds, and
    anyone who could write to the database could put terminal escapes there."""
    name = str(revision)
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")


def _refuse_gateway_file(config_path: str) -> None:
    """A gateway.toml given here was refused as a deployment with "unknown
    section [gateway]", and the line sent the operator to ``config check``,
    which finds the file fine: say what the file is and what migrates it."""
    import tomllib
    from pathlib import Path

    from bluezone.config import ConfigError, read_config_text

    try:
        data = tomllib.loads(read_config_text(Path(config_path)))
    except (ConfigError, tomllib.TOMLDecodeError, RecursionError):
        return  # load_config_or_fail names the problem
    if "gateway" in data and "deployment" not in data:
        fail(_("{path} is the federation gateway's file: the gateway brings its database to its schema "
               "revisions when it starts (bluezone gateway --config {path}); 'authority db' reads a province "
               "server's file", path=config_path))


def _location_and_plugins(config_path: str):
    from ..server import ServerSettings

    _refuse_gateway_file(config_path)
    config = load_config_or_fail(config_path)
    return ServerSettings.from_config(config).database, getattr(config, "pm", None)


@db_group.command("current", help=N_("List the schema revisions the server database has, those still to apply "
                                     "and those of plugins not installed; changes nothing."))
@config_option
def current(config_path: str) -> None:
    from ..server.db import migration_status

    location, plugins = _location_and_plugins(config_path)
    try:
        status = migration_status(location, plugins)
    except ValueError as e:
        fail(_("cannot open the server database: {error}", error=e.args[0] if e.args else e))
    click.echo(text(_("database: {database} ({kind})", database=status.display, kind=status.kind)))
    heads = ", ".join(shown(r) for r in status.heads) or "-"
    click.echo(text(_("current heads: {heads}", heads=heads)))
    for revision in status.applied:
        click.echo(f"  {shown(revision)}")
    for revision in status.pending:
        click.echo(text(_("  {step} (not applied yet)", step=shown(revision))))
    for absent in status.absent:
        click.echo(text(_("  {revision} (its plugin is not installed; left as it is)", revision=shown(absent))))
    if not status.pending:
        click.echo(text(_("up to date")))


@db_group.command("upgrade", help=N_("Apply the schema revisions the server database lacks (the server also "
                                     "does this when it starts)."))
@config_option
def upgrade(config_path: str) -> None:
    from ..server.db import ServerDB, migration_status

    location, plugins = _location_and_plugins(config_path)
    try:
        with ServerDB(location, plugins=plugins) as db:
            applied = db.migrations_applied
        status = migration_status(location, plugins)
    except ValueError as e:  # a newer database, a failing revision, an unreachable server: left as it was
        fail(_("cannot open the server database: {error}", error=e.args[0] if e.args else e))
    for revision in applied:
        click.echo(f"  {shown(revision)}")
    click.echo(text(_n("{n} revision applied", "{n} revisions applied", len(applied), n=len(applied))))
    click.echo(text(_("current heads: {heads}", heads=", ".join(shown(r) for r in status.heads) or "-")))
    for absent in status.absent:
        click.echo(text(_("  {revision} (its plugin is not installed; left as it is)", revision=shown(absent))))
