"""A real authority server with the check-in plugin's routes on 127.0.0.1,
a settable clock and a venue whose owner can produce real pre-traces."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import nacl.public
from aiohttp.test_utils import TestServer

from bluezone.config import load_config
from bluezone_authority.server import AuthorityServer, create_app
from bluezone_qr_checkin import tracing
from bluezone_qr_checkin import venue as vmod
from bluezone_qr_checkin.proto import crowdnotifier_pb2 as pb
from bluezone_qr_checkin.server_routes import WORKERS

from qr_helpers import Clock

VENUE = "Quán cà phê Phố Núi"

#: The ``[server] database`` of servers started here: None for a SQLite file
#: in the test's folder, or a PostgreSQL URL (set by the ``server_database`` fixture).
DATABASE: str | None = None


def write_config(path: Path, url: str, ha: nacl.public.PrivateKey, server: str = "", qr: str = "",
                 authority: str = "") -> Path:
    (path.parent / "ha.key").write_text(base64.b64encode(bytes(ha)).decode())
    path.write_text(f"""
[deployment]
name = "Gia Lai"
region = "452"

[authority]
url = "{url}"
{authority}

{server}

[qr_checkin]
authority_public_key = "{base64.b64encode(bytes(ha.public_key)).decode()}"
authority_secret_key_file = "ha.key"
{qr}
""")
    return path


@dataclass
class VenueServer:
    server: AuthorityServer
    http: TestServer
    clock: Clock
    ha: nacl.public.PrivateKey
    staff: str
    code: pb.QRCodeTrace
    config: Any
    dir: Path

    @property
    def url(self) -> str:
        return str(self.http.make_url("")).rstrip("/")

    @property
    def workers(self):
        return self.http.app[WORKERS]

    def now(self) -> int:
        return int(self.clock())

    async def token(self, **meta: Any) -> str:
        """A one-time token from the plugin's staff route (``meta``: venue, from, to, notice)."""
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{self.url}/v1/authority/venue-traces/tokens", json=meta,
                              headers={"Authorization": f"Bearer {self.staff}"}) as resp:
                assert resp.status == 201, await resp.text()
                return (await resp.json())["token"]

    def pretraces(self, start: int, end: int, keep: int | None = None) -> str:
        """The owner's pre-traces (base64) for a window; ``keep``: only the first hours.

        Bodies stay under ~40 KB (48 hours) in these tests: the server's body
        reader is being reworked for bodies split across TCP reads (issue 17
        item 2), which is not what these tests are about."""
        upload = tracing.owner_pretraces(self.code, start, end)
        if keep is not None:
            del upload.preTraces[keep:]
        return base64.b64encode(upload.SerializeToString()).decode()

    def token_spent(self, token: str) -> bool:
        from bluezone_authority.server import staff

        row = self.server.db.one("SELECT used_at FROM one_time_tokens WHERE token_hash = ?",
                                 (staff.token_hash(token),))
        return row is not None and row[0] is not None

    def batches(self) -> list[str]:
        return [r[0] for r in self.server.db.all("SELECT name FROM batches WHERE feed = 'venue-traces'")]


async def start(tmp: Path, *, qr: str = "", max_body: int = 1 << 20) -> VenueServer:
    ha = nacl.public.PrivateKey.generate()
    d = tmp / "server"
    d.mkdir()
    cfg = write_config(d / "server.toml", "http://127.0.0.1:1", ha,
                       f'[server]\ndatabase = "{DATABASE or "server.db"}"\nexport_dir = "exports"\nsecrets_file = "secrets.json"\n'
                       f"max_body_bytes = {max_body}", qr)
    config = load_config(str(cfg))
    clock = Clock(int(time.time()))
    server = AuthorityServer.from_config(config, clock=clock)
    _, staff = server.create_staff_token("venue desk", "venue-tracer")
    http = TestServer(create_app(server, config=config, background=False), host="127.0.0.1")
    await http.start_server()
    created = vmod.create_venue(vmod.VenueSpec(VENUE, "Pleiku"), bytes(ha.public_key), now=clock.t - 30 * 86_400)
    code = pb.QRCodeTrace()
    code.ParseFromString(created.tracing_code)
    return VenueServer(server, http, clock, ha, staff, code, config, tmp)
