"""``bluezone serve --config FILE [--workers N]``: run the health-authority server."""

from __future__ import annotations

import click

from bluezone.cli.common import config_option, fail, load_config_or_fail
from bluezone.i18n import N_, _, _n, text


class _WorkerMessages:
    """What the supervisor says about its workers, in the operator's language."""

    @staticmethod
    def died(index: int, pid: int | None, code: int | None) -> str:
        return text(_("worker {index} (pid {pid}) exited with code {code}; starting it again",
                      index=index, pid=pid, code=code))

    @staticmethod
    def giving_up(n: int) -> str:
        return text(_("workers exited {n} times within a minute; stopping the server (see the lines above)", n=n))


def register(cli: click.Group) -> None:
    @cli.command("serve", help=N_("Run the health-authority server (device API, feeds, staff API, portal). "
                                  "Stops cleanly on Ctrl-C or SIGTERM."))
    @config_option
    @click.option("--host", default=None, help=N_("Listen address (default: [server] host)."))
    @click.option("--port", type=int, default=None, help=N_("Port (default: [server] port; 0 picks a free one)."))
    @click.option("--workers", type=click.IntRange(1, 64), default=None,
                  help=N_("Worker processes sharing the port (default: [server] workers, 1)."))
    def serve(config_path: str, host: str | None, port: int | None, workers: int | None) -> None:
        import asyncio
        import socket
        import sys

        from ..server import AuthorityServer, create_app
        from ..server.announce import ANNOUNCER
        from ..server.workers import Supervisor, WorkerInfo, reserve, serve_on

        config = load_config_or_fail(config_path)
        try:
            server = AuthorityServer.from_config(config)
            app = create_app(server, config=config)  # plugins' pages, roles and migrations are checked here
        except OSError as e:  # a key or data file that is missing or unreadable: name it, not errno's number
            fail(_("cannot start the server: {error}", error=f"{e.strerror}: {e.filename}" if e.filename else e))
        except ValueError as e:
            fail(_("cannot start the server: {error}", error=e.args[0] if e.args else e))
        s = server.settings
        count = workers or s.workers
        host = host or s.host
        port = s.port if port is None else port

        def started(bound: tuple[str, int]) -> None:
            url = "http://{}:{}".format(bound[0], bound[1])
            click.echo(text(_("Bluezone authority server on {url} (exports in {folder})",
                              url=url, folder=s.export_dir)))
            # where staff go: the API phones use, and the portal when this deployment mounts it
            click.echo(text(_("  device and staff API: {url}/v1/", url=url)))
            if any(r.canonical.startswith("/portal") for r in app.router.resources()):
                click.echo(text(_("  staff portal:         {url}/portal/", url=url)))

        if count == 1:
            asyncio.run(serve_on(app, None, host, port, s.header_timeout_seconds, started))
            click.echo(text(_("Stopped.")))
            return
        # the parent migrated the database and mirrored the export folder above; each
        # worker opens its own connections after the fork
        server.close()
        app[ANNOUNCER].source.close()
        try:
            sock = reserve(host, port)
        except OSError as e:
            fail(_("cannot start the server: {error}", error=e.strerror or e))

        def worker(sock_: socket.socket, info: WorkerInfo) -> None:
            try:
                own = AuthorityServer.from_config(config)
            except Exception as e:  # one line for the operator; the parent counts the exit
                fail(_("cannot start the server: {error}", error=e.args[0] if e.args else e))
            asyncio.run(serve_on(create_app(own, config=config, worker=info), sock_, host, port,
                                 s.header_timeout_seconds, lambda bound: None))

        address = sock.getsockname()[:2]
        started(address)
        click.echo(text(_n("{n} worker shares this port.", "{n} workers share this port.", count, n=count)))
        code = Supervisor(worker, address, count, lambda line: click.echo(line, err=True), _WorkerMessages).run()
        sock.close()
        click.echo(text(_("Stopped.")))
        sys.exit(code)
