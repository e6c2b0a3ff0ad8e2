"""``bluezone authority ...``: staff commands run on the server machine.

They open the server's database directly (the same code the HTTP staff API
uses), so an operator can bootstrap the first admin token, issue a code at a
desk, build an export or run retention without a token.
"""

from __future__ import annotations

import json

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail
from bluezone.i18n import N_, Message, _, text


def _server(config_path: str):
    from ..server import AuthorityServer

    try:
        return AuthorityServer.from_config(load_config_or_fail(config_path))
    except ValueError as e:  # a newer database, a plugin's failing migration: left as it was
        fail(cannot_open(e))


def cannot_open(error: Exception) -> Message:
    """The refusal when the server database cannot be opened (a newer schema, a failing migration)."""
    return _("cannot open the server database: {error}", error=error.args[0] if error.args else error)


def register(cli: click.Group) -> None:
    # cli is the core's translating Group: the groups and commands made from it
    # translate their help (help=N_(...)) when it is shown (bluezone.cli.i18n_click)
    @cli.group("authority", help=N_("Health-authority staff commands."))
    def authority() -> None:
        pass

    @authority.command("keygen", help=N_("Make a P-256 export signing key pair."))
    @click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
                  help=N_("Private key file to create (PEM); the public key goes to OUT.pub.pem."))
    def keygen(out: str) -> None:
        from pathlib import Path

        from ..server.keys import new_p256, private_pem, public_pem, write_private_file

        path = Path(out)
        if path.exists():
            fail(_("{path} exists; refusing to overwrite a signing key", path=out))
        key = new_p256()
        write_private_file(path, private_pem(key))
        pub = path.with_name(path.stem + ".pub.pem")
        pub.write_text(public_pem(key))
        click.echo(text(_("private key: {private} (0600)\npublic key:  {public} (put it in [authority] export_keys)",
                          private=path, public=pub)))

    @authority.group("token", help=N_("Staff API tokens."))
    def token() -> None:
        pass

    @token.command("create", help=N_("Create a staff token; it is printed once and stored hashed."))
    @config_option
    @click.option("--name", required=True, help=N_("Who gets the token."))
    @click.option("--role", required=True,
                  help=N_("admin, case-officer, declarations, or a role a plugin adds (e.g. venue-tracer); "
                          "an unknown role is refused."))
    def token_create(config_path: str, name: str, role: str) -> None:
        server = _server(config_path)
        try:
            member, secret = server.create_staff_token(name, role)
        except ValueError as e:
            fail(e.args[0])
        finally:
            server.close()
        click.echo(secret)
        click.echo(text(_("(id {id}, role {role}; shown once)", id=member.id, role=role)))

    @token.command("revoke", help=N_("Revoke a staff token by its id."))
    @config_option
    @click.argument("member_id")
    def token_revoke(config_path: str, member_id: str) -> None:
        from ..server.staff import revoke_staff_token

        server = _server(config_path)
        ok = revoke_staff_token(server.db, member_id, server.now())
        server.close()
        if not ok:
            fail(_("no active token with id {id}", id=member_id))
        click.echo(text(_("revoked")))

    @authority.command("issue-code", help=N_("Issue a one-time verification code for a case."))
    @config_option
    @click.option("--tier", type=click.Choice(["F0", "F1"]), default="F0", show_default=True,
                  help=N_("F0: a confirmed case; F1: a close contact, to warn F2 contacts."))
    @click.option("--report-type", type=click.Choice(["confirmed", "likely", "negative"]), default="confirmed",
                  show_default=True,
                  help=N_("How the F0 was confirmed: a positive test or a clinical diagnosis; 'negative' revokes "
                          "that person's earlier report (their phone sends it again with this code)."))
    @click.option("--onset", "onset", default=None, help=N_("Symptom onset date YYYY-MM-DD."))
    @click.option("--test-date", default=None, help=N_("Test date YYYY-MM-DD (when onset is unknown)."))
    @click.option("--long", "long_code", is_flag=True,
                  help=N_("16-character code valid 24 h (default: 8 digits, 15 min)."))
    @click.option("--json", "as_json", is_flag=True, help=N_("Machine-readable output."))
    def issue_code(config_path: str, tier: str, report_type: str, onset: str | None, test_date: str | None,
                   long_code: bool, as_json: bool) -> None:
        from bluezone.config import DeploymentSettings

        from ..server import ApiError
        from .code_view import code_lines

        server = _server(config_path)
        timezone = server.config.typed(DeploymentSettings).timezone
        try:
            out = server.issue_code({"tier": tier, "reportType": report_type, "symptomOnsetDate": onset,
                                     "testDate": test_date, "kind": "long" if long_code else "short"},
                                    issued_by="cli")
        except ApiError as e:
            fail(e.message)
        finally:
            server.close()
        if as_json:
            click.echo(json.dumps(out))
        else:
            click.echo("\n".join(text(line) for line in code_lines(out, timezone)))

    @authority.command("embargo", help=N_("Keys waiting for their embargo, and when they will be published."))
    @config_option
    @click.option("--json", "as_json", is_flag=True, help=N_("Machine-readable output."))
    def embargo(config_path: str, as_json: bool) -> None:
        from ..server.embargo_view import embargo_lines

        server = _server(config_path)
        try:
            out = server.embargo()
        finally:
            server.close()
        click.echo(json.dumps(out) if as_json else "\n".join(embargo_lines(out)))

    from .init_cmd import add_init_commands

    add_init_commands(authority)  # 'authority init' and 'authority keys ...': a province's first day

    from ..portal.cli import add_staff_commands

    add_staff_commands(authority)  # 'authority staff ...': portal accounts (docs/portal.md)

    @authority.command("export", help=N_("Build a key batch now (normally done on a schedule)."))
    @config_option
    def export(config_path: str) -> None:
        server = _server(config_path)
        try:
            click.echo(json.dumps(server.export_now()))
        finally:
            server.close()

    @authority.command("purge", help=N_("Delete everything older than the retention window now."))
    @config_option
    def purge(config_path: str) -> None:
        server = _server(config_path)
        try:
            click.echo(json.dumps(server.purge()))
        finally:
            server.close()
