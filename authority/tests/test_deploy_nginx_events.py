"""The front's event-stream cap: Debian's nginx on loopback with the
repository's configuration, in front of a real ``bluezone serve``.

Every open stream costs nginx two connections (the phone's and the one to a
worker). Without a cap of its own, idle streams could take every connection
nginx has, and uploads, code checks and downloads would be refused with them."""

from __future__ import annotations

import json
import socket
import urllib.request

from bluezone_authority.server.process import ServerProcess, free_port, write_province

from .test_deploy_nginx import Nginx, _render_module

STREAMS = 300  # 600 nginx connections, within the test nginx's 1024
CAP = 40


def open_stream(port: int) -> tuple[socket.socket, bytes]:
    """A raw event-stream request through the front; the socket and what came
    with the answer's head (for a refusal, usually its body too)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"GET /v1/feeds/keys/events HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    return s, head


def test_the_front_caps_event_streams_and_answers_the_rest_with_the_servers_json(tmp_path):
    render = _render_module()
    province, front = tmp_path / "province", tmp_path / "front"
    province.mkdir()
    front.mkdir()
    server_port, nginx_port = free_port(), free_port()
    write_province(province, f"http://127.0.0.1:{nginx_port}", server_port,
                   server_extra='trusted_proxies = ["127.0.0.1/32"]\n')
    conf = render.render(render.from_server_config(
        province / "server.toml", listen=f"127.0.0.1:{nginx_port}", events_max=CAP,
        access_log=str(front / "access.log"), error_log=str(front / "error.log")))
    assert f"limit_conn bluezone_events {CAP};" in conf

    with ServerProcess(province / "server.toml", f"http://127.0.0.1:{server_port}", province / "server.log"), \
            Nginx(front, conf, nginx_port):
        streams: list[socket.socket] = []
        heads: list[bytes] = []
        try:
            for _ in range(STREAMS):
                s, head = open_stream(nginx_port)
                streams.append(s)
                heads.append(head)
            statuses = [h.split()[1] for h in heads]
            assert statuses.count(b"200") == CAP and statuses.count(b"503") == STREAMS - CAP, statuses
            refused = next(s for s, h in zip(streams, heads, strict=True) if h.split()[1] == b"503")
            refused_head = heads[streams.index(refused)]
            assert b"Retry-After: 60" in refused_head and b"application/json" in refused_head
            body = refused_head.partition(b"\r\n\r\n")[2]
            while not body.rstrip().endswith(b"}"):
                body += refused.recv(65536)
            error = json.loads(body[body.index(b"{"):body.rindex(b"}") + 1])["error"]
            assert error["code"] == "too_many_listeners" and error["messages"]["vi"].startswith("quá nhiều")
            # the API is still served while the streams are held open
            with urllib.request.urlopen(f"http://127.0.0.1:{nginx_port}/v1/health", timeout=20) as r:
                assert r.status == 200
        finally:
            for s in streams:
                s.close()
