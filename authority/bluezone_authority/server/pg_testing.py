"""Test helper: a throwaway PostgreSQL cluster started from Debian's package.

Why it is built this way: the server's guarantees must be shown on a real
PostgreSQL, not a stand-in, and CI must not depend on a server that someone
else started. So a test session runs ``initdb`` into a temporary directory and
``pg_ctl start`` on a Unix socket only (no TCP port, so parallel lanes never
collide), then hands each test a fresh database. PostgreSQL refuses to run as
root; as root the cluster runs as Debian's ``postgres`` user (``runuser``).

``fsync`` is off: the cluster lives only as long as the test session, and the
crash tests kill the *Bluezone* process, never PostgreSQL, so what a commit
promises to other connections is unchanged.

Not used in production code.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "PostgreSQL is not installed: run `make test-deps` (Debian package postgresql) as root"


def bindir() -> Path:
    """Where initdb/pg_ctl are (Debian keeps them out of PATH); fails loudly if absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(INSTALL_HINT)


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Cluster:
    """One running cluster; :meth:`new_database` gives each test its own database."""

    root: Path
    port: int = 5432
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        out = subprocess.run(_as_owner([str(bindir() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                        "-h", str(self.socket_dir), "-p", str(self.port), "-d", database,
                                        "-c", sql]), capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def new_database(self, prefix: str = "t") -> str:
        """A new empty database's URL."""
        name = f"{prefix}{os.getpid()}_{next(self._counter)}"
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_owner([str(bindir() / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                                  "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb + pg_ctl start in a new temporary directory; raises with the server's log on failure."""
    bins = bindir()
    root = Path(tempfile.mkdtemp(prefix="bluezone-pg-"))
    (root / "sock").mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "sock", "postgres")
    data = root / "data"
    subprocess.run(_as_owner([str(bins / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), check=True, capture_output=True)
    port = 5432 + os.getpid() % 20000  # only names the socket file: no TCP listener
    options = (f"-c listen_addresses='' -c unix_socket_directories={root / 'sock'} -p {port} "
               "-c fsync=off -c full_page_writes=off -c max_connections=200")
    log = root / "server.log"
    started = subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                                        "-w", "-t", "60", "start"]), capture_output=True, text=True)
    if started.returncode != 0:
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {detail}")
    return Cluster(root, port)
