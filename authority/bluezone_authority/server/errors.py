"""JSON errors with stable codes.

Every refusal of the server is an :class:`ApiError`: an HTTP status, a stable
machine code (clients and tests switch on it; it never changes wording) and
a message in English and Vietnamese. Plugins raise it from their routes too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ApiError(Exception):
    status: int
    code: str
    message: str
    message_vi: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message,
                          "message_vi": self.message_vi or self.message}}


def json_error(status: int, code: str, message: str, message_vi: str = "",
               headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error response (for handlers that prefer returning to raising)."""
    err = ApiError(status, code, message, message_vi, headers or {})
    return error_response(err)


def error_response(err: ApiError) -> web.Response:
    return web.Response(status=err.status, text=json.dumps(err.body(), ensure_ascii=False),
                        content_type="application/json", headers=err.headers)


def bad_request(code: str, message: str, message_vi: str = "") -> ApiError:
    return ApiError(400, code, message, message_vi)
