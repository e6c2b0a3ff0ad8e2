"""The ``loopback`` transport: an authority server in the same process.

``register_loopback("name", server)`` makes ``loopback://name`` reach that
:class:`bluezone_authority.server.AuthorityServer`. Calls go through the same service
methods the HTTP handlers use, with bodies round-tripped through padded JSON,
so validation, errors and storage are identical; only the socket is missing.
Used by tests and demos of other parts (sync, check-in, declarations).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from bluezone import (
    DownloadAll,
    ExposureKey,
    FeedIndex,
    PublishedBatch,
    TransportError,
    UploadReceipt,
    VerifiedCode,
    hookimpl,
    pad_body,
)
from bluezone.transports import wire
from bluezone.transports.http import _times

_SERVERS: dict[str, Any] = {}


def register_loopback(name: str, server: Any) -> str:
    """Make ``server`` reachable as ``loopback://name``; returns the URL."""
    _SERVERS[name] = server
    return f"loopback://{name}"


def unregister_loopback(name: str) -> None:
    _SERVERS.pop(name, None)


class LoopbackTransport(DownloadAll):
    name = "loopback"

    def __init__(self, server: Any):
        self.server = server
        self.routes: dict[str, Any] = {}  # path -> callable(dict) -> dict, for plugin endpoints

    @classmethod
    def from_config(cls, url: str, config: Any) -> "LoopbackTransport":
        name = urlsplit(url).netloc
        if name not in _SERVERS:
            raise TransportError("unknown_server", f"no loopback server registered as {name!r}")
        return cls(_SERVERS[name])

    def _call(self, method: Any, body: dict[str, Any]) -> dict[str, Any]:
        from .server import ApiError

        decoded = json.loads(pad_body(body))
        decoded.pop("padding", None)
        try:
            return method(decoded)
        except ApiError as err:
            raise TransportError(err.code, err.text("en"), err.status) from None  # as the HTTP transport reads "message"

    async def fetch_index(self, feed: str, etag: str | None = None) -> FeedIndex | None:
        text, tag = self.server.feed_index(feed)
        return None if tag == etag else FeedIndex(wire.parse_index(text), tag)

    async def fetch_batch(self, feed: str, name: str) -> PublishedBatch:
        data = self.server.feed_file(feed, wire.check_batch_name(name))
        if data is None:
            raise TransportError("not_found", f"no batch {feed}/{name}", 404)
        return PublishedBatch(feed, name, data, *_times(name))

    async def redeem_code(self, code: str) -> VerifiedCode:
        return wire.parse_verified(self._call(self.server.verify, wire.verify_body(code)))

    async def request_certificate(self, token: str, ekeyhmac: bytes) -> str:
        return self._call(self.server.certificate, wire.certificate_body(token, ekeyhmac))["certificate"]

    async def upload_keys(self, keys: list[ExposureKey], certificate: str, hmac_secret: bytes,
                          revision_token: str = "", share_beyond_province: bool = False) -> UploadReceipt:
        body = wire.publish_body(keys, certificate, hmac_secret, revision_token, share_beyond_province)
        return wire.parse_receipt(self._call(self.server.publish, body))

    async def upload_declaration(self, sealed: bytes) -> str:
        return self._call(self.server.accept_declaration, wire.declaration_body(sealed))["receipt"]

    async def send_decoy(self, kind: str = "report") -> None:
        for _, body in wire.decoy_steps(kind):  # built like a real one, then dropped, as the server would
            pad_body(body)

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path not in self.routes:
            raise TransportError("not_found", f"no loopback route for {path}; add it to transport.routes", 404)
        return self._call(self.routes[path], body)

    async def close(self) -> None:
        return None


@hookimpl
def bluezone_transports() -> dict[str, Any]:
    """``loopback://NAME``: offered only where the authority is installed."""
    return {"loopback": LoopbackTransport.from_config}
