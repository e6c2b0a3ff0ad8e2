"""JSON errors with stable codes.

Every refusal of the server is an :class:`ApiError`: an HTTP status, a stable
machine code (clients and tests switch on it; it never changes wording) and
a :class:`bluezone.i18n.Message` translated through the message catalogue.
The JSON body carries the text in every deployment language
(``messages``), plus ``message`` (English) and ``message_vi`` (Vietnamese)
for clients written before ``messages`` existed. Plugins raise it from their
routes too, with texts from their own catalogue domain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bluezone.i18n import SOURCE_LANGUAGE, Message, active_languages

from .. import messages as _catalogue  # noqa: F401  (registers the authority's domain)


@dataclass
class ApiError(Exception):
    status: int
    code: str
    #: what went wrong, translated when the answer is written (a plain str is shown as is)
    message: Message | str
    headers: dict[str, str] = field(default_factory=dict)
    #: more machine-readable fields of the refusal, beside ``code`` in the JSON
    #: (e.g. the gateway's ``duplicateKeys``); never text for people
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.text(SOURCE_LANGUAGE)}"

    def text(self, language: str) -> str:
        """The message in one language."""
        return self.message.text(language) if isinstance(self.message, Message) else self.message

    def body(self) -> dict[str, Any]:
        """``{"error": {code, message, message_vi, messages: {language: text}}}``:
        ``messages`` has one text per deployment language."""
        return {"error": {**self.detail, "code": self.code, "message": self.text(SOURCE_LANGUAGE),
                          "message_vi": self.text("vi"),
                          "messages": {lang: self.text(lang) for lang in active_languages()}}}


def json_error(status: int, code: str, message: Message | str,
               headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error response (for handlers that prefer returning to raising)."""
    return error_response(ApiError(status, code, message, headers or {}))


def error_response(err: ApiError) -> web.Response:
    return web.Response(status=err.status, text=json.dumps(err.body(), ensure_ascii=False),
                        content_type="application/json", headers=err.headers)


def bad_request(code: str, message: Message | str) -> ApiError:
    return ApiError(400, code, message)
