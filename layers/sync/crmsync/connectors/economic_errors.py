"""e-conomic error responses -> typed ``VendorError``s.

The two APIs answer errors in different shapes (legacy "annotated errors", Customers API
ProblemDetails); callers only ever see one typed error with the details and request id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from crmsync.connectors.base import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    VendorError,
    VendorRefusedError,
)
from crmsync.connectors.http import retry_after_seconds


def _annotated(errors: Any, path: str = "") -> Iterator[tuple[str, str, str | None]]:
    """Flatten legacy "annotated errors" ({prop: {errors: [...]}} / lists with arrayIndex)."""
    if isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, str):
                yield path, entry, None
            elif isinstance(entry, dict):
                index = entry.get("arrayIndex")
                yield from _annotated(entry, f"{path}[{index}]" if index is not None else path)
        return
    if not isinstance(errors, dict):
        return
    for prop, value in errors.items():
        if prop == "arrayIndex":
            continue
        where = f"{path}.{prop}" if path else prop
        if prop == "errors" and isinstance(value, list):
            for error in value:
                if isinstance(error, dict):
                    yield (
                        path,
                        str(error.get("message") or error.get("errorMessage") or ""),
                        error.get("errorCode"),
                    )
            continue
        yield from _annotated(value, where)


def map_economic_error(response: httpx.Response) -> VendorError:
    """Turn a legacy error body or a ProblemDetails body into a typed VendorError."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    request_id = response.headers.get("X-RequestId")
    message = response.reason_phrase or "error"
    details: list[str] = []
    code: str | None = None
    if isinstance(body, dict):
        request_id = request_id or body.get("logId") or body.get("traceId")
        if "title" in body or "traceId" in body:  # ProblemDetails (Customers API)
            message = str(body.get("detail") or body.get("title") or message)
            for error in body.get("errors") or []:
                if isinstance(error, dict):
                    details.append(f"{error.get('property') or '?'}: {error.get('message')}")
                    code = code or error.get("errorCode")
        else:  # legacy REST
            message = str(body.get("message") or message)
            for where, text, error_code in _annotated(body.get("errors")):
                details.append(f"{where}: {text}" if where else text)
                code = code or error_code
        code = code or body.get("errorCode")
    text = f"e-conomic {status}: {message}" + (f" ({'; '.join(details)})" if details else "")
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}
    if status in (401, 403):
        return AuthError(text, **kw)
    if status == 404:
        return NotFoundError(text, **kw)
    if status == 409:
        return ConflictError(text, **kw)
    if status == 429:
        return RateLimitedError(text, retry_after=retry_after_seconds(response), **kw)
    if status in (400, 405, 415, 422):
        return VendorRefusedError(text, **kw)
    return TransientError(text, **kw)
