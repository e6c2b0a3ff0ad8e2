"""The ``file`` transport: a published export directory on disk.

The server mirrors every feed into ``export_dir/<feed>/`` (batch files and an
``index.txt``). Copied to a CDN, a mirror or offline media, the same folder
is a feed source: ``file:///media/usb/bluezone``. Download only — uploads
need the authority and raise ``read_only``. The "ETag" is the SHA-256 of the
index, so an unchanged folder costs one small read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bluezone.models import ExposureKey, PublishedBatch
from bluezone.transport import FeedState, TransportError, UploadReceipt, VerifiedCode

from . import wire
from .http import _times


class FileTransport:
    name = "file"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def from_config(cls, url: str, config: Any) -> "FileTransport":
        parts = urlsplit(url)
        return cls(unquote(parts.path) if parts.scheme == "file" else url)

    async def download(self, feed: str, state: FeedState | None = None) -> tuple[list[PublishedBatch], FeedState]:
        state = state or FeedState()
        index = self.root / feed / "index.txt"
        try:
            text = index.read_text("utf-8")
        except FileNotFoundError:
            return [], FeedState(None, [])
        except OSError as e:
            raise TransportError("unreadable", f"cannot read {index}: {e.strerror}") from None
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        if etag == state.etag:
            return [], state
        names = wire.parse_index(text)
        seen = set(state.seen)
        out = []
        for name in names:
            if name in seen:
                continue
            try:
                data = (self.root / feed / name).read_bytes()
            except OSError as e:
                raise TransportError("unreadable", f"index lists {name} but it cannot be read: {e.strerror}") from None
            out.append(PublishedBatch(feed, name, data, *_times(name)))
        return out, FeedState(etag, names)

    def _read_only(self) -> TransportError:
        return TransportError("read_only", "a file transport only downloads; uploads need the authority's URL")

    async def redeem_code(self, code: str) -> VerifiedCode:
        raise self._read_only()

    async def request_certificate(self, token: str, ekeyhmac: bytes) -> str:
        raise self._read_only()

    async def upload_keys(self, keys: list[ExposureKey], certificate: str, hmac_secret: bytes) -> UploadReceipt:
        raise self._read_only()

    async def upload_declaration(self, sealed: bytes) -> str:
        raise self._read_only()

    async def send_decoy(self) -> None:
        return None  # nothing leaves the device, so there is nothing to disguise

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise self._read_only()

    async def close(self) -> None:
        return None
