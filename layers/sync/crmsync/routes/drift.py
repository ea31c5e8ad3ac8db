"""Drift: the last full compare of both sides with what crmsync expects, running one, fixing a record."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from crmsync import drift
from crmsync.drift import DriftReport
from crmsync.messages import DriftRun
from crmsync.routes.common import RecordId, TenantId, domain_router, tenant_config, tenant_context

router = domain_router()
TAGS = ["drift"]


class DriftView(BaseModel):
    report: DriftReport | None = Field(description="the last report (null: none ran yet)")


class DriftQueued(BaseModel):
    queued: bool = Field(description="a drift run was queued (bulk work: it reads every record in pages)")


class DriftFixed(BaseModel):
    record_id: str
    connections: dict[str, Any] = Field(description="per linked connection: what re-reading it decided")


@router.get(
    "/tenants/<tenant_id>/drift",
    summary="The drift report: records that differ on a side from what crmsync expects, field by field",
    tags=TAGS,
)
def get_drift(tenant_id: TenantId) -> DriftView:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    return DriftView(report=drift.stored(ctx, tenant_id))


@router.post(
    "/tenants/<tenant_id>/drift",
    summary="Run a drift report now (queued as bulk work; GET it when finished_at is set)",
    tags=TAGS,
)
def run_drift(tenant_id: TenantId) -> DriftQueued:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    assert ctx.queue is not None
    ctx.queue.send([DriftRun(tenant_id=tenant_id)])
    return DriftQueued(queued=True)


@router.post(
    "/tenants/<tenant_id>/drift/<record_id>/fix",
    summary="Fix a drifted record: re-read its sides and re-sync each field from its owner",
    tags=TAGS,
)
def fix_drift(tenant_id: TenantId, record_id: RecordId) -> DriftFixed:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    # a record that does not exist: NotFound from sync_now's own read (404)
    return DriftFixed(record_id=record_id, connections=drift.fix(ctx, tenant_id, record_id))
