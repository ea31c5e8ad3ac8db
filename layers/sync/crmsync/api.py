"""Front-end API logic: the request screen and per-tenant bearer tokens.

The routes, by domain, are ``crmsync/routes/`` (Powertools ``Router``s the ``api`` function includes);
their errors and how they map to HTTP are ``crmsync/api_errors.py``.

Tokens are stored only as SHA-256 hashes (``crmsync/tokens.py``: names, expiry, revocation). An
unknown, expired or revoked token gets 401; a valid token of another tenant gets 403, so a front end
can tell "log in again" from "not yours".

Every request is screened (``screen_request``) before Powertools sees it, in this order: a body over
``MAX_API_BODY_BYTES`` is a 413 (before any lookup: it costs nothing and reveals only a documented
limit); on ``/tenants/{tenant_id}/...`` the bearer token is checked (401/403), so a caller without a
token learns nothing about what a body should look like; then the tenant's request limit (429 with
``Retry-After``, ``crmsync/request_quota.py``: only a verified token spends it, and an over-limit
caller is refused before any work on its body); then a body that is not readable JSON
(415/400) or nests deeper than ``MAX_JSON_DEPTH`` (400). Only then does Powertools parse and validate
the body (422). Why not a Powertools middleware: with ``enable_validation=True`` its request
validation runs before every user middleware (``Route._build_middleware_stack``; Powertools
discussion #4656), and its own ``json.loads`` is what a deep body breaks.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmsync import request_quota
from crmsync.api_errors import BadRequest, NotFound, StateConflict, validation_errors
from crmsync.budget import Priority
from crmsync.context import SyncContext
from crmsync.items import Job
from crmsync.limits import MAX_API_BODY_BYTES, MAX_JSON_DEPTH, json_refusal, too_large
from crmsync.store import SyncStore
from crmsync.tokens import Forbidden, Unauthorized, authorize, hash_token, issue_token, new_token

__all__ = [
    "BadRequest",
    "Forbidden",
    "NotFound",
    "StateConflict",
    "Unauthorized",
    "authorize",
    "hash_token",
    "issue_token",
    "new_token",
    "validation_errors",
]

RECORD_ID = r"^(cus|con)_[0-9a-f]{32}$"
TENANT_PATH = re.compile(r"^/tenants/([^/]*)(?:/|$)")


JSON_MEDIA_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;.*)?$", re.IGNORECASE)


def _decoded(body: str, is_base64: bool) -> str | None:
    """The body's text; None when it is not UTF-8 (or not base64 when it claims to be)."""
    if not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def unreadable_body(headers: Mapping[str, str], body: str | None, is_base64: bool) -> tuple[int, str] | None:
    """Why a request's body cannot be read as JSON, as ``(status, message)``; None when it can (or is empty).

    Checked before Powertools parses the body: it lets a multipart content type without a boundary,
    a body that is not UTF-8, JSON nested deeper than Python's recursion limit and an integer of over
    4,300 digits escape as exceptions (a 500), where the caller deserves a 4xx.
    """
    if not body:
        return None
    if too_large(body, MAX_API_BODY_BYTES, is_base64):
        return 413, f"the body is larger than {MAX_API_BODY_BYTES} bytes"
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "").strip()
    if content_type and not JSON_MEDIA_TYPE.match(content_type):
        return 415, "unsupported content type: send the body as application/json"
    text = _decoded(body, is_base64)
    if text is None:
        return 400, "the body is not UTF-8 text"
    reason = json_refusal(text, MAX_JSON_DEPTH)
    return None if reason is None else (400, f"the body {reason}")


def _refusal(status: int, message: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps({"statusCode": status, "message": message}),
        "isBase64Encoded": False,
    }


