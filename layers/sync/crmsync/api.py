"""Front-end API logic: the request screen, per-tenant bearer tokens and the record/config views.

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
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from crmsync import config_checks, conflicts, linking, request_quota
from crmsync.budget import Priority
from crmsync.config import TenantConfig
from crmsync.context import SyncContext
from crmsync.inbound import sync_now
from crmsync.limits import MAX_API_BODY_BYTES, MAX_JSON_DEPTH, json_refusal, too_large
from crmsync.models import (
    Base,
    ConflictStatus,
    Fields,
    FieldValue,
    ObjectType,
    Record,
    Side,
    SyncMode,
    utcnow,
)
from crmsync.models import Conflict as ConflictItem
from crmsync.outbound import push_records
from crmsync.parking import parked_key, replay_message
from crmsync.store import SyncStore, VersionConflict, object_type_of, tenant_pk
from crmsync.tokens import Forbidden, Unauthorized, authorize, hash_token, issue_token, new_token

__all__ = ["Forbidden", "Unauthorized", "authorize", "hash_token", "issue_token", "new_token"]

RECORD_ID = r"^(cus|con)_[0-9a-f]{32}$"
TENANT_PATH = re.compile(r"^/tenants/([^/]*)(?:/|$)")


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


MAX_LISTED_ERRORS = 3
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


def _error_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or error.get("type") or "invalid")
    reason = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and isinstance(reason, str):
        message = f"{message}: {reason}"  # what json.loads said, e.g. "Expecting value"
    return message


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Status and body for what Powertools' validation found, as ``(status, body)``.

    Powertools answers a request that fails validation with ``{"detail": [{"loc", "type"}]}``: no
    message, and short of the ``msg`` its own OpenAPI document promises (``HTTPValidationError``).
    This body keeps the documented shape (``loc``, ``msg``, ``type`` per error; never the input
    value) and adds one readable ``message``. Powertools raises the same exception when a *response*
    does not match its declared model: that is a server fault, so it is a 500, never blamed on the
    caller as a 422.
    """
    detail = [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": _error_message(error),
            "type": str(error.get("type") or "value_error"),
        }
        for error in errors
    ]
    if any(d["loc"][:1] == ["response"] for d in detail):
        return 500, {"statusCode": 500, "message": "internal error: the response failed validation"}
    listed = "; ".join(
        f"{'.'.join(str(part) for part in d['loc']) or 'request'}: {d['msg']}"
        for d in detail[:MAX_LISTED_ERRORS]
    )
    more = len(detail) - MAX_LISTED_ERRORS
    message = f"invalid request: {listed or 'the request failed validation'}" + (
        f" (and {more} more)" if more > 0 else ""
    )
    return 422, {"statusCode": 422, "message": message, "detail": detail}


class RecordView(BaseModel):
    record_id: str
    object_type: ObjectType
    version: int
    fields: Fields
    field_sources: dict[str, str]
    links: dict[str, str]
    bases: dict[str, Base]


def get_record(ctx: SyncContext, tenant_id: str, record_id: str) -> RecordView:
    try:
        object_type_of(record_id)
    except ValueError as exc:
        raise NotFound(record_id) from exc
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        raise NotFound(record_id)
    return RecordView(
        record_id=record.record_id,
        object_type=record.object_type,
        version=record.version,
        fields=record.fields,
        field_sources=record.field_sources,
        links=record.links,
        bases=record.bases,
    )


