"""The transport contract: how a device talks to its health authority.

A transport carries data both ways: it downloads published batches of a
feed (``"keys"``, ``"venue-traces"``, ...) and uploads what a person chooses
to send (keys with an authority code, sealed declarations, decoys). The core
only knows this protocol; the implementations (``http``/``https``, ``file``,
``loopback``) live in the ``bluezone-transport`` plugin and are offered by
scheme through the ``bluezone_transports`` hook, so the core never imports a
plugin by name.

Why a protocol and not a base class: plugins can implement it with any
object; :func:`check_transport` says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from .i18n import _
from .models import ExposureKey, PublishedBatch

#: Every device upload body is padded to a multiple of this many bytes, so an
#: observer of the (encrypted) network cannot tell a verify from a publish,
#: a real upload from a decoy (docs/privacy.md rule 5).
PAD_BLOCK = 8192


class TransportError(Exception):
    """A transport call failed. ``code`` is the server's stable error code
    (or a transport-side one such as ``network``); ``status`` the HTTP status
    when there was one. ``retryable`` says whether trying later may help."""

    def __init__(self, code: str, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable


@dataclass(slots=True)
class FeedState:
    """What a device remembers about one feed between syncs.

    ``etag`` is the index's entity tag (HTTP ``If-None-Match``); ``seen`` the
    batch names already downloaded, so a sync fetches only new files. Plain
    JSON-able data so the device store can keep it (``set_sync_state``).
    """

    etag: str | None = None
    seen: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"etag": self.etag, "seen": list(self.seen)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "FeedState":
        data = data or {}
        return cls(etag=data.get("etag"), seen=list(data.get("seen", [])))


@dataclass(frozen=True, slots=True)
class FeedIndex:
    """A feed's index as downloaded: every batch it lists (oldest first) and
    its entity tag, to ask next time whether it changed."""

    names: list[str]
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class VerifiedCode:
    """Answer to redeeming a verification code: a token to ask for a certificate."""

    token: str
    report_type: int
    symptom_onset_interval: int | None
    test_date_interval: int | None
    expires_at: int


@dataclass(frozen=True, slots=True)
class UploadReceipt:
    """Answer to a publish: how many keys the server accepted, and the
    revision token to send with a later publish of the same keys."""

    inserted: int
    revision: str = ""
    #: keys of an earlier upload whose report type this publish revised
    revised: int = 0


@runtime_checkable
class Transport(Protocol):
    """What a transport implements. Every method is a coroutine.

    Downloads come in two steps so that a device holds one batch in memory at
    a time and a file that fails costs only itself (the sync skips it and
    asks again next time):

    * ``fetch_index(feed, etag)`` → :class:`FeedIndex`, or ``None`` when the
      index still has entity tag ``etag`` (one conditional request). A feed
      the authority does not publish is an empty index.
    * ``fetch_batch(feed, name)`` → one :class:`PublishedBatch`, read to its
      end under a size cap; raises :class:`TransportError` (``not_found``
      when the file is gone, for example deleted by retention meanwhile).
    * ``redeem_code(code)`` → :class:`VerifiedCode` (GAEN ``/verify``).
    * ``request_certificate(token, ekeyhmac)`` → the certificate (a compact
      ES256 JWT) bound to the HMAC of the keys (GAEN ``/certificate``).
    * ``upload_keys(keys, certificate, hmac_secret, revision_token="")`` →
      :class:`UploadReceipt`; the token (from an earlier receipt) is passed
      only when the phone has one, so a transport written before revisions
      keeps working for first uploads.
    * ``upload_declaration(sealed)`` → the server's receipt id; the server
      stores ciphertext it cannot read.
    * ``send_decoy(kind)`` → None: a decoy ``"report"`` (the requests of a
      real report, in the same order, sizes and headers) or ``"declaration"``,
      marked ``X-Chaff: 1`` inside the encrypted request and dropped by the
      server.
    * ``post_json(path, body)`` → dict: a padded POST to a plugin's route (for
      example the check-in plugin's venue-trace upload).
    * ``close()``.
    """

    async def fetch_index(self, feed: str, etag: str | None = None) -> FeedIndex | None: ...

    async def fetch_batch(self, feed: str, name: str) -> PublishedBatch: ...

    async def redeem_code(self, code: str) -> VerifiedCode: ...

    async def request_certificate(self, token: str, ekeyhmac: bytes) -> str: ...

    async def upload_keys(self, keys: list[ExposureKey], certificate: str, hmac_secret: bytes,
                          revision_token: str = "", share_beyond_province: bool = False) -> UploadReceipt: ...

    async def upload_declaration(self, sealed: bytes) -> str: ...

    async def send_decoy(self, kind: str = "report") -> None: ...

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def check_transport(obj: Any) -> list[str]:
    """Names of the protocol's methods ``obj`` lacks (empty when complete)."""
    needed = ("fetch_index", "fetch_batch", "redeem_code", "request_certificate", "upload_keys",
              "upload_declaration", "send_decoy", "post_json", "close")
    return [n for n in needed if not callable(getattr(obj, n, None))]


async def download(transport: Transport, feed: str, state: FeedState | None = None
                   ) -> tuple[list[PublishedBatch], FeedState]:
    """Every new batch of ``feed`` at once, and the state to pass next time.

    For tools and tests that want the whole list; the sync fetches and
    processes one file at a time instead (:func:`bluezone.sync.sync`).
    Raises the first :class:`TransportError`."""
    state = state or FeedState()
    index = await transport.fetch_index(feed, state.etag)
    if index is None:
        return [], state
    seen = set(state.seen)
    batches = [await transport.fetch_batch(feed, name) for name in index.names if name not in seen]
    return batches, FeedState(index.etag, list(index.names))


class DownloadAll:
    """Mixin giving a transport a ``download(feed, state)`` method built on
    :func:`download`; handy in scripts and tests."""

    async def download(self, feed: str, state: FeedState | None = None) -> tuple[list[PublishedBatch], FeedState]:
        return await download(self, feed, state)  # type: ignore[arg-type]


def make_transport(url: str, config: Any, pm: Any = None) -> Transport:
    """The transport for ``url``, picked by its scheme among those the
    installed plugins offer (``bluezone_transports``)."""
    from .plugins import call_hook, collect_named

    pm = pm if pm is not None else config.pm
    factories = collect_named(call_hook(pm.hook.bluezone_transports), "transport")
    scheme = urlsplit(url).scheme
    if scheme not in factories:
        known = ", ".join(sorted(factories)) or "none (install bluezone-transport)"
        raise TransportError("unknown_scheme", str(_("no transport for {scheme!r} URLs; installed: {known}",
                                                      scheme=scheme, known=known)))
    transport = factories[scheme](url, config)
    missing = check_transport(transport)
    if missing:
        raise TransportError("bad_transport", str(_("the {scheme!r} transport lacks {missing}", scheme=scheme,
                                                     missing=", ".join(missing))))
    return transport


def pad_body(body: dict[str, Any], block: int = PAD_BLOCK) -> bytes:
    """Serialise ``body`` as JSON with a ``padding`` field so its length is a
    multiple of ``block`` (at least one block). The server ignores ``padding``."""
    import base64
    import json
    import secrets

    body = dict(body)
    body["padding"] = ""
    raw = json.dumps(body, separators=(",", ":")).encode()
    target = max(block, -(-len(raw) // block) * block)
    need = target - len(raw)
    # base64 of random bytes: unpredictable, incompressible padding
    body["padding"] = base64.b64encode(secrets.token_bytes(need))[:need].decode()
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) == target, (len(raw), target)
    return raw
