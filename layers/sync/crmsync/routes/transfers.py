"""Bulk work: transfer all from one side, a transfer job's progress, and the sync mode switch."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from crmsync import linking
from crmsync.api import job_progress
from crmsync.api_errors import NotFound, StateConflict
from crmsync.context import SyncContext
from crmsync.models import Side, SyncMode, utcnow
from crmsync.routes.common import (
    Absent,
    TenantId,
    absent_when_none,
    domain_router,
    tenant_config,
    tenant_context,
)
from crmsync.store import VersionConflict

router = domain_router()
TAGS = ["transfers and mode"]

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class TransferRequest(BaseModel):
    source: Side
    dry_run: bool = True


class ModeRequest(BaseModel):
    mode: SyncMode
    dry_run: bool = True


class PlanCounts(BaseModel):
    """What a transfer (or a switch to automatic) does, counted per target connection."""

    creates: dict[str, int]
    updates: dict[str, int]
    links: int = Field(description="exact-key pairs that get linked")
    unchanged: int


class JobStarted(BaseModel):
    job_id: str
    pages: int = Field(description="pages of up to 100 records on the bulk queue")


class TransferResult(BaseModel):
    dry_run: bool
    plan: PlanCounts
    job: JobStarted | Absent = absent_when_none("the job carrying it out (only when not a dry run)")


class JobView(BaseModel):
    """A job's counters and times, what it does, and its progress."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    total: int
    done: int
    failed: int
    created_at: str
    updated_at: str
    what: str | Absent = absent_when_none("e.g. `transfer from accounting`")
    plan: PlanCounts | Absent = absent_when_none()
    finished: bool
    rate_per_second: float | None = Field(description="null until a page has finished")
    eta_seconds: int | None = Field(description="seconds left at that pace; null until a page has finished")
    errors: int


class ModeResult(BaseModel):
    mode: SyncMode
    dry_run: bool
    plan: dict[Side, PlanCounts] | Absent = absent_when_none("to automatic: what it creates, per source side")
    jobs: dict[Side, JobStarted] | Absent = absent_when_none(
        "the jobs carrying it out (only when not a dry run)"
    )


def _start_job(ctx: SyncContext, tenant_id: str, plan: linking.TransferPlan, what: str) -> JobStarted:
    """Cut an applied plan into pages on the signals queue; the workers apply them, progress is on the job."""
    job_id = uuid.uuid4().hex
    pages = linking.transfer_pages(tenant_id, job_id, plan)
    ctx.store.put_job(tenant_id, job_id, sum(p.size for p in pages), what=what, plan=plan.as_dict())
    assert ctx.queue is not None
    ctx.queue.send(pages)
    return JobStarted(job_id=job_id, pages=len(pages))


@router.post(
    "/tenants/<tenant_id>/transfers",
    summary="Transfer all from one side (dry run by default)",
    tags=TAGS,
)
def transfer(tenant_id: TenantId, request: Annotated[TransferRequest, Body()]) -> TransferResult:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    plan = linking.plan_transfer(ctx, tenant_id, request.source)
    result = TransferResult(dry_run=request.dry_run, plan=PlanCounts.model_validate(plan.as_dict()))
    if not request.dry_run:
        result.job = _start_job(ctx, tenant_id, plan, f"transfer from {request.source.value}")
    return result


@router.get(
    "/tenants/<tenant_id>/transfers/<job_id>",
    summary="Progress of a transfer job (done, failed, total)",
    tags=TAGS,
)
def get_transfer(tenant_id: TenantId, job_id: JobId) -> JobView:
    ctx = tenant_context(router, tenant_id)
    job = ctx.store.get_job(tenant_id, job_id)
    if job is None:
        raise NotFound(job_id)
    return JobView.model_validate({**job.model_dump(exclude_none=True), **job_progress(job, utcnow())})


@router.post(
    "/tenants/<tenant_id>/mode",
    summary="Change the sync mode (to automatic: dry run first)",
    tags=TAGS,
)
def set_mode(tenant_id: TenantId, request: Annotated[ModeRequest, Body()]) -> ModeResult:
    """Switch the sync mode; to ``automatic`` it reports (dry run) or approves what it will create."""
    ctx = tenant_context(router, tenant_id)
    config = tenant_config(ctx, tenant_id)
    result = ModeResult(mode=request.mode, dry_run=request.dry_run)
    plans = {}
    if request.mode is SyncMode.AUTOMATIC:
        for source in (Side.ACCOUNTING, Side.CRM):
            plans[source] = linking.plan_transfer(ctx, tenant_id, source, mode=SyncMode.AUTOMATIC)
        result.plan = {side: PlanCounts.model_validate(plan.as_dict()) for side, plan in plans.items()}
    if request.dry_run:
        return result
    try:
        ctx.store.put_config(config.model_copy(update={"sync_mode": request.mode}))
    except VersionConflict as exc:
        raise StateConflict("config changed meanwhile; try again") from exc
    ctx.forget_configs()
    result.jobs = {
        side: _start_job(ctx, tenant_id, plan, f"switch to automatic ({side.value} side)")
        for side, plan in plans.items()
    }
    return result
