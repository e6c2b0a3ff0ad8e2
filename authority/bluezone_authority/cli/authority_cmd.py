"""``bluezone authority ...``: staff commands run on the server machine.

They open the server's database directly (the same code the HTTP staff API
uses), so an operator can bootstrap the first admin token, issue a code at a
desk, build an export or run retention without a token.
"""

from __future__ import annotations

import json

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail


def _server(config_path: str):
    from ..server import AuthorityServer

    try:
        return AuthorityServer.from_config(load_config_or_fail(config_path))
    except ValueError as e:  # a newer database, a plugin's failing migration: left as it was
        fail(f"cannot open the server database: {e}")


def register(cli: click.Group) -> None:
    @cli.group("authority")
    def authority() -> None:
        """Health-authority staff commands. / Lệnh cho cán bộ y tế."""

    @authority.command("keygen")
    @click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
                  help="Private key file to create (PEM); the public key goes to OUT.pub.pem.")
    def keygen(out: str) -> None:
        """Make a P-256 export signing key pair. / Tạo cặp khoá ký."""
        from pathlib import Path

        from ..server.keys import new_p256, private_pem, public_pem, write_private_file

        path = Path(out)
        if path.exists():
            fail(f"{out} exists; refusing to overwrite a signing key")
        key = new_p256()
        write_private_file(path, private_pem(key))
        pub = path.with_name(path.stem + ".pub.pem")
        pub.write_text(public_pem(key))
        click.echo(f"private key: {path} (0600)\npublic key:  {pub} (put it in [authority] export_keys)")

    @authority.group("token")
    def token() -> None:
        """Staff API tokens. / Mã truy cập của cán bộ."""

    @token.command("create")
    @config_option
    @click.option("--name", required=True, help="Who gets the token.")
    @click.option("--role", required=True,
                  help="admin, case-officer, declarations, or a role a plugin adds (e.g. venue-tracer); "
                       "an unknown role is refused.")
    def token_create(config_path: str, name: str, role: str) -> None:
        """Create a staff token; it is printed once and stored hashed."""
        server = _server(config_path)
        try:
            member, secret = server.create_staff_token(name, role)
        except ValueError as e:
            fail(str(e))
        finally:
            server.close()
        click.echo(f"{secret}\n(id {member.id}, role {role}; shown once / chỉ hiển thị một lần)")

    @token.command("revoke")
    @config_option
    @click.argument("member_id")
    def token_revoke(config_path: str, member_id: str) -> None:
        """Revoke a staff token by its id."""
        from ..server.staff import revoke_staff_token

        server = _server(config_path)
        ok = revoke_staff_token(server.db, member_id, server.now())
        server.close()
        if not ok:
            fail(f"no active token with id {member_id}")
        click.echo("revoked / đã thu hồi")

    @authority.command("issue-code")
    @config_option
    @click.option("--tier", type=click.Choice(["F0", "F1"]), default="F0", show_default=True)
    @click.option("--report-type", type=click.Choice(["confirmed", "likely"]), default="confirmed", show_default=True)
    @click.option("--onset", "onset", default=None, help="Symptom onset date YYYY-MM-DD.")
    @click.option("--test-date", default=None, help="Test date YYYY-MM-DD (when onset is unknown).")
    @click.option("--long", "long_code", is_flag=True, help="16-character code valid 24 h (default: 8 digits, 15 min).")
    def issue_code(config_path: str, tier: str, report_type: str, onset: str | None, test_date: str | None,
                   long_code: bool) -> None:
        """Issue a one-time verification code for a case. / Cấp mã xác minh."""
        from ..server import ApiError

        server = _server(config_path)
        try:
            out = server.issue_code({"tier": tier, "reportType": report_type, "symptomOnsetDate": onset,
                                     "testDate": test_date, "kind": "long" if long_code else "short"},
                                    issued_by="cli")
        except ApiError as e:
            fail(f"{e.message} / {e.message_vi}")
        finally:
            server.close()
        click.echo(json.dumps(out))

    @authority.command("revoke")
    @config_option
    @click.option("--code-id", required=True, help="The id printed when the code was issued.")
    def revoke(config_path: str, code_id: str) -> None:
        """Revoke the keys published with a code (a false positive). / Thu hồi khoá đã công bố bằng một mã."""
        from ..server import ApiError

        server = _server(config_path)
        try:
            out = server.revoke_upload({"codeId": code_id})
        except ApiError as e:
            fail(f"{e.code}: {e.message} / {e.message_vi}")
        finally:
            server.close()
        click.echo(json.dumps(out))

    @authority.command("embargo")
    @config_option
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def embargo(config_path: str, as_json: bool) -> None:
        """Keys waiting for their embargo, and when they will be published. / Khoá đang chờ hết thời gian giữ lại."""
        from ..server.embargo_view import embargo_lines

        server = _server(config_path)
        try:
            out = server.embargo()
        finally:
            server.close()
        click.echo(json.dumps(out) if as_json else "\n".join(embargo_lines(out)))

    from ..portal.cli import add_staff_commands

    add_staff_commands(authority)  # 'authority staff ...': portal accounts (docs/portal.md)

    @authority.command("export")
    @config_option
    def export(config_path: str) -> None:
        """Build a key batch now (normally done on a schedule)."""
        server = _server(config_path)
        try:
            click.echo(json.dumps(server.export_now()))
        finally:
            server.close()

    @authority.command("purge")
    @config_option
    def purge(config_path: str) -> None:
        """Delete everything older than the retention window now."""
        server = _server(config_path)
        try:
            click.echo(json.dumps(server.purge()))
        finally:
            server.close()
