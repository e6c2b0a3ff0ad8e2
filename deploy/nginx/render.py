"""Render ``bluezone.conf.in`` into an nginx configuration.

    python deploy/nginx/render.py --server-config /etc/bluezone/server.toml \\
        --listen 80 --workers 127.0.0.1:8452 > /etc/nginx/conf.d/bluezone.conf

Why a renderer and not a hand-edited file: the body limit and the export
folder must be the server's own (``[server] max_body_bytes`` and
``export_dir``), so they are read from the server's TOML rather than copied
by hand and left to drift. Standard library only, so it runs on a bare host.
``bluezone.conf`` next to this file is the output for the defaults below.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "bluezone.conf.in"
#: [server] max_body_bytes when the TOML does not set it (the server's schema default).
DEFAULT_MAX_BODY = 65536
#: Event streams let through by default (more get the server's 503 too_many_listeners).
DEFAULT_EVENTS_MAX = 10000
#: [server] declaration_max_bytes when the TOML does not set it (the server's schema default).
DEFAULT_DECLARATION_MAX = 49152
#: bluezone.transport.PAD_BLOCK: phones pad every request body to whole blocks of this size.
PAD_BLOCK = 8192


def declaration_body(declaration_max_bytes: int, max_body: int) -> int:
    """The request size the server lets ``POST /v1/declarations`` reach (the
    same rule as ``bluezone_authority.server.app.declaration_body_limit``, kept
    here so the renderer needs only the standard library; a test compares
    the two): base64 of the sealed declaration, the JSON around it, padded."""
    need = 4 * -(-declaration_max_bytes // 3) + 1024
    return max(max_body, -(-need // PAD_BLOCK) * PAD_BLOCK)


@dataclass(frozen=True)
class Front:
    """What varies between deployments of the front."""

    listen: str = "80"
    server_name: str = "_"
    workers: tuple[str, ...] = ("127.0.0.1:8452",)
    export_dir: str = "/var/lib/bluezone/exports"
    max_body: int = DEFAULT_MAX_BODY
    #: [server] declaration_max_bytes: declarations alone may be larger than max_body
    declaration_max: int = DEFAULT_DECLARATION_MAX
    access_log: str = "/var/log/nginx/bluezone.access.log"
    error_log: str = "/var/log/nginx/bluezone.error.log"
    #: open event streams nginx lets through, all phones together: each one
    #: holds two nginx connections, so keep it well under
    #: worker_processes × worker_connections / 2 (docs/deploy.md)
    events_max: int = DEFAULT_EVENTS_MAX


def render(front: Front, template: str | None = None) -> str:
    """The configuration text; fails on a placeholder left unfilled."""
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    values = {
        "LISTEN": front.listen,
        "SERVER_NAME": front.server_name,
        "UPSTREAM_SERVERS": "\n    ".join(f"server {w};" for w in front.workers),
        "EXPORT_DIR": front.export_dir.rstrip("/"),
        "MAX_BODY": str(int(front.max_body)),
        "ACCESS_LOG": front.access_log,
        "ERROR_LOG": front.error_log,
        "EVENTS_MAX": str(int(front.events_max)),
        "DECLARATION_BODY": str(declaration_body(int(front.declaration_max), int(front.max_body))),
    }
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"unfilled placeholders in the template: {', '.join(sorted(set(left)))}")
    return text


def from_server_config(path: Path, **overrides: object) -> Front:
    """A front for the server configured by ``path``: its export folder
    (relative paths are relative to the TOML, as the server reads them) and
    its body limit."""
    data = tomllib.loads(path.read_text(encoding="utf-8")).get("server", {})
    export_dir = Path(data.get("export_dir", "exports"))
    if not export_dir.is_absolute():
        export_dir = path.resolve().parent / export_dir
    port = int(data.get("port", 8452))
    base = {"export_dir": str(export_dir), "max_body": int(data.get("max_body_bytes", DEFAULT_MAX_BODY)),
            "declaration_max": int(data.get("declaration_max_bytes", DEFAULT_DECLARATION_MAX)),
            "workers": (f"127.0.0.1:{port}",)}
    base.update({k: v for k, v in overrides.items() if v is not None})
    return Front(**base)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-config", type=Path, help="the server's TOML (export_dir, max_body_bytes, port)")
    parser.add_argument("--listen", help="nginx listen argument, e.g. 80 or 127.0.0.1:8080")
    parser.add_argument("--server-name")
    parser.add_argument("--workers", nargs="+", help="host:port of each server worker")
    parser.add_argument("--access-log")
    parser.add_argument("--error-log")
    parser.add_argument("--events-max", type=int, help="open event streams let through, all phones together")
    args = parser.parse_args(argv)
    overrides = {"listen": args.listen, "server_name": args.server_name,
                 "workers": tuple(args.workers) if args.workers else None,
                 "access_log": args.access_log, "error_log": args.error_log, "events_max": args.events_max}
    if args.server_config:
        front = from_server_config(args.server_config, **overrides)
    else:
        front = Front(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    sys.stdout.write(render(front))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