def refuse_unreadable_body(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The API Gateway (HTTP API) answer refusing an event whose body is not readable JSON, else None."""
    problem = unreadable_body(
        event.get("headers") or {}, event.get("body"), bool(event.get("isBase64Encoded"))
    )
    return None if problem is None else _refusal(*problem)


@dataclass(frozen=True)
class Screened:
    """What ``screen_request`` decided: an answer refusing the request, or the tenant it may act for."""

    refusal: dict[str, Any] | None = None
    tenant_id: str | None = None
    """Set when the request is under ``/tenants/{tenant_id}`` and its token is that tenant's."""


SCREENED_TENANT = "screened_tenant"
"""Key in the resolver's per-request ``context``: the tenant ``admit`` checked the token for."""


def admit(
    route_context: dict[str, Any],
    event: Mapping[str, Any],
    ctx: SyncContext,
    *,
    requests_per_minute: int | None = None,
) -> dict[str, Any] | None:
    """Screen a request before Powertools parses and validates it: the refusal to answer, or None.

    On success the checked tenant goes into the resolver's ``route_context`` (cleared by ``resolve``), so
    a route does not read the token a second time (``authorized``). ``requests_per_minute`` overrides
    the per-tenant limit (``request_quota.DEFAULT_REQUESTS_PER_MINUTE`` when None); the buckets live
    as long as the container's context.
    """
    quota = request_quota.quota_for(ctx.store, requests_per_minute)
    screened = screen_request(event, ctx.store, now=ctx.clock(), quota=quota)
    if screened.refusal is not None:
        return screened.refusal
    ctx.forget_configs()
    ctx.priority = Priority.LIVE  # a person is waiting for this request
    route_context[SCREENED_TENANT] = screened.tenant_id
    return None


def authorized(
    route_context: Mapping[str, Any], ctx: SyncContext, tenant_id: str, headers: Mapping[str, str]
) -> SyncContext:
    """``ctx`` once the request's token is ``tenant_id``'s: checked by ``admit``, or now when the route's
    tenant differs from what the screen saw (e.g. a path parameter decoded differently)."""
    if route_context.get(SCREENED_TENANT) != tenant_id:
        authorize(ctx.store, tenant_id, headers.get("authorization"), now=ctx.clock())
    return ctx


def screen_request(
    event: Mapping[str, Any],
    store: SyncStore,
    *,
    now: datetime | None = None,
    quota: request_quota.TenantRequestQuota | None = None,
) -> Screened:
    """Size, then the bearer token (on tenant routes), then the tenant's request limit (when ``quota``
    is given), then readability and depth; see the module doc."""
    headers: Mapping[str, str] = event.get("headers") or {}
    body, is_base64 = event.get("body"), bool(event.get("isBase64Encoded"))
    if too_large(body, MAX_API_BODY_BYTES, is_base64):
        return Screened(_refusal(413, f"the body is larger than {MAX_API_BODY_BYTES} bytes"))
    path = str(event.get("rawPath") or (event.get("requestContext") or {}).get("http", {}).get("path") or "")
    match = TENANT_PATH.match(path)
    tenant_id = None
    if match:
        tenant_id = match.group(1)
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        try:
            authorize(store, tenant_id, authorization, now=now)
        except Unauthorized as exc:
            return Screened(_refusal(401, str(exc)))
        except Forbidden as exc:
            return Screened(_refusal(403, str(exc)))
        retry_after = None if quota is None else quota.take(tenant_id)
        if retry_after is not None:
            message = f"too many requests for this tenant; retry in {retry_after} s"
            return Screened(_refusal(429, message, {"Retry-After": str(retry_after)}))
    refused = refuse_unreadable_body(event)
    return Screened(refused, None if refused else tenant_id)


def uncached(response: dict[str, Any]) -> dict[str, Any]:
    """Tenant data is never kept by a browser or a proxy: every answer of the API is ``no-store`` (the
    console also fetches with ``cache: 'no-store'``; its token lives in the tab's session only)."""
    response.setdefault("headers", {})["Cache-Control"] = "no-store"
    return response


def job_progress(job: Job, now: datetime) -> dict[str, Any]:
    """Finished?, throughput so far and the time left at that pace (None until a page has finished)."""
    settled = job.done + job.failed
    finished = settled >= job.total
    started = datetime.fromisoformat(job.created_at)
    until = datetime.fromisoformat(job.updated_at) if finished else now
    seconds = max((until - started).total_seconds(), 1e-3)
    rate = settled / seconds if settled else None
    left = job.total - settled
    return {
        "finished": finished,
        "rate_per_second": round(rate, 2) if rate else None,
        "eta_seconds": 0 if finished else (round(left / rate) if rate else None),
        "errors": job.failed,
    }
