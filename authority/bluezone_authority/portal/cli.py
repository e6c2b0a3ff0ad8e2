"""``bluezone authority staff ...``: portal accounts, managed on the server machine.

Passwords are read from a hidden prompt (asked twice) or, for scripts, from
standard input with ``--password-stdin``; never from the command line, where
they would land in shell history and the process list.
"""

from __future__ import annotations

import datetime as dt
import sys

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail
from bluezone.i18n import N_, Message, _, text

#: an account's state in 'staff list'
ACTIVE, LOCKED, NEVER = N_("active"), N_("locked"), N_("never")


def _open(config_path: str):
    from ..server import AuthorityServer

    try:
        return AuthorityServer.from_config(load_config_or_fail(config_path))
    except ValueError as e:  # a newer database, a plugin's failing migration: left as it was
        from ..cli.authority_cmd import cannot_open

        fail(cannot_open(e))


def _on_user(config_path: str, username: str, action, done: Message) -> None:
    """Run ``action(db, username)`` on the server database; it answers whether
    the user exists. Prints ``done``, or refuses in one line."""
    server = _open(config_path)
    try:
        ok = action(server.db, username)
    finally:
        server.close()
    if not ok:
        from .users import no_user

        fail(no_user(username))
    click.echo(text(done))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(text(_("Password")), hide_input=True,
                        confirmation_prompt=text(_("Repeat for confirmation")))


def add_staff_commands(authority: click.Group) -> None:
    """Attach the ``staff`` group to the ``authority`` group."""

    @authority.group("staff", help=N_("Portal accounts for health-authority staff."))
    def staff() -> None:
        pass

    @staff.command("add", help=N_("Create a portal account (password hashed with Argon2id)."))
    @config_option
    @click.option("--username", required=True, help=N_("Login name: 2-32 of a-z, 0-9, '.', '_', '-'."))
    @click.option("--name", required=True, help=N_("Display name."))
    @click.option("--role", required=True,
                  help=N_("One of the server's roles: admin, case-officer, declarations, or one a plugin adds "
                          "(e.g. venue-tracer)."))
    @click.option("--password-stdin", is_flag=True, help=N_("Read the password from standard input (one line)."))
    def add(config_path: str, username: str, name: str, role: str, password_stdin: bool) -> None:
        from ..portal.users import UserError, add_user
        from ..server.staff import RoleError

        password = _read_password(password_stdin)
        server = _open(config_path)
        try:
            user = add_user(server.db, username, name, role, password, server.now(), server.roles)
        except (UserError, RoleError) as e:
            fail(e.args[0])
        finally:
            server.close()
        click.echo(text(_("created {username} ({role})", username=user.username, role=user.role)))

    @staff.command("list", help=N_("List portal accounts (never passwords)."))
    @config_option
    def list_(config_path: str) -> None:
        from ..portal.users import list_users

        server = _open(config_path)
        try:
            now = server.now()
            for u in list_users(server.db):
                state = text(LOCKED if u.locked(now) else ACTIVE)
                last = (dt.datetime.fromtimestamp(u.last_login_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                        if u.last_login_at else text(NEVER))
                click.echo("\t".join((u.username, u.role, state, text(_("last login {when}", when=last)), u.name)))
        finally:
            server.close()

    @staff.command("unlock", help=N_("Clear a lockout after repeated failed logins."))
    @config_option
    @click.argument("username")
    def unlock_(config_path: str, username: str) -> None:
        from ..portal.users import unlock

        _on_user(config_path, username, unlock, _("unlocked"))

    @staff.command("passwd", help=N_("Set a new password; the user's sessions end."))
    @config_option
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help=N_("Read the new password from standard input."))
    def passwd(config_path: str, username: str, password_stdin: bool) -> None:
        from ..portal.users import UserError, set_password

        password = _read_password(password_stdin)
        server = _open(config_path)
        try:
            set_password(server.db, username, password)
        except UserError as e:
            fail(e.args[0])
        finally:
            server.close()
        click.echo(text(_("password changed; sessions ended")))

    @staff.command("remove", help=N_("Delete an account and end its sessions now."))
    @config_option
    @click.argument("username")
    def remove(config_path: str, username: str) -> None:
        from ..portal.users import remove_user

        _on_user(config_path, username, remove_user, _("removed"))
