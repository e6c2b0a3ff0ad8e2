"""``bluezone authority init`` and ``bluezone authority keys ...``: a province's first commands.

``init`` writes a whole deployment folder (bluezone_authority.scaffold);
``keys`` makes one key pair into a folder, for a province that replaces a key
or builds its files by hand.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import click

from bluezone.cli.common import fail
from bluezone.cli.i18n_click import Group
from bluezone.i18n import N_, _, text


def add_init_commands(authority: click.Group) -> None:
    """Attach ``init`` and the ``keys`` group to the ``authority`` group."""

    @authority.command("init", help=N_("Set up a whole deployment in DIR: the three key pairs, the phones' and "
                                       "the server's files, a first portal admin and a README."))
    @click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
    @click.option("--province", required=True, help=N_("The province's name, e.g. 'Gia Lai'."))
    @click.option("--url", default="http://127.0.0.1:8452", show_default=True,
                  help=N_("The server's public address, as phones reach it."))
    @click.option("--region", default="452", show_default=True, help=N_("Export region (Vietnam: 452)."))
    @click.option("--timezone", default="Asia/Ho_Chi_Minh", show_default=True,
                  help=N_("Time zone in which people read dates."))
    @click.option("--port", type=click.IntRange(1, 65535), default=8452, show_default=True,
                  help=N_("Port the server listens on."))
    @click.option("--admin", default="admin", show_default=True, help=N_("User name of the first portal admin."))
    @click.option("--password-stdin", is_flag=True,
                  help=N_("Read the admin's password from standard input (default: a new one, printed once)."))
    @click.option("--poster-url", help=N_("The https:// address venue posters' QR codes point to (default: the "
                                          "server's address + /checkin when that is https)."))
    def init(folder: str, province: str, url: str, region: str, timezone: str, port: int, admin: str,
             password_stdin: bool, poster_url: str | None) -> None:
        from ..scaffold import Deployment, ScaffoldError, scaffold

        password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in province):
            # checked before any file is written: a line break would end up in the TOML files
            fail(_("--province must be one line of printable text"))
        try:
            if poster_url is not None and urlsplit(poster_url).scheme != "https":
                raise ScaffoldError(_("--poster-url must be an https:// address (phones open it from paper)"))
            made = scaffold(Path(folder), Deployment(province.strip(), url.rstrip("/"), region, timezone, port,
                                                     admin, poster_url), password)
        except ScaffoldError as e:
            fail(str(e))
        click.echo(text(_("Deployment for {province} in {folder}:", province=province, folder=made.folder)))
        click.echo(text(_("  phones:  {file} (with its public key file; ship both with the app)",
                          file=made.phones_file)))
        click.echo(text(_("  server:  {file} (start it with: bluezone serve --config {file})", file=made.server_file)))
        click.echo(text(_("  README.md says which file goes where and which must stay secret.")))
        if not password_stdin:
            click.echo(text(_("Portal admin {user}, password (shown once): {password}", user=made.admin,
                              password=made.admin_password)))
        else:
            click.echo(text(_("Portal admin {user} created.", user=made.admin)))

    @authority.group("keys", cls=Group, help=N_("Make one key pair of the deployment into a folder."))
    def keys() -> None:
        pass

    def _key_command(name: str, help_text: str, maker_name: str, where: str) -> None:
        @keys.command(name, help=help_text)
        @click.argument("folder", metavar="DIR", type=click.Path(file_okay=False))
        def command(folder: str) -> None:
            from .. import keymaking

            maker: Callable[[Path], keymaking.MadeKeys] = getattr(keymaking, maker_name)
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
                made = maker(Path(folder))
            except (keymaking.KeyMakingError, OSError) as e:
                fail(str(e))
            click.echo(text(_("private key: {private} (0600, secret)", private=made.private)))
            click.echo(text(_("public key:  {public}", public=made.public)))
            click.echo(where.format(public=made.public_text))

    _key_command("export", N_("Export signing pair (P-256): export-signing.pem for the server, "
                              "export-signing.pub.pem for the phones."), "make_export_keys",
                 '[authority] export_keys = [ {{ key_id = "452", public_key = "{public}" }} ]')
    _key_command("declarations", N_("Declaration sealing pair (X25519): the private key stays offline."),
                 "make_declaration_keys", '[authority] declaration_public_key = "{public}"')
    _key_command("venue", N_("Venue (QR check-in) authority pair (X25519): the private key for the server."),
                 "make_venue_keys", '[qr_checkin] authority_public_key = "{public}"')
