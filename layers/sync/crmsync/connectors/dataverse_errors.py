"""Dataverse error responses -> typed ``VendorError``s.

The body is ``{"error": {"code": "0x80044331", "message": "..."}}`` (the code a hex string, possibly
empty); the request id is the ``REQ_ID`` header (also inside ``$batch`` parts) or
``x-ms-service-request-id``. The same mapper serves whole responses and the parts of a batch answer.

* 401/403 ``AuthError`` (403 is a missing privilege of the application user: no retry helps).
* 404 ``NotFoundError``.
* 412 ``StaleError``: an ``If-Match`` mismatch means the row changed since crmsync read it. Which fields
  changed is unknown here; the writer re-reads and compares with ``WriteItem.expected``.
* 429 and the service-protection codes 0x80072322 (requests), 0x80072321 (execution time),
  0x80072326 (concurrency), whatever their status: ``RateLimitedError`` with ``Retry-After``.
* "Version stamp associated with the client has expired": ``DeltaExpired`` (a full sync is needed).
* 5xx ``TransientError``; 409 ``ConflictError`` (retryable); other 4xx ``VendorRefusedError``.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from crmsync.connectors import base
from crmsync.connectors.base import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    StaleError,
    TransientError,
    VendorError,
    VendorRefusedError,
)
from crmsync.connectors.http import retry_after_seconds

THROTTLE_CODES = frozenset({"0x80072322", "0x80072321", "0x80072326"})
DUPLICATE_KEY_CODES = frozenset({"0x80040237", "0x80060892"})
"""Cannot insert duplicate key / a record with matching key values already exists."""
DELTA_EXPIRED_TEXT = "version stamp associated with the client has expired"


class DeltaExpired(base.DeltaExpired):
    """Dataverse: "Version stamp associated with the client has expired. Please perform a full sync."."""


class ErrorDetail(BaseModel):
    code: str | None = ""
    message: str | None = ""


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_detail(response: httpx.Response) -> ErrorDetail:
    """The ``error`` object of a body (empty when the body is not Dataverse's error shape)."""
    try:
        return ErrorBody.model_validate_json(response.content).error
    except (ValidationError, ValueError):
        return ErrorDetail()


def request_id(response: httpx.Response) -> str | None:
    found = response.headers.get("REQ_ID") or response.headers.get("x-ms-service-request-id")
    return str(found) if found else None


def is_duplicate_key(error: VendorError) -> bool:
    """A create hit an id that exists (our deterministic id: an earlier attempt already created it)."""
    text = error.message.lower()
    return (
        (error.code or "").lower() in DUPLICATE_KEY_CODES
        or "duplicate key" in text
        or ("matching key values already exists" in text)
    )


def dataverse_error(response: httpx.Response) -> VendorError:
    """Map one Dataverse error response (or batch part) to a typed ``VendorError``."""
    status = response.status_code
    detail = error_detail(response)
    code = (detail.code or "").lower() or None
    message = f"Dataverse {status}: {detail.message or response.reason_phrase or 'error'}"
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id(response)}
    if DELTA_EXPIRED_TEXT in message.lower():
        return DeltaExpired(message, **kw)
    if status == 429 or code in THROTTLE_CODES:
        return RateLimitedError(message, retry_after=retry_after_seconds(response), **kw)
    if status in (401, 403):
        return AuthError(message, **kw)
    if status == 404:
        return NotFoundError(message, **kw)
    if status == 412:
        if code in DUPLICATE_KEY_CODES or "matching key values already exists" in message.lower():
            return VendorRefusedError(message, **kw)  # a create's duplicate id, not a stale update
        return StaleError(message, **kw)
    if status == 409:
        return ConflictError(message, **kw)
    if status >= 500:
        return TransientError(message, **kw)
    if 400 <= status < 500:
        return VendorRefusedError(message, **kw)
    return VendorError(message, **kw)
