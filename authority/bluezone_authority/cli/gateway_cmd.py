"""``bluezone gateway``: the national federation gateway and its operator's commands.

``bluezone gateway --config FILE`` runs it; ``ca init`` / ``ca issue`` make the
operator's CA and the certificates of the gateway and of each province;
``province add`` registers a province's batch signing key. ``bluezone
authority federate`` (in :mod:`.authority_cmd`'s group) runs one round on a
province server. docs/federation.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail
from bluezone.i18n import N_, _, text

_gateway_config = click.option("--config", "config_path", required=False, type=click.Path(dir_okay=False),
                               help=N_("The gateway's TOML file ([gateway] section)."))


def _settings(config_path: str):
    from ..gateway.settings import GatewayConfigError, GatewaySettings

    try:
        return GatewaySettings.load(Path(config_path))
    except GatewayConfigError as e:
        fail(str(e))


def register(cli: click.Group, authority: click.Group) -> None:
    @cli.group("gateway", invoke_without_command=True,
               help=N_("Run the national federation gateway (--config FILE), or its operator's commands."))
    @_gateway_config
    @click.pass_context
    def gateway(ctx: click.Context, config_path: str | None) -> None:
        if ctx.invoked_subcommand is not None:
            return
        if not config_path:
            fail(_("give the gateway's TOML file: bluezone gateway --config FILE"))
        _run(_settings(config_path))

    @gateway.group("ca", help=N_("The operator's certificate authority."))
    def ca() -> None:
        pass

    @ca.command("init", help=N_("Make a new CA (ca.pem, ca.key) in DIR."))
    @click.option("--dir", "folder", required=True, type=click.Path(file_okay=False))
    def ca_init(folder: str) -> None:
        from ..gateway import certs

        try:
            made = certs.init_ca(Path(folder))
        except FileExistsError:
            fail(_("{folder} already holds a CA; refusing to overwrite it", folder=folder))
        click.echo(text(_("CA certificate: {cert}\nCA key: {key} (0600; keep it offline)", cert=made.cert,
                          key=made.key)))

    @ca.command("issue", help=N_("Issue a province's client certificate (or, with --server-host, the gateway's)."))
    @click.option("--dir", "folder", required=True, type=click.Path(file_okay=False), help=N_("The CA's folder."))
    @click.option("--name", required=True, help=N_("The province code (or the gateway's name)."))
    @click.option("--out", required=True, type=click.Path(dir_okay=False),
                  help=N_("Writes OUT.pem and OUT.key."))
    @click.option("--server-host", multiple=True, help=N_("Host name or IP of the gateway (server certificate)."))
    def ca_issue(folder: str, name: str, out: str, server_host: tuple[str, ...]) -> None:
        from ..gateway import certs, encoding

        if not server_host and not encoding.PROVINCE.fullmatch(name):
            fail(_("a province code is 1-16 of A-Z, a-z, 0-9 and '-'"))
        if not (Path(folder) / "ca.key").exists():
            fail(_("no CA in {folder}; run 'bluezone gateway ca init --dir {folder}' first", folder=folder))
        made = certs.issue(Path(folder), name, Path(out), server_hosts=list(server_host) or None)
        click.echo(text(_("certificate: {cert}\nkey: {key} (0600)", cert=made.cert, key=made.key)))

    @gateway.group("province", help=N_("Provinces registered at the gateway."))
    def province() -> None:
        pass

    @province.command("add", help=N_("Register (or replace) a province's batch signing key."))
    @click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
                  help=N_("The gateway's TOML file ([gateway] section)."))
    @click.option("--code", required=True, help=N_("The province code (its certificate's common name)."))
    @click.option("--signing-key", required=True, type=click.Path(dir_okay=False),
                  help=N_("The province's public export signing key (PEM)."))
    def province_add(config_path: str, code: str, signing_key: str) -> None:
        import time

        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        from ..gateway import encoding
        from ..gateway.store import GatewayStore
        from ..server.database import DatabaseError

        if not encoding.PROVINCE.fullmatch(code):
            fail(_("a province code is 1-16 of A-Z, a-z, 0-9 and '-'"))
        try:
            pem = Path(signing_key).read_text()
            key = load_pem_public_key(pem.encode())
        except (OSError, ValueError, UnicodeDecodeError):
            fail(_("{path} is not a PEM public key", path=signing_key))
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            fail(_("{path} is not a P-256 public key", path=signing_key))
        try:  # a file path (SQLite) or a postgresql:// URL; one line when it cannot be opened
            store = GatewayStore(_settings(config_path).database)
        except DatabaseError as e:
            fail(e.args[0])
        try:
            store.add_province(code, pem, int(time.time()))
        finally:
            store.close()
        click.echo(text(_("province {code} registered", code=code)))

    @authority.command("federate", help=N_("Run one federation round now: upload shareable keys to the "
                                           "gateway and import other provinces' (normally on a schedule)."))
    @config_option
    def federate(config_path: str) -> None:
        import asyncio

        from ..gateway.federation import run_round
        from ..server import AuthorityServer

        server = AuthorityServer.from_config(load_config_or_fail(config_path))
        try:
            if server.federation is None:
                fail(_("this server has no [federation] section"))
            result = asyncio.run(run_round(server, server.federation))
        finally:
            server.close()
        click.echo(json.dumps(result.as_json()))
        if result.error:
            fail(_("the gateway could not be used ({code}); the outbox keeps the batches for the next round",
                   code=result.error), code=1)


def _run(settings) -> None:
    import asyncio
    import signal

    from aiohttp import web

    from ..gateway import certs
    from ..gateway.app import Gateway, create_app
    from ..server import serverlog
    from ..server.database import DatabaseError

    try:
        ssl_ctx = certs.server_context(settings.ca, settings.cert, settings.key)
        gw = Gateway(settings)
    except DatabaseError as e:  # already one line, in every language, the password hidden
        fail(e.args[0])
    except (OSError, ValueError) as e:
        fail(_("cannot start the gateway: {error}", error=e))
    app = create_app(gw)

    async def run() -> None:
        serverlog.install()
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port, ssl_context=ssl_ctx)
        await site.start()
        host, port = runner.addresses[0][:2]
        click.echo(text(_("Bluezone federation gateway on {url}", url="https://{}:{}".format(host, port))), err=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()
        gw.close()

    asyncio.run(run())
