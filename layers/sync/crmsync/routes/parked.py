"""Held work: writes a target refused (parked; replay them) and deletions waiting for approval."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from crmsync import deletes
from crmsync.api_errors import NotFound, StateConflict
from crmsync.context import SyncContext
from crmsync.inbound import sync_now
from crmsync.items import ParkedEntry, ParkedMessage, ParkedWrite, PendingDelete
from crmsync.outbound import push_records
from crmsync.parking import parked_key, replay_message
from crmsync.routes.common import (
    RecordId,
    TenantId,
    domain_router,
    existing_record_id,
    tenant_config,
    tenant_context,
)
from crmsync.store import VersionConflict

router = domain_router()
TAGS = ["parked and deletes"]

ParkedId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,200}$")]
Limit = Annotated[int, Query(ge=1, le=500, description="entries per page")]
Cursor = Annotated[str | None, Query(max_length=2000, description="the previous page's `cursor`")]


class ParkedList(BaseModel):
    items: list[ParkedEntry] = Field(
        description="each entry as it was parked: a refused `write` (record, connection, reason) or a "
        "queue message (`signal`, `push`, `transfer_page`), with its `id`, `attempts` and `parked_at`"
    )
    cursor: str | None = Field(None, description="send it back as `cursor` for the next page; null: the last")


class MessageReplayed(BaseModel):
    """A parked signal, push or transfer page, sent to its queue again."""

    replayed: bool
    requeued: str = Field(description="the kind of message: `signal`, `push` or `transfer_page`")
    parked_id: str


class RecordReplayed(BaseModel):
    """A refused write, pushed again from the sources' current state."""

    record_id: str
    connection: str
    replayed: bool = Field(description="the target took it")
    parked_again: ParkedWrite | None = Field(description="the new entry when the target refused again")
    created: int
    updated: int
    retry_later: bool = Field(description="the write failed in a way worth retrying (the stream retries)")


class DeleteList(BaseModel):
    items: list[PendingDelete] = Field(
        description="each pending deletion: the record, the side it was deleted on, the guard's reason"
    )
    cursor: str | None = Field(None, description="send it back as `cursor` for the next page; null: the last")


class DeleteDecision(BaseModel):
    record_id: str
    outcome: str = Field(description="approve: `propagated`, `pending`, `refused`, `gone`...; reject: `kept`")


@router.get("/tenants/<tenant_id>/parked", summary="Writes the target refused, with their reasons", tags=TAGS)
def list_parked(tenant_id: TenantId, limit: Limit = 100, cursor: Cursor = None) -> ParkedList:
    """In pages: a connection refusing every write can park one entry per record (thousands), more than
    one answer may carry."""
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    items, next_cursor = ctx.store.parked_page(tenant_id, limit, cursor)
    return ParkedList(items=items, cursor=next_cursor)


@router.post(
    "/tenants/<tenant_id>/parked/<parked_id>/replay",
    summary="Replay a parked write from the current source state",
    tags=TAGS,
)
def replay_parked(tenant_id: TenantId, parked_id: ParkedId) -> MessageReplayed | RecordReplayed:
    """Replay a refused write from the sources' current state (never the old payload).

    Every linked side is re-read, then the record is pushed again; if the target still refuses it,
    it is parked again with the new reason, its attempts counting on from the entry replayed.
    """
    ctx = tenant_context(router, tenant_id)
    entry = ctx.store.get_parked(tenant_id, parked_id)
    if entry is None:
        raise NotFound(parked_id)
    if isinstance(entry, ParkedMessage):
        kind = replay_message(ctx, tenant_id, entry)
        return MessageReplayed(replayed=True, requeued=kind, parked_id=parked_id)
    return _replay_record(ctx, tenant_id, entry)


def _replay_record(ctx: SyncContext, tenant_id: str, entry: ParkedWrite) -> RecordReplayed:
    parked_id, record_id, conn = entry.id, entry.record_id, entry.connection
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
            raise StateConflict("the record changed meanwhile; replay again") from exc
        record = ctx.store.get_record(tenant_id, record_id)
        assert record is not None
    report = push_records(ctx, [record])
    again = ctx.store.get_parked(tenant_id, parked_key(record_id, conn))
    if again is not None and not isinstance(again, ParkedWrite):
        again = None  # only a refused write parks under this key
    if again is not None and again.id == parked_id:  # refused again: it counts on, not from 1
        ctx.store.add_parked_attempts(tenant_id, parked_id, entry.attempts)
        again = again.model_copy(update={"attempts": again.attempts + entry.attempts})
    return RecordReplayed(
        record_id=record_id,
        connection=conn,
        replayed=again is None and not report.failed,
        parked_again=again,
        created=report.created,
        updated=report.updated,
        retry_later=bool(report.failed),
    )


@router.get(
    "/tenants/<tenant_id>/deletes",
    summary="Deletions waiting for approval (with the guard's reason)",
    tags=TAGS,
)
def list_deletes(tenant_id: TenantId, limit: Limit = 100, cursor: Cursor = None) -> DeleteList:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    items, next_cursor = ctx.store.pending_deletes_page(tenant_id, limit, cursor)
    return DeleteList(items=items, cursor=next_cursor)


def _decide(tenant_id: str, record_id: str, *, approve: bool) -> DeleteDecision:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    if ctx.store.get_pending_delete(tenant_id, existing_record_id(record_id)) is None:
        raise NotFound(record_id)
    decide = deletes.approve if approve else deletes.reject
    return DeleteDecision.model_validate(decide(ctx, tenant_id, record_id))


@router.post(
    "/tenants/<tenant_id>/deletes/<record_id>/approve",
    summary="Approve a deletion: the record is deleted on its other side(s)",
    tags=TAGS,
)
def approve_delete(tenant_id: TenantId, record_id: RecordId) -> DeleteDecision:
    return _decide(tenant_id, record_id, approve=True)


@router.post(
    "/tenants/<tenant_id>/deletes/<record_id>/reject",
    summary="Reject a deletion: the other side keeps the record",
    tags=TAGS,
)
def reject_delete(tenant_id: TenantId, record_id: RecordId) -> DeleteDecision:
    return _decide(tenant_id, record_id, approve=False)
