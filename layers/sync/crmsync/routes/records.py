"""Records: a record's fields, links and bases; "sync now"; its timeline."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from crmsync.inbound import sync_now
from crmsync.models import Base, Fields, ObjectType
from crmsync.routes.common import (
    Absent,
    RecordId,
    TenantId,
    absent_when_none,
    domain_router,
    stored_record,
    tenant_context,
)

router = domain_router()
TAGS = ["records"]


class RecordView(BaseModel):
    record_id: str
    object_type: ObjectType
    version: int
    fields: Fields
    field_sources: dict[str, str]
    links: dict[str, str]
    bases: dict[str, Base]


class SyncOutcome(BaseModel):
    """One connection's re-read: its decision and what it changed, or ``error`` and why."""

    decision: str = Field(
        description="`created`, `applied`, `unchanged`, `echo`, `conflict`, `ignored`, `parked`, ...; "
        "`error` when the connection failed"
    )
    applied: list[str] | Absent = absent_when_none("fields taken from this side")
    conflicts: list[str] | Absent = absent_when_none("fields now in conflict")
    error: str | Absent = absent_when_none("why the connection failed (decision `error`)")


class SyncResult(BaseModel):
    record_id: str
    connections: dict[str, SyncOutcome] = Field(description="per linked connection id")


class Timeline(BaseModel):
    record_id: str
    entries: list[dict[str, Any]] = Field(
        description="oldest first; every entry has `at` and `decision`, the rest depends on its `kind` "
        "(`signal`, `write`, `resolution`, `note`: the CRM journal; see `crmsync.items.TimelineEntry`)"
    )


@router.get(
    "/tenants/<tenant_id>/records/<record_id>",
    summary="A record: fields, links and per-side bases",
    tags=TAGS,
)
def get_record(tenant_id: TenantId, record_id: RecordId) -> RecordView:
    ctx = tenant_context(router, tenant_id)
    record = stored_record(ctx, tenant_id, record_id)
    return RecordView(
        record_id=record.record_id,
        object_type=record.object_type,
        version=record.version,
        fields=record.fields,
        field_sources=record.field_sources,
        links=record.links,
        bases=record.bases,
    )


@router.post(
    "/tenants/<tenant_id>/records/<record_id>/sync",
    summary="Re-read every linked side of a record now",
    tags=TAGS,
)
def sync_record(tenant_id: TenantId, record_id: RecordId) -> SyncResult:
    ctx = tenant_context(router, tenant_id)
    connections = sync_now(ctx, tenant_id, record_id)  # a missing record: 404 (api_errors)
    return SyncResult.model_validate({"record_id": record_id, "connections": connections})


@router.get(
    "/tenants/<tenant_id>/records/<record_id>/timeline",
    summary="Every signal, decision and vendor write of a record (30 days)",
    tags=TAGS,
)
def timeline(tenant_id: TenantId, record_id: RecordId) -> Timeline:
    """Newest last; entries are kept 30 days after they leave the record item."""
    ctx = tenant_context(router, tenant_id)
    record = stored_record(ctx, tenant_id, record_id)
    entries: list[Any] = ctx.store.timeline(tenant_id, record_id, record)
    return Timeline(record_id=record_id, entries=entries)
