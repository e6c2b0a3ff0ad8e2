"""The ``file`` transport: a published export directory on disk.

The server mirrors every feed into ``export_dir/<feed>/`` (batch files and an
``index.txt``). Copied to a CDN, a mirror or offline media, the same folder
is a feed source: ``file:///media/usb/bluezone``. Download only — uploads
need the authority and raise ``read_only``. The "ETag" is the SHA-256 of the
index, so an unchanged folder costs one small read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bluezone import DownloadAll, ExposureKey, FeedIndex, PublishedBatch, TransportError, UploadReceipt, VerifiedCode
from bluezone.i18n import _

from . import wire
from .http import MAX_FILE_BYTES, MAX_INDEX_BYTES, _times


class FileTransport(DownloadAll):
    name = "file"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def from_config(cls, url: str, config: Any) -> "FileTransport":
        parts = urlsplit(url)
        return cls(unquote(parts.path) if parts.scheme == "file" else url)

    def _read(self, path: Path, limit: int) -> bytes:
        """The bytes of a regular file, refusing one over ``limit`` before reading it.

        A mirror folder may come from anyone (offline media): a FIFO would
        block ``open()`` and a read forever, a device would stream without
        end. The file is opened without blocking and read only if it is a
        regular file; anything else is an ``OSError`` that the caller
        reports as one unreadable entry."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise TransportError("too_large", str(_("{path} is over {limit} bytes", path=path, limit=limit)))
        return data

    async def fetch_index(self, feed: str, etag: str | None = None) -> FeedIndex | None:
        index = self.root / feed / "index.txt"
        try:
            raw = self._read(index, MAX_INDEX_BYTES)
        except FileNotFoundError:
            return FeedIndex([], None)
        except OSError as e:
            raise TransportError("unreadable", str(_("cannot read {path}: {reason}", path=index,
                                                      reason=e.strerror))) from None
        tag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        if tag == etag:
            return None
        return FeedIndex(wire.parse_index(raw.decode("utf-8", "replace")), tag)

    async def fetch_batch(self, feed: str, name: str) -> PublishedBatch:
        path = self.root / feed / wire.check_batch_name(name)
        try:
            data = self._read(path, MAX_FILE_BYTES)
        except FileNotFoundError:
            raise TransportError("not_found", str(_("index lists {name} but the file is not there", name=name)),
                                 404) from None
        except OSError as e:
            raise TransportError("unreadable", str(_("index lists {name} but it cannot be read: {reason}", name=name,
                                                      reason=e.strerror))) from None
        return PublishedBatch(feed, name, data, *_times(name))

    def _read_only(self) -> TransportError:
        return TransportError("read_only", str(_("a file transport only downloads; uploads need the authority's URL")))

    async def redeem_code(self, code: str) -> VerifiedCode:
        raise self._read_only()

    async def request_certificate(self, token: str, ekeyhmac: bytes) -> str:
        raise self._read_only()

    async def upload_keys(self, keys: list[ExposureKey], certificate: str, hmac_secret: bytes,
                          revision_token: str = "", share_beyond_province: bool = False) -> UploadReceipt:
        raise self._read_only()

    async def upload_declaration(self, sealed: bytes) -> str:
        raise self._read_only()

    async def send_decoy(self, kind: str = "report") -> None:
        return None  # nothing leaves the device, so there is nothing to disguise

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise self._read_only()

    async def close(self) -> None:
        return None
