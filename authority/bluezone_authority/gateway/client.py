"""The province's HTTP client for the gateway: mutual TLS with its client certificate."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import certs
from .app import TAG
from .encoding import PROVINCE
from .province import FederationSettings

#: The largest batch the importer reads (the gateway's own upload limit by default):
#: a hostile gateway must not make a province read an endless body.
MAX_BATCH_BYTES = 64 * 1024 * 1024
#: The largest error answer read. An error object is a few hundred bytes; the
#: biggest honest one is a ``duplicate_keys`` answer naming every key of a batch
#: (``encoding.MAX_KEYS`` positions of at most 6 digits and ", ": under 4 MiB).
#: A hostile gateway must not make a province hold an endless error body.
MAX_ERROR_BYTES = 8 * 1024 * 1024
#: What a gateway's error code looks like. Anything else (markup, terminal
#: escapes, a megabyte of text) is not trusted: it would be stored as the
#: round's error, shown to staff and written to the log.
ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: How much of a gateway's error message reaches the log.
MAX_MESSAGE_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class GatewayError(Exception):
    """The gateway refused or could not be reached; ``code`` is its error code or ``unreachable``."""

    def __init__(self, code: str, message: str, status: int = 0, detail: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status
        #: the other fields of the gateway's error object, as sent (check before use)
        self.detail = detail or {}


@dataclass(frozen=True)
class Downloaded:
    tag: str
    origin: str
    signature: bytes
    data: bytes
    next_tag: str | None


class GatewayClient:
    def __init__(self, settings: FederationSettings, timeout: float = 60.0,
                 max_batch_bytes: int = MAX_BATCH_BYTES):
        self.max_batch_bytes = max_batch_bytes
        self.url = settings.gateway_url.rstrip("/")
        self.ssl = certs.client_context(settings.ca, settings.client_cert, settings.client_key)
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def close(self) -> None:
        await self.session.close()

    async def _error(self, resp: aiohttp.ClientResponse) -> GatewayError:
        """The gateway's error object, read with care: a body past
        :data:`MAX_ERROR_BYTES`, JSON nested too deep for the parser, or a code
        that is not a plain code is ``http_error``; the message loses control
        characters (one log line, no terminal escapes) and is cut short."""
        fallback = GatewayError("http_error", f"HTTP {resp.status}", resp.status)
        try:
            raw = bytearray()
            async for chunk in resp.content.iter_chunked(65536):
                raw += chunk
                if len(raw) > MAX_ERROR_BYTES:
                    resp.close()  # the connection is dropped, not drained or kept for another request
                    return fallback
            body: Any = json.loads(bytes(raw))
            err = body["error"]
            code = err["code"]
            if not isinstance(code, str) or not ERROR_CODE.fullmatch(code):
                return fallback
            message = _CONTROL.sub(" ", str(err["message"]))[:MAX_MESSAGE_CHARS]
            return GatewayError(code, message, resp.status, dict(err))
        except (ValueError, KeyError, TypeError, RecursionError, aiohttp.ClientError):
            return fallback

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body, refused as soon as it passes ``max_batch_bytes`` (announced or not)."""
        too_large = GatewayError("answer_too_large", f"the gateway sent more than {self.max_batch_bytes} bytes")
        if (resp.content_length or 0) > self.max_batch_bytes:
            raise too_large
        body = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            body += chunk
            if len(body) > self.max_batch_bytes:
                raise too_large
        return bytes(body)

    async def upload(self, tag: str, data: bytes, signature: bytes) -> bool:
        """True when stored now, False when the gateway already had these bytes under this tag."""
        headers = {"batchTag": tag, "batchSignature": base64.b64encode(signature).decode(),
                   "Content-Type": "application/octet-stream"}
        try:
            async with self.session.post(f"{self.url}/v1/batches/upload", data=data, headers=headers,
                                         ssl=self.ssl) as resp:
                if resp.status == 201:
                    return True
                err = await self._error(resp)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise GatewayError("unreachable", str(e) or type(e).__name__) from None
        if err.code == "batch_already_stored":
            return False
        raise err

    async def download(self, date: str, after: str | None) -> Downloaded | None:
        params = {"after": after} if after else {}
        try:
            async with self.session.get(f"{self.url}/v1/batches/download/{date}", params=params,
                                        ssl=self.ssl) as resp:
                if resp.status == 200:
                    h = resp.headers
                    try:
                        signature = base64.b64decode(h.get("batchSignature", ""), validate=True)
                    except (binascii.Error, ValueError):
                        signature = b""
                    tag, origin, next_tag = h.get("batchTag", ""), h.get("origin", ""), h.get("nextBatchTag")
                    if not TAG.fullmatch(tag) or not PROVINCE.fullmatch(origin) or (next_tag and not TAG.fullmatch(next_tag)):
                        raise GatewayError("malformed_answer", "the gateway sent a malformed batchTag or origin")
                    return Downloaded(tag, origin, signature, await self._read(resp), next_tag)
                err = await self._error(resp)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise GatewayError("unreachable", str(e) or type(e).__name__) from None
        if err.code == "no_batch":
            return None
        raise err
