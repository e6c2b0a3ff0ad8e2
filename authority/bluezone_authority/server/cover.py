"""Cover traffic on the server side: fake requests that cannot be told apart.

A phone sends decoy reports and decoy declarations on their own random
schedule. An observer of the encrypted network sees lengths, order and
timing, so each of those must be the same for a real and a fake request:

* **Which are fake.** Every device request carries ``X-Chaff: 0`` or
  ``X-Chaff: 1`` (the Corona-Warn-App's ``cwa-fake`` scheme: the header is
  always there and always one character long, so it does not change the
  size). :func:`is_fake` reads it.
* **Lengths.** Every answer on a device path, errors included, has a body of
  exactly :data:`ANSWER_BODY` bytes and a status line plus headers of exactly
  :data:`ANSWER_HEAD` bytes (:func:`pad_answer`), like the Corona-Warn-App's
  ``cwa-header-padding``.
* **Timing.** Every device answer waits until ``answer_floor`` seconds after
  the request arrived, and a fake one waits at least as long as real ones of
  that path have recently taken (:class:`TimingEqualiser`, after the
  Corona-Warn-App server's fake-delay manager, which delays fakes by the
  recent real requests' duration): a fake answered in a fraction
  of a real one's time would give it away.
"""

from __future__ import annotations

import json
import random
import secrets
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

#: Body size of every device answer (bytes).
ANSWER_BODY = 1024
#: Status line plus every header the application sets, in bytes (see :func:`head_size`).
ANSWER_HEAD = 1024
#: The answer header that carries the header padding.
PAD_HEADER = "X-Pad"
#: Headers aiohttp adds while sending; each has the same length on every answer
#: (the date format is fixed-width, the server banner and the padded length are constant).
_ADDED_ON_SEND = ("Date", "Server", "Content-Length")


def is_fake(request: web.Request) -> bool:
    """True for a decoy. ``X-Chaff: 1`` marks one; ``0`` (what every real
    request of the current client sends) and no header mark a real one. Any
    other non-empty value is treated as fake, as older clients sent it."""
    value = request.headers.get("X-Chaff", "").strip()
    return bool(value) and value != "0"


def head_size(response: web.Response) -> int:
    """Bytes of the status line and of the headers set so far, as sent on HTTP/1.1."""
    size = len(f"HTTP/1.1 {response.status} {response.reason}\r\n")
    for name, value in response.headers.items():
        if name not in _ADDED_ON_SEND:
            size += len(name) + 2 + len(value.encode("latin-1", "replace")) + 2
    return size


def pad_body(data: dict, size: int = ANSWER_BODY) -> bytes:
    """``data`` as compact JSON with a random ``padding`` member, exactly ``size`` bytes when it fits."""
    body = dict(data, padding="")
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    need = max(0, size - len(raw))
    body["padding"] = secrets.token_urlsafe(need)[:need]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def pad_answer(response: web.Response) -> web.Response:
    """The same answer with its JSON body padded to :data:`ANSWER_BODY` and its
    head to :data:`ANSWER_HEAD`. A body that is not a JSON object is wrapped
    as ``{"body": text}`` first, so aiohttp's own refusals pad the same way."""
    raw = response.body if isinstance(response.body, (bytes, bytearray)) else b""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {"body": bytes(raw).decode("utf-8", "replace")[:200]}
    if not isinstance(data, dict):
        data = {"body": data}
    data.pop("padding", None)
    padded = web.Response(status=response.status, reason=response.reason, body=pad_body(data),
                          content_type="application/json", charset="utf-8")
    for name, value in response.headers.items():
        if name not in ("Content-Type", "Content-Length", PAD_HEADER):
            padded.headers[name] = value
    need = ANSWER_HEAD - head_size(padded) - len(PAD_HEADER) - 4
    padded.headers[PAD_HEADER] = "x" * max(1, need)
    return padded


@dataclass
class TimingEqualiser:
    """How long real device requests take, per path, and how long a fake must wait.

    Keeps the work times of the last :attr:`window` real requests of each
    path (seconds). A fake of that path waits for one of them drawn at
    random, so fakes take as long as real ones *in distribution* (a mean
    would make fakes slower than most real requests and faster than the
    slow ones); never less than the floor that every answer waits for."""

    floor: float = 0.0
    window: int = 64
    recent: dict[str, deque[float]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.SystemRandom)

    def record(self, path: str, seconds: float) -> None:
        """Remember that a real request of ``path`` took ``seconds`` of work."""
        self.recent.setdefault(path, deque(maxlen=self.window)).append(seconds)

    def target(self, path: str, fake: bool) -> float:
        """Seconds after arrival at which the answer to a request of ``path`` may leave."""
        seen = self.recent.get(path)
        if not fake or not seen:
            return self.floor
        return max(self.floor, self.rng.choice(seen))