def sync_record(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    try:
        return {"record_id": record_id, "connections": sync_now(ctx, tenant_id, record_id)}
    except (KeyError, ValueError) as exc:
        raise NotFound(record_id) from exc


def get_config(ctx: SyncContext, tenant_id: str) -> TenantConfig:
    config = ctx.store.get_config(tenant_id)
    if config is None:
        raise NotFound(tenant_id)
    return config


def put_config(ctx: SyncContext, tenant_id: str, config: TenantConfig) -> TenantConfig:
    """Replace the config; ``version`` must be the one read (optimistic locking), 0 for a new tenant.

    Switching to ``automatic`` is refused here: it may create many records, so it goes through
    ``POST /mode`` which reports what it would create first (dry run) and then does it.

    A connection the change brings into use (another environment, a new or re-kinded connection) must
    have its secret: else 422 naming it (``crmsync.config_checks``; unchanged connections are not re-read).
    """
    if config.tenant_id != tenant_id:
        raise Conflict("tenant_id in the body differs from the path")
    current = ctx.store.get_config(tenant_id)
    if (
        config.sync_mode is SyncMode.AUTOMATIC
        and current is not None
        and current.sync_mode is not SyncMode.AUTOMATIC
    ):
        raise Conflict("switch to automatic with POST /tenants/{tenant_id}/mode (dry run first)")
    connectors = ctx.connectors
    config_checks.check_secrets(
        connectors.credentials, connectors.settings.secret_prefix, tenant_id, current, config
    )
    try:
        return ctx.store.put_config(config)
    except VersionConflict as exc:
        raise Conflict("config changed since it was read; GET it again") from exc


# -- linking -------------------------------------------------------------------------------------


class LinkRequest(BaseModel):
    crm_record_id: str = Field(pattern=RECORD_ID)
    accounting_record_id: str = Field(pattern=RECORD_ID)


class CreateRequest(BaseModel):
    connection_id: str


class TransferRequest(BaseModel):
    source: Side
    dry_run: bool = True


class ModeRequest(BaseModel):
    mode: SyncMode
    dry_run: bool = True


class LinkRow(BaseModel):
    record_id: str
    state: str
    name: FieldValue = None
    customer_number: FieldValue = None
    links: dict[str, str]
    candidates: list[dict[str, Any]] = Field(default_factory=list)


class LinkPage(BaseModel):
    items: list[LinkRow]
    cursor: str | None = None


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _decode_cursor(cursor: str | None, tenant_id: str, object_type: ObjectType) -> dict[str, Any] | None:
    """The DynamoDB start key a cursor carries; a client can tamper with it, so it is checked.

    Only the key ``records_page`` hands out is accepted: this tenant's partition and a record of
    this type. Anything else went to DynamoDB as ``ExclusiveStartKey`` and failed there (a 500),
    or named another tenant's partition.
    """
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise BadRequest("invalid cursor") from exc
    sort_key = value.get("SK") if isinstance(value, dict) else None
    if not (
        isinstance(value, dict)
        and set(value) == {"PK", "SK"}
        and value["PK"] == {"S": tenant_pk(tenant_id)}
        and isinstance(sort_key, dict)
        and set(sort_key) == {"S"}
        and isinstance(sort_key["S"], str)
        and sort_key["S"].startswith(f"REC#{object_type.value}#")
    ):
        raise BadRequest("invalid cursor")
    return value


class BadRequest(Exception):
    pass


def list_customers(
    ctx: SyncContext, tenant_id: str, *, state: str | None, limit: int, cursor: str | None
) -> LinkPage:
    """The link screen: customers of both sides with their link state (and candidates for unlinked ones)."""
    config = get_config(ctx, tenant_id)
    start = _decode_cursor(cursor, tenant_id, ObjectType.CUSTOMER)
    records, last = ctx.store.records_page(tenant_id, ObjectType.CUSTOMER, limit, start)
    pool: list[Record] | None = None
    indexes: dict[tuple[str, ...], Any] = {}
    rows = []
    for record in records:
        row_state = linking.link_state(config, record)
        row = LinkRow(
            record_id=record.record_id,
            state=row_state,
            name=record.fields.get("name"),
            customer_number=record.fields.get("customer_number"),
            links=record.links,
        )
        if row_state != "linked" and state in (None, "unlinked", "has_candidates"):
            if pool is None:
                pool = list(ctx.store.records(tenant_id, ObjectType.CUSTOMER))
            row.candidates = linking.candidates_for(config, record, pool, indexes=indexes)
        if state == "linked" and row_state != "linked":
            continue
        if state == "unlinked" and row_state == "linked":
            continue
        if state == "has_candidates" and not row.candidates:
            continue
        rows.append(row)
    return LinkPage(items=rows, cursor=_encode_cursor(last))


def link_records(ctx: SyncContext, tenant_id: str, request: LinkRequest) -> dict[str, Any]:
    try:
        return linking.link(ctx, tenant_id, request.crm_record_id, request.accounting_record_id).as_dict()
    except KeyError as exc:
        raise NotFound(str(exc)) from exc
    except linking.LinkError as exc:
        raise Conflict(str(exc)) from exc


def unlink_record(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    try:
        return linking.unlink(ctx, tenant_id, record_id)
    except KeyError as exc:
        raise NotFound(record_id) from exc
    except linking.LinkError as exc:
        raise Conflict(str(exc)) from exc


def approve_create(
    ctx: SyncContext, tenant_id: str, record_id: str, request: CreateRequest
) -> dict[str, Any]:
    config = get_config(ctx, tenant_id)
    try:
        config.connection(request.connection_id)
    except KeyError as exc:
        raise NotFound(request.connection_id) from exc
    plan = linking.TransferPlan(create_ids={request.connection_id: [record_id]})
    if ctx.store.get_record(tenant_id, record_id) is None:
        raise NotFound(record_id)
    return linking.apply_transfer(ctx, tenant_id, plan)


def _start_job(ctx: SyncContext, tenant_id: str, plan: linking.TransferPlan, what: str) -> dict[str, Any]:
    """Cut an applied plan into pages on the signals queue; the workers apply them, progress is on the job."""
    job_id = uuid.uuid4().hex
    pages = linking.transfer_pages(tenant_id, job_id, plan)
    ctx.store.put_job(tenant_id, job_id, sum(p.size for p in pages), {"what": what, "plan": plan.as_dict()})
    assert ctx.queue is not None
    ctx.queue.send(pages)
    return {"job_id": job_id, "pages": len(pages)}


def transfer(ctx: SyncContext, tenant_id: str, request: TransferRequest) -> dict[str, Any]:
    plan = linking.plan_transfer(ctx, tenant_id, request.source)
    out: dict[str, Any] = {"dry_run": request.dry_run, "plan": plan.as_dict()}
    if not request.dry_run:
        out["job"] = _start_job(ctx, tenant_id, plan, f"transfer from {request.source.value}")
    return out


def get_job(ctx: SyncContext, tenant_id: str, job_id: str) -> dict[str, Any]:
    job = ctx.store.get_job(tenant_id, job_id)
    if job is None:
        raise NotFound(job_id)
    return {**job, **job_progress(job, utcnow())}


def job_progress(job: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Finished?, throughput so far and the time left at that pace (None until a page has finished)."""
    settled = job["done"] + job["failed"]
    finished = settled >= job["total"]
    started = datetime.fromisoformat(job["created_at"])
    until = datetime.fromisoformat(job["updated_at"]) if finished else now
    seconds = max((until - started).total_seconds(), 1e-3)
    rate = settled / seconds if settled else None
    left = job["total"] - settled
    return {
        "finished": finished,
        "rate_per_second": round(rate, 2) if rate else None,
        "eta_seconds": 0 if finished else (round(left / rate) if rate else None),
        "errors": job["failed"],
    }


def set_mode(ctx: SyncContext, tenant_id: str, request: ModeRequest) -> dict[str, Any]:
    """Switch the sync mode; to ``automatic`` it reports (dry run) or approves what it will create."""
    config = get_config(ctx, tenant_id)
    out: dict[str, Any] = {"mode": request.mode.value, "dry_run": request.dry_run}
    plans = {}
    if request.mode is SyncMode.AUTOMATIC:
        for source in (Side.ACCOUNTING, Side.CRM):
            plans[source] = linking.plan_transfer(ctx, tenant_id, source, mode=SyncMode.AUTOMATIC)
        out["plan"] = {side.value: plan.as_dict() for side, plan in plans.items()}
    if request.dry_run:
        return out
    try:
        ctx.store.put_config(config.model_copy(update={"sync_mode": request.mode}))
    except VersionConflict as exc:
        raise Conflict("config changed meanwhile; try again") from exc
    ctx.forget_configs()
    out["jobs"] = {
        side.value: _start_job(ctx, tenant_id, plan, f"switch to automatic ({side.value} side)")
        for side, plan in plans.items()
    }
    return out


# -- conflicts, compare, timeline, parked ----------------------------------------------------------


def _existing_record_id(record_id: str) -> str:
    try:
        object_type_of(record_id)
    except ValueError as exc:
        raise NotFound(record_id) from exc
    return record_id


def list_conflicts(
    ctx: SyncContext, tenant_id: str, *, status: ConflictStatus | None, record_id: str | None
) -> list[ConflictItem]:
    get_config(ctx, tenant_id)
    return conflicts.list_conflicts(ctx, tenant_id, status=status, record_id=record_id)


def resolve(
    ctx: SyncContext, tenant_id: str, record_id: str, request: conflicts.ResolveRequest
) -> dict[str, Any]:
    try:
        return conflicts.resolve(ctx, tenant_id, _existing_record_id(record_id), request)
    except KeyError as exc:
        raise NotFound(record_id) from exc
    except conflicts.ConflictError as exc:
        raise Conflict(str(exc)) from exc
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def restore(ctx: SyncContext, tenant_id: str, conflict_id: str) -> dict[str, Any]:
    try:
        return conflicts.restore(ctx, tenant_id, conflict_id)
    except KeyError as exc:
        raise NotFound(conflict_id) from exc
    except conflicts.ConflictError as exc:
        raise Conflict(str(exc)) from exc


def compare(ctx: SyncContext, tenant_id: str, record_id: str, *, refresh: bool) -> conflicts.CompareView:
    get_config(ctx, tenant_id)
    try:
        return conflicts.compare_record(ctx, tenant_id, _existing_record_id(record_id), refresh=refresh)
    except KeyError as exc:
        raise NotFound(record_id) from exc


def timeline(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    """Every signal, decision and vendor write of one record (newest last; kept 30 days after they
    leave the record item)."""
    record = ctx.store.get_record(tenant_id, _existing_record_id(record_id))
    if record is None:
        raise NotFound(record_id)
    return {"record_id": record_id, "entries": ctx.store.timeline(tenant_id, record_id, record)}


def list_parked(ctx: SyncContext, tenant_id: str) -> dict[str, Any]:
    get_config(ctx, tenant_id)
    return {"items": ctx.store.parked(tenant_id)}


def replay_parked(ctx: SyncContext, tenant_id: str, parked_id: str) -> dict[str, Any]:
    """Replay a refused write from the sources' current state (never the old payload).

    Every linked side is re-read, then the record is pushed again; if the target still refuses it,
    it is parked again with the new reason.
    """
    entry = ctx.store.get_parked(tenant_id, parked_id)
    if entry is None:
        raise NotFound(parked_id)
    if entry.get("kind") in ("signal", "push", "transfer_page"):
        return replay_message(ctx, tenant_id, parked_id, entry)
    record_id, conn = entry["record_id"], entry["connection"]
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        ctx.store.unpark(tenant_id, parked_id)
        raise NotFound(record_id)
    sync_now(ctx, tenant_id, record_id)
    ctx.store.unpark(tenant_id, parked_id)
    record = ctx.store.get_record(tenant_id, record_id)
    assert record is not None
    if conn in record.parked:
        record.parked.pop(conn)
        try:
            ctx.store.save_record(record)
        except VersionConflict as exc:
            raise Conflict("the record changed meanwhile; replay again") from exc
        record = ctx.store.get_record(tenant_id, record_id)
        assert record is not None
    report = push_records(ctx, [record])
    again = ctx.store.get_parked(tenant_id, parked_key(record_id, conn))
    return {
        "record_id": record_id,
        "connection": conn,
        "replayed": again is None and not report.failed,
        "parked_again": again,
        "created": report.created,
        "updated": report.updated,
        "retry_later": bool(report.failed),
    }


# -- deletes -----------------------------------------------------------------------------------------


def list_deletes(ctx: SyncContext, tenant_id: str) -> dict[str, Any]:
    get_config(ctx, tenant_id)
    return {"items": ctx.store.pending_deletes(tenant_id)}


def decide_delete(ctx: SyncContext, tenant_id: str, record_id: str, approve: bool) -> dict[str, Any]:
    from crmsync import deletes

    get_config(ctx, tenant_id)
    try:
        if approve:
            return deletes.approve(ctx, tenant_id, _existing_record_id(record_id))
        return deletes.reject(ctx, tenant_id, _existing_record_id(record_id))
    except KeyError as exc:
        raise NotFound(record_id) from exc
