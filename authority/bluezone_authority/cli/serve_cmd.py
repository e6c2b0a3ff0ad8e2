"""``bluezone serve --config FILE``: run the health-authority server."""

from __future__ import annotations

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail
from bluezone.i18n import N_, _, text


def register(cli: click.Group) -> None:
    @cli.command("serve", help=N_("Run the health-authority server (device API, feeds, staff API, portal). "
                                  "Stops cleanly on Ctrl-C or SIGTERM."))
    @config_option
    @click.option("--host", default=None, help=N_("Listen address (default: [server] host)."))
    @click.option("--port", type=int, default=None, help=N_("Port (default: [server] port; 0 picks a free one)."))
    def serve(config_path: str, host: str | None, port: int | None) -> None:
        import asyncio
        import signal

        from aiohttp import web

        from ..server import AuthorityServer, create_app, serverlog

        config = load_config_or_fail(config_path)
        try:
            server = AuthorityServer.from_config(config)
            app = create_app(server, config=config)  # plugins' pages, roles and migrations are checked here
        except OSError as e:  # a key or data file that is missing or unreadable: name it, not errno's number
            fail(_("cannot start the server: {error}", error=f"{e.strerror}: {e.filename}" if e.filename else e))
        except ValueError as e:
            fail(_("cannot start the server: {error}", error=e.args[0] if e.args else e))
        s = server.settings

        async def run() -> None:
            # access_log=None and the address-free error line: the server keeps no
            # log of client addresses (docs/privacy.md rule 2)
            serverlog.install()
            # keepalive_timeout is also the header deadline: aiohttp closes a
            # connection that has not completed a request this long after it
            # opened or after its last answer (authority/bluezone_authority/server/timeouts.py)
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   keepalive_timeout=s.header_timeout_seconds)
            await runner.setup()
            site = web.TCPSite(runner, host or s.host, s.port if port is None else port)
            await site.start()
            bound = runner.addresses[0]
            url = "http://{}:{}".format(bound[0], bound[1])
            click.echo(text(_("Bluezone authority server on {url} (exports in {folder})", url=url,
                              folder=s.export_dir)))
            # where staff go: the API phones use, and the portal when this deployment mounts it
            click.echo(text(_("  device and staff API: {url}/v1/", url=url)))
            if any(r.canonical.startswith("/portal") for r in app.router.resources()):
                click.echo(text(_("  staff portal:         {url}/portal/", url=url)))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            await runner.cleanup()
            click.echo(text(_("Stopped.")))

        asyncio.run(run())
