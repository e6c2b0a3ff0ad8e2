"""``bluezone serve --workers N``: N worker processes behind one port.

Why this shape: the server's work per request is Python (JSON, HMACs,
signatures), so one process uses one core. The parent reserves the port (a
bound socket with ``SO_REUSEPORT`` that never listens) and forks N children;
each child listens on its own ``SO_REUSEPORT`` socket on that port, and the
kernel spreads new connections over the listening sockets by a hash of the
client's address and port. One shared listening socket was tried first:
under a burst the first worker to wake accepted every waiting connection and
the other stayed idle. No second port and no proxy are needed. The cost: the
connections waiting in a worker's queue when it dies are reset (clients
retry), and it is Linux (3.9+) behaviour.

What is shared, and how (docs/server.md, "Several workers"):

* rate limits and the verify bound: counted in the database
  (:mod:`.shared_limits`) under one HMAC key the parent makes at start and
  never writes down;
* exports and the export folder: one writer at a time (:mod:`.coordination`);
* the schedule (exports, retention): worker 0 only;
* new batches: every worker's :class:`~.announce.Announcer` watches the
  database, so a listener on any worker hears of a batch any worker built;
* portal sessions: rows of the database already, valid on every worker.

The parent only supervises: a worker that dies is restarted; if workers die
more than :data:`MAX_RESTARTS` times within a minute the whole server stops
with exit code 1 and says why, rather than restart forever. SIGTERM or
SIGINT (Ctrl-C) stops the workers (each finishes its requests) and then the
parent.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: Restarts allowed within :data:`RESTART_WINDOW` seconds before the server gives up.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
#: Set (to anything) in tests only: every answer names its worker's pid in
#: ``X-Bluezone-Worker``, so a test can see requests were spread over workers.
HEADER_ENV = "BLUEZONE_WORKER_HEADER"


@dataclass(frozen=True)
class WorkerInfo:
    """This process's place among the workers (passed to :func:`~.app.create_app`)."""

    index: int
    count: int
    key: bytes = field(repr=False)  # the rate limiter's HMAC key, the same in every worker
    header: bool = False


def worker_header(worker: WorkerInfo) -> Any:
    """``on_response_prepare`` handler adding ``X-Bluezone-Worker: <pid>``
    (tests only, see :data:`HEADER_ENV`); a signal, not a middleware, so
    streamed answers (the event stream) carry it too."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Bluezone-Worker"] = str(os.getpid())

    return add


def _socket(host: str, port: int, reuse: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not hold the port
    if reuse:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def reserve(host: str, port: int) -> socket.socket:
    """The parent's claim on ``host:port`` (0 picks a free port): bound, never listening.

    A plain bind first: ``SO_REUSEPORT`` alone would let this server share a
    port with another server of the same user instead of failing (OSError)."""
    with _socket(host, port, reuse=False) as probe:
        port = probe.getsockname()[1]
    return _socket(host, port)


def listen(host: str, port: int) -> socket.socket:
    """A worker's own listening socket on the reserved port."""
    sock = _socket(host, port)
    sock.listen(1024)
    return sock


#: What a worker runs: (its listening socket, its WorkerInfo); returns when stopped.
WorkerMain = Callable[[socket.socket, WorkerInfo], None]


def _child(main: WorkerMain, address: tuple[str, int], info: WorkerInfo) -> None:
    # the parent's Python-level handlers were copied by fork; a worker stops on its own signals
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    main(listen(*address), info)


@dataclass
class Supervisor:
    """Starts, watches and stops the workers (the parent process)."""

    main: WorkerMain
    address: tuple[str, int]  # the reserved port
    count: int
    say: Callable[[str], None]
    messages: Any  # .died(index, pid, code) / .giving_up(n) -> str, in the operator's language
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    header: bool = field(default_factory=lambda: bool(os.environ.get(HEADER_ENV)))
    procs: dict[int, Any] = field(default_factory=dict)
    deaths: list[float] = field(default_factory=list)
    _stop: bool = False

    def _start(self, index: int) -> None:
        ctx = multiprocessing.get_context("fork")
        info = WorkerInfo(index, self.count, self.key, self.header)
        proc = ctx.Process(target=_child, args=(self.main, self.address, info), name=f"bluezone-worker-{index}")
        proc.start()
        self.procs[index] = proc

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop = True

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (0) or until workers keep dying (1)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for i in range(self.count):
            self._start(i)
        code = 0
        while not self._stop:
            time.sleep(0.2)
            for index, proc in list(self.procs.items()):
                if proc.is_alive() or self._stop:
                    continue
                now = time.monotonic()
                self.deaths = [t for t in self.deaths if now - t < RESTART_WINDOW] + [now]
                self.say(self.messages.died(index, proc.pid, proc.exitcode))
                if len(self.deaths) > MAX_RESTARTS:
                    self.say(self.messages.giving_up(len(self.deaths)))
                    self._stop, code = True, 1
                    break
                self._start(index)
        self.stop()
        return code

    def stop(self, timeout: float = 30.0) -> None:
        for proc in self.procs.values():
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()


async def serve_on(app: web.Application, sock: socket.socket | None, host: str, port: int,
                   header_timeout: float, started: Callable[[tuple[str, int]], None]) -> None:
    """Run ``app`` until SIGTERM/SIGINT: on ``sock`` (a worker) or on a new
    socket bound to ``host:port`` (one process)."""
    # access_log=None and the address-free error line: the server keeps no
    # log of client addresses (docs/privacy.md rule 2)
    from . import serverlog

    serverlog.install()
    # keepalive_timeout is also the header deadline: aiohttp closes a
    # connection that has not completed a request this long after it
    # opened or after its last answer (authority/bluezone_authority/server/timeouts.py)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=header_timeout)
    await runner.setup()
    site: web.BaseSite = web.SockSite(runner, sock) if sock is not None else web.TCPSite(runner, host, port)
    await site.start()
    started(runner.addresses[0])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    sys.stdout.flush()


__all__ = ["HEADER_ENV", "Supervisor", "WorkerInfo", "listen", "reserve", "serve_on", "worker_header"]
