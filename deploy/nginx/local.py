"""Run Debian's nginx in the foreground on a rendered ``bluezone.conf``, in a
folder of its own: what the front's test and benchmark start.

Why a wrapper file: ``bluezone.conf`` is an http-level include, as a real
host uses it (Debian's ``conf.d``); the few process-level lines a private
instance needs (pid file, temp folders, foreground) are written here, so
the configuration under test is exactly the deployed one. Standard library
only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class NginxMissing(RuntimeError):
    """nginx is not installed."""


def nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not path:
        raise NginxMissing("nginx is not installed: run 'make test-deps' (as root) to install Debian's nginx")
    return path


class LocalNginx:
    """``with LocalNginx(folder, site_conf, port):`` nginx answering on 127.0.0.1:port."""

    def __init__(self, folder: Path, site_conf: str, port: int, workers: int = 1):
        self.folder, self.port = Path(folder), port
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "bluezone.conf").write_text(site_conf)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the (0700) temp folders
        temp = "\n".join(f"  {k}_temp_path {self.folder}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (self.folder / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes {workers};\npid {self.folder}/nginx.pid;\n"
            f"error_log {self.folder}/main-error.log crit;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n{temp}\n  include {self.folder}/bluezone.conf;\n}}\n")
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LocalNginx":
        args = [nginx_binary(), "-e", str(self.folder / "startup.log"), "-p", str(self.folder),
                "-c", str(self.folder / "nginx.conf")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused the configuration: {check.stderr.strip()}")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.folder / 'startup.log').read_text(errors='replace')}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/feeds/", timeout=2)
            except urllib.error.HTTPError:
                return self  # any HTTP answer: nginx is listening
            except OSError:
                time.sleep(0.1)
                continue
            return self
        self.__exit__()
        raise RuntimeError("nginx did not answer within 20 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def logs(self) -> dict[str, str]:
        """Every log file nginx wrote in its folder, by name."""
        return {p.name: p.read_text(errors="replace") for p in self.folder.glob("*.log")}
