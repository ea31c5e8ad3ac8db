"""HubSpot error responses -> typed ``VendorError``s, and the waits HubSpot's 429s imply.

HubSpot documents no ``Retry-After``; ``VendorHttp`` honours only that header, so ``HubSpotAuth``
fills it in from the rate-limit policy before the retry logic sees the response. ``HubSpotAuth`` also
adds the bearer token: a private app's, or a public app's from an inner (OAuth) auth."""

from __future__ import annotations

import json
from collections.abc import Generator
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

DEFAULT_ROLLING_WAIT = 10.0
SECONDLY_WAIT = 1.0
RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "RATE_LIMIT", "INTERNAL_ERROR", "LOCKED", "TIMEOUT"})


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        return {}
    return data if isinstance(data, dict) else {}


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait after a HubSpot 429, from its policy (HubSpot documents no Retry-After)."""
    body = _body(response)
    policy = str(body.get("policyName") or "")
    message = str(body.get("message") or "").lower()
    if policy == "DAILY" or "daily limit" in message:
        return None
    if policy in ("SECONDLY", "SEARCH") or "secondly limit" in message:
        return SECONDLY_WAIT
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return max(0.0, float(interval) / 1000) if interval else DEFAULT_ROLLING_WAIT
    except ValueError:
        return DEFAULT_ROLLING_WAIT


def hubspot_error(response: httpx.Response) -> VendorError:
    """Map a HubSpot error response (spec ``Error`` or the 429 shape) to a typed ``VendorError``."""
    body = _body(response)
    status = response.status_code
    message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
    category = str(body.get("category") or body.get("errorType") or "") or None
    request_id = response.headers.get("X-HubSpot-Correlation-Id") or body.get("correlationId")
    code = str(body.get("policyName")) if status == 429 and body.get("policyName") else category
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}
    if status in (401, 403):
        return AuthError(message, **kw)
    if status == 404:
        return NotFoundError(message, **kw)
    if status == 409:
        conflict = ConflictError(message, **kw)
        conflict.retryable = False  # a unique-value clash: re-reading and retrying cannot heal it
        return conflict
    if status == 429:
        wait = retry_after_seconds(response)
        return RateLimitedError(
            message, retry_after=wait if wait is not None else rate_limit_wait(response), **kw
        )
    if status in (423, 477) or status >= 500:
        return TransientError(message, **kw)
    if 400 <= status < 500:
        return VendorRefusedError(message, **kw)
    return VendorError(message, **kw)


def fill_retry_after(response: httpx.Response) -> None:
    """Give a HubSpot 429 without ``Retry-After`` the wait its policy implies (see module doc)."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        wait = rate_limit_wait(response)
        if wait is not None:
            response.headers["Retry-After"] = f"{wait:g}"


class HubSpotAuth(httpx.Auth):
    """Bearer token per request, plus a ``Retry-After`` on HubSpot 429s that lack one (see module doc).

    The token is a private app's ``access_token``, or comes from ``inner`` (a public app's
    ``RefreshTokenAuth``): its flow is delegated, so its renew-and-resend on a 401 still works, and every
    response it sees or returns gets the 429 fill-in first.
    """

    requires_response_body = True

    def __init__(self, access_token: str | None = None, *, inner: httpx.Auth | None = None) -> None:
        if (access_token is None) == (inner is None):
            raise ValueError("give a private-app access token or an inner auth, not both or neither")
        self._token = access_token
        self.inner = inner

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.inner is None:
            request.headers["Authorization"] = f"Bearer {self._token}"
            response = yield request
            fill_retry_after(response)
            return
        flow = self.inner.auth_flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            fill_retry_after(response)
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return
