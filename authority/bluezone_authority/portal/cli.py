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

from ..server.staff import ROLES


def _open(config_path: str):
    from ..server import AuthorityServer

    try:
        return AuthorityServer.from_config(load_config_or_fail(config_path))
    except ValueError as e:  # a newer database, a plugin's failing migration: left as it was
        fail(f"cannot open the server database: {e}")


def _on_user(config_path: str, username: str, action, done: str) -> None:
    """Run ``action(db, username)`` on the server database; it answers whether
    the user exists. Prints ``done``, or refuses in one line."""
    server = _open(config_path)
    try:
        ok = action(server.db, username)
    finally:
        server.close()
    if not ok:
        fail(f"no user {username} / không có người dùng {username}")
    click.echo(done)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password / Mật khẩu", hide_input=True, confirmation_prompt=True)


def add_staff_commands(authority: click.Group) -> None:
    """Attach the ``staff`` group to the ``authority`` group."""

    @authority.group("staff")
    def staff() -> None:
        """Portal accounts for health-authority staff. / Tài khoản cổng cán bộ."""

    @staff.command("add")
    @config_option
    @click.option("--username", required=True, help="Login name: 2-32 of a-z, 0-9, '.', '_', '-'.")
    @click.option("--name", required=True, help="Display name.")
    @click.option("--role", required=True,
                  help=f"One of the server's roles: {', '.join(ROLES)}, or one a plugin adds (e.g. venue-tracer).")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")
    def add(config_path: str, username: str, name: str, role: str, password_stdin: bool) -> None:
        """Create a portal account (password hashed with Argon2id). / Tạo tài khoản."""
        from ..portal.users import UserError, add_user
        from ..server.staff import RoleError

        password = _read_password(password_stdin)
        server = _open(config_path)
        try:
            user = add_user(server.db, username, name, role, password, server.now(), server.roles)
        except (UserError, RoleError) as e:
            fail(str(e))
        finally:
            server.close()
        click.echo(f"created {user.username} ({user.role}) / đã tạo tài khoản")

    @staff.command("list")
    @config_option
    def list_(config_path: str) -> None:
        """List portal accounts (never passwords). / Danh sách tài khoản."""
        from ..portal.users import list_users

        server = _open(config_path)
        try:
            now = server.now()
            for u in list_users(server.db):
                state = "locked" if u.locked(now) else "active"
                last = (dt.datetime.fromtimestamp(u.last_login_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                        if u.last_login_at else "never")
                click.echo(f"{u.username}\t{u.role}\t{state}\tlast login {last}\t{u.name}")
        finally:
            server.close()

    @staff.command("unlock")
    @config_option
    @click.argument("username")
    def unlock_(config_path: str, username: str) -> None:
        """Clear a lockout after repeated failed logins. / Mở khoá tài khoản."""
        from ..portal.users import unlock

        _on_user(config_path, username, unlock, "unlocked / đã mở khoá")

    @staff.command("passwd")
    @config_option
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
    def passwd(config_path: str, username: str, password_stdin: bool) -> None:
        """Set a new password; the user's sessions end. / Đặt lại mật khẩu."""
        from ..portal.users import UserError, set_password

        password = _read_password(password_stdin)
        server = _open(config_path)
        try:
            set_password(server.db, username, password)
        except UserError as e:
            fail(str(e))
        finally:
            server.close()
        click.echo("password changed; sessions ended / đã đổi mật khẩu")

    @staff.command("remove")
    @config_option
    @click.argument("username")
    def remove(config_path: str, username: str) -> None:
        """Delete an account and end its sessions now. / Xoá tài khoản."""
        from ..portal.users import remove_user

        _on_user(config_path, username, remove_user, "removed / đã xoá")
