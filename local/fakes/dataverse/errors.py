"""Dataverse error answers and the hex codes the fake uses (see the package docstring for sources)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Error codes (hex strings as Dataverse sends them). See the package docstring for which are documented.
E_NOT_FOUND = "0x80040217"
E_MAXLEN = "0x80044331"
E_INVALID_ARG = "0x80040203"
E_PAYLOAD = "0x80048d19"
E_ODATA = "0x80060888"
E_VERSION = "0x80060882"
E_KEY_EXISTS = "0x80060892"
E_DUPLICATE = "0x80040237"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """A Dataverse error answer: ``{"error": {"code": "0x...", "message": "..."}}``."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}
