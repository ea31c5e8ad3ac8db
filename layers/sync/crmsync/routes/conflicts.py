"""Conflicts: list them, compare a record's sides, resolve field by field, restore a losing value."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, Field

from crmsync import conflicts
from crmsync.api_errors import BadRequest, NotFound
from crmsync.conflicts import CompareView, ResolveRequest
from crmsync.models import Conflict as ConflictItem
from crmsync.models import ConflictStatus, FieldValue
from crmsync.routes.common import (
    RECORD_ID,
    RecordId,
    TenantId,
    domain_router,
    tenant_config,
    tenant_context,
)

router = domain_router()
TAGS = ["conflicts"]

ConflictId = Annotated[str, Path(pattern=r"^(cus|con)_[0-9a-f]{32}\.[a-z_]{1,40}\.[0-9T]{15,30}$")]


class Resolution(BaseModel):
    record_id: str
    fields: dict[str, FieldValue] = Field(description="the value each resolved field now has")
    writes: dict[str, list[str]] = Field(description="per connection, the fields to write there")


class Restored(Resolution):
    conflict_id: str


@router.get(
    "/tenants/<tenant_id>/conflicts",
    summary="Conflicts: open ones by default, or all (settled, restorable)",
    tags=TAGS,
)
def list_conflicts(
    tenant_id: TenantId,
    status: Annotated[ConflictStatus | None, Query()] = ConflictStatus.OPEN,
    record_id: Annotated[str | None, Query(pattern=RECORD_ID)] = None,
    all: Annotated[bool, Query(description="every status (overrides `status`)")] = False,
) -> list[ConflictItem]:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    return conflicts.list_conflicts(ctx, tenant_id, status=None if all else status, record_id=record_id)


@router.post(
    "/tenants/<tenant_id>/records/<record_id>/resolve",
    summary="Resolve field by field: take CRM, take accounting, or a given value; it flows to both sides",
    tags=TAGS,
)
def resolve(
    tenant_id: TenantId, record_id: RecordId, request: Annotated[ResolveRequest, Body()]
) -> Resolution:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    try:  # a missing record is a 404 and a ConflictError a 409 (api_errors)
        return Resolution.model_validate(conflicts.resolve(ctx, tenant_id, record_id, request))
    except ValueError as exc:  # a field the record type does not have
        raise BadRequest(str(exc)) from exc


@router.post(
    "/tenants/<tenant_id>/conflicts/<conflict_id>/restore",
    summary="Restore a conflict's losing value; it flows to both sides",
    tags=TAGS,
)
def restore(tenant_id: TenantId, conflict_id: ConflictId) -> Restored:
    ctx = tenant_context(router, tenant_id)
    item = ctx.store.get_conflict(tenant_id, conflict_id)
    if item is None:
        raise NotFound(conflict_id)
    tenant_config(ctx, tenant_id)
    return Restored.model_validate(conflicts.restore(ctx, tenant_id, conflict_id))  # ConflictError: 409


@router.get(
    "/tenants/<tenant_id>/records/<record_id>/compare",
    summary="Compare view: per field the CRM, accounting and crmsync values, owner, direction, sync state",
    tags=TAGS,
)
def compare(
    tenant_id: TenantId,
    record_id: RecordId,
    refresh: Annotated[bool, Query(description="re-read both sides first")] = False,
) -> CompareView:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    return conflicts.compare_record(ctx, tenant_id, record_id, refresh=refresh)
