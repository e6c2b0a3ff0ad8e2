"""The ``http``/``https`` transport: an aiohttp client for the authority server.

Why it is built this way:
* **Incremental sync**: the feed index is fetched with ``If-None-Match``; an
  unchanged feed costs one ``304``. Only batch names not yet seen are
  downloaded, so a device downloads each file once.
* **Retries with backoff**: network errors, ``429`` and ``5xx`` are retried
  ``retries`` times with exponential backoff and jitter (honouring
  ``Retry-After``, capped); ``4xx`` answers are final and raised at once.
  A connection that cannot be made at all (refused, no route, a name that
  does not resolve, a certificate refused) is final too: the phone is
  offline or the address is wrong, and waiting would only keep the person
  in silence (a ``network`` error at once, which the command turns into
  what to do).
* **Whole bodies, capped**: an answer is read to its end in chunks with a
  running total (``MAX_FILE_BYTES`` for batches, ``MAX_INDEX_BYTES`` for an
  index); a larger one is refused as ``too_large`` without reading the rest.
  A body cut short against its ``Content-Length`` is a network error and is
  retried.
* **Timeouts** per step, not per request: connecting and every read must
  make progress within ``timeout_seconds``, so a stalled server is given up
  on while a large batch over a slow mobile link still completes.
* **One file at a time**: :meth:`fetch_index` then :meth:`fetch_batch` per
  name; the sync processes each batch before fetching the next.
* **Padding and one header set**: every POST body is padded to whole 8 KiB
  blocks and carries ``X-Chaff: 0`` (real) or ``X-Chaff: 1`` (decoy), so real
  requests and decoys have the same headers and the same sizes.
* **Decoys walk the real path**: a decoy report is a verify, a certificate
  and a publish request in that order, like a real report; a decoy
  declaration is one declaration request.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from bluezone import (
    DownloadAll,
    ExposureKey,
    FeedIndex,
    PublishedBatch,
    TransportError,
    UploadReceipt,
    VerifiedCode,
    build_settings,
    pad_body,
)
from bluezone.i18n import _

from . import wire

MAX_INDEX_BYTES = 1 << 20
MAX_FILE_BYTES = 64 << 20
READ_CHUNK = 64 << 10


class HttpTransport(DownloadAll):
    name = "http"

    def __init__(self, url: str, *, download_url: str | None = None, timeout: float = 30, retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 30, session: aiohttp.ClientSession | None = None,
                 max_file_bytes: int = MAX_FILE_BYTES):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TransportError("bad_url", str(_("not an http(s) URL: {url!r}", url=url)))
        self.url = url.rstrip("/")
        self.download_url = (download_url or f"{self.url}/v1/feeds").rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_file_bytes = max_file_bytes
        self._session = session
        self._own_session = session is None
        self.stats = {"requests": 0, "retries": 0, "not_modified": 0}

    @classmethod
    def from_config(cls, url: str, config: Any) -> "HttpTransport":
        from . import TransportSettings

        t = config.typed(TransportSettings) if config is not None else build_settings(TransportSettings, {})
        return cls(url, download_url=t.download_url, timeout=t.timeout_seconds, retries=t.retries,
                   backoff=t.backoff_seconds, max_backoff=t.max_backoff_seconds)

    async def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers={"User-Agent": "bluezone"})
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> "HttpTransport":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.max_backoff)
        return min(self.max_backoff, self.backoff * (2 ** attempt)) * (0.5 + random.random() / 2)

    async def _request(self, method: str, url: str, *, data: bytes | None = None,
                       headers: dict[str, str] | None = None, limit: int = MAX_FILE_BYTES,
                       ) -> tuple[int, Mapping[str, str], bytes]:
        """One request with retries; returns (status, headers, body) for any final answer."""
        session = await self._sess()
        attempt = 0
        while True:
            self.stats["requests"] += 1
            retry_after = None
            try:
                async with session.request(method, url, data=data, headers=headers) as resp:
                    body = await _read_capped(resp, url, limit)
                    if resp.status < 500 and resp.status != 429:
                        return resp.status, resp.headers.copy(), body
                    retry_after = resp.headers.get("Retry-After")
                    last = wire.error_from(resp.status, _json_or_none(body))
            except aiohttp.ClientConnectorError as e:  # nothing answered: retrying will not change that now
                raise TransportError("network", f"{method} {url}: {e.__class__.__name__} {e}",
                                     retryable=True) from None  # later, yes (a sync, a declaration queue)
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as e:
                last = TransportError("network", f"{method} {url}: {e.__class__.__name__} {e}", retryable=True)
            if attempt >= self.retries:
                raise last
            self.stats["retries"] += 1
            await asyncio.sleep(self._delay(attempt, retry_after))
            attempt += 1

    async def _post(self, path: str, body: dict[str, Any], chaff: bool = False) -> dict[str, Any]:
        # the header is on every request, real ones too, so its presence tells nothing
        headers = {"Content-Type": "application/json", "X-Chaff": "1" if chaff else "0"}
        status, _headers, raw = await self._request("POST", f"{self.url}{path}", data=pad_body(body), headers=headers)
        data = _json_or_none(raw)
        if status >= 400:
            raise wire.error_from(status, data)
        if not isinstance(data, dict):
            raise TransportError("bad_response", str(_("{path} did not answer a JSON object", path=path)), status)
        return data

    # -- the Transport protocol ---------------------------------------------------------

    async def fetch_index(self, feed: str, etag: str | None = None) -> FeedIndex | None:
        headers = {"If-None-Match": etag} if etag else {}
        status, resp_headers, raw = await self._request("GET", f"{self.download_url}/{feed}/index.txt",
                                                        headers=headers, limit=MAX_INDEX_BYTES)
        if status == 304:
            self.stats["not_modified"] += 1
            return None
        if status == 404:
            return FeedIndex([], None)
        if status != 200:
            raise wire.error_from(status, _json_or_none(raw))
        return FeedIndex(wire.parse_index(raw.decode("utf-8", "replace")), resp_headers.get("ETag"))

    async def fetch_batch(self, feed: str, name: str) -> PublishedBatch:
        wire.check_batch_name(name)
        status, _headers, data = await self._request("GET", f"{self.download_url}/{feed}/{name}", limit=self.max_file_bytes)
        if status != 200:
            raise wire.error_from(status, _json_or_none(data))
        return PublishedBatch(feed, name, data, *_times(name))

    async def events(self, feed: str, last_event_id: str | None = None,
                     idle_seconds: float = 90) -> AsyncIterator[tuple[str, str] | None]:
        """The feed's announcements (``GET /v1/feeds/{feed}/events`` on the API
        host, never the download mirror: a CDN does not stream).

        Yields ``None`` once the stream is open, then ``(id, data)`` per event
        (id = batch number, data = batch name). Ends by raising
        :class:`TransportError`: ``no_events`` when the server has no such
        route (404, or an answer that is not an event stream), ``network``
        when the connection fails, drops, or stays silent — not even a
        heartbeat — for ``idle_seconds``."""
        session = await self._sess()
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        url = f"{self.url}/v1/feeds/{feed}/events"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout.sock_connect, sock_read=idle_seconds)
        self.stats["requests"] += 1
        try:
            async with session.get(url, headers=headers, timeout=timeout) as resp:
                if resp.status == 404 or (resp.status == 200 and resp.content_type != "text/event-stream"):
                    raise TransportError("no_events", str(_("{url} does not announce batches", url=url)), resp.status)
                if resp.status != 200:
                    raise TransportError("network", f"GET {url}: HTTP {resp.status}", resp.status, retryable=True)
                yield None
                async for item in sse_events(resp.content):
                    yield item
        # HttpProcessingError: aiohttp's readline raises LineTooLong (past 512 KiB with no newline)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, ValueError, HttpProcessingError) as e:
            raise TransportError("network", f"GET {url}: {e.__class__.__name__} {str(e)[:200]}", retryable=True) from None
        raise TransportError("network", f"GET {url}: the stream ended", retryable=True)

    async def redeem_code(self, code: str) -> VerifiedCode:
        return wire.parse_verified(await self._post("/v1/verify", wire.verify_body(code)))

    async def request_certificate(self, token: str, ekeyhmac: bytes) -> str:
        data = await self._post("/v1/certificate", wire.certificate_body(token, ekeyhmac))
        return str(data.get("certificate", ""))

    async def upload_keys(self, keys: list[ExposureKey], certificate: str, hmac_secret: bytes,
                          revision_token: str = "", share_beyond_province: bool = False) -> UploadReceipt:
        body = wire.publish_body(keys, certificate, hmac_secret, revision_token, share_beyond_province)
        return wire.parse_receipt(await self._post("/v1/publish", body))

    async def upload_declaration(self, sealed: bytes) -> str:
        return str((await self._post("/v1/declarations", wire.declaration_body(sealed)))["receipt"])

    async def send_decoy(self, kind: str = "report") -> None:
        for path, body in wire.decoy_steps(kind):
            await self._post(path, body, chaff=True)

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not path.startswith("/"):
            raise TransportError("bad_path", "paths start with '/'")
        return await self._post(path, body)


async def _read_capped(resp: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
    """The whole answer body, read to its end; ``too_large`` past ``limit``.

    ``resp.content.read(n)`` would return only what is buffered so far (about
    64 KiB), which is why large batches once arrived truncated."""
    if resp.content_length is not None and resp.content_length > limit:
        raise TransportError("too_large", str(_("{url} announces {size} bytes, over {limit}", url=url,
                                             size=resp.content_length, limit=limit)), resp.status)
    body = bytearray()
    async for chunk in resp.content.iter_chunked(READ_CHUNK):
        body += chunk
        if len(body) > limit:
            raise TransportError("too_large", str(_("{url} answered more than {limit} bytes", url=url, limit=limit)),
                                 resp.status)
    return bytes(body)


#: The longest event line accepted (a batch name is about 30 bytes).
MAX_EVENT_LINE = 4096
#: The most ``data`` bytes one event may gather over its lines: without it, a
#: server that never ends an event (no blank line) is buffered without bound.
MAX_EVENT_DATA = 4096


async def sse_events(stream: aiohttp.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """``(id, data)`` per event of a ``text/event-stream`` body (the WHATWG
    rules this client needs: ``id`` and ``data`` fields, comment lines,
    a blank line ends an event). A line over :data:`MAX_EVENT_LINE` is a
    broken stream (ValueError), and so is an event whose data lines add up to
    more than :data:`MAX_EVENT_DATA`."""
    event_id = ""
    data: list[str] = []
    size = 0
    while True:
        raw = await stream.readline()
        if not raw:
            return
        if len(raw) > MAX_EVENT_LINE:
            raise ValueError("event line too long")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                yield event_id, "\n".join(data)
            data, size = [], 0
            continue
        if line.startswith(":"):
            continue  # heartbeat
        name, _sep, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id" and "\0" not in value:
            event_id = value
        elif name == "data":
            size += len(value) + 1
            if size > MAX_EVENT_DATA:
                raise ValueError("event too long")
            data.append(value)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _times(name: str) -> tuple[int, int]:
    parts = name[:-4].split("-")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return 0, 0
