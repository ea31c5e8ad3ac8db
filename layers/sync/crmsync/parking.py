"""Parking: work that cannot go on is kept with its reason, visible and replayable, never dropped.

A refused write is parked per record and connection; a queue message that exhausted its retries (or
whose connection needs attention) is parked whole. A replay re-enqueues it; messages carry no field
values, so a replay re-reads the current state.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from crmsync.budget import Priority
from crmsync.config import TenantConfig
from crmsync.context import MAX_LOCK_RETRIES, SyncContext
from crmsync.items import ParkedMessage, ParkedWrite, TimelineEntry
from crmsync.journal_notes import note
from crmsync.messages import PushRequest, TransferPage
from crmsync.models import (
    Fields,
    Record,
    Signal,
)
from crmsync.store import (
    VersionConflict,
)


def park_signal(ctx: SyncContext, signal: Signal, reason: str) -> str | None:
    """Park a signal whose connection failed (replayable: ``POST /parked/{id}/replay``)."""
    return park_message(ctx, signal.model_dump(mode="json"), reason)


def park_write(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    rec: Record,
    action: str,
    reason: str,
    error_code: str | None,
    request_id: str | None,
    fields: Fields,
) -> None:
    """Park a refused write: one entry per record and connection, visible on the record and replayable.

    Nothing retries it in a loop: the stream only pushes again when the record changes (new data may
    fix it) or when a person replays it; a refusal with the same reason does not touch the record.
    """
    tenant = config.tenant_id
    entry = ParkedWrite(
        record_id=rec.record_id,
        connection=conn,
        object_type=rec.object_type,
        action=action,
        reason=reason,
        error_code=error_code,
        request_id=request_id,
        fields=sorted(fields),
    )
    ctx.store.park(tenant, entry, key=parked_key(rec.record_id, conn))
    parked: TimelineEntry = {
        "at": ctx.clock(),
        "kind": "write",
        "decision": "parked",
        "connection": conn,
        "action": action,
        "reason": reason,
        "request_id": request_id,
    }
    ctx.store.journal(tenant, rec.record_id, parked)
    if rec.parked.get(conn) != reason:
        note(ctx, tenant, rec.record_id, parked)  # the CRM journal: once per refusal, not per retry
    current: Record | None = rec
    for _ in range(MAX_LOCK_RETRIES):
        if current is None or current.parked.get(conn) == reason:
            return
        current.parked[conn] = reason
        try:
            ctx.store.save_record(current)
            return
        except VersionConflict:
            current = ctx.store.get_record(tenant, rec.record_id)


def parked_key(record_id: str, connection_id: str) -> str:
    return f"{record_id}.{connection_id}"


def push_later(ctx: SyncContext, failed: dict[str, list[str]]) -> int:
    """Queue the retryable failures of a push (tenant -> record ids); raises ``EnqueueError``."""
    assert ctx.queue is not None
    bulk = ctx.priority is Priority.BULK
    requests = [
        PushRequest(tenant_id=tenant, record_ids=ids[i : i + 100], bulk=bulk)
        for tenant, ids in failed.items()
        for i in range(0, len(ids), 100)
    ]
    return ctx.queue.send(requests)


def park_message(ctx: SyncContext, message: dict[str, Any], reason: str) -> str | None:
    """Park a queue message that exhausted its retries (it also moves to the DLQ), visible and replayable."""
    if message.get("kind") == "signals":
        keys = [
            park_message(ctx, inner, reason)
            for inner in message.get("signals") or []
            if isinstance(inner, dict)
        ]
        return keys[0] if keys else None
    tenant = message.get("tenant_id")
    key = parked_message_key(message)
    if not isinstance(tenant, str) or key is None:
        return None
    kind = message.get("kind") if message.get("kind") in ("push", "transfer_page") else "signal"
    record_id = (message.get("record_ids") or [None])[0] if kind == "push" else None
    entry = ParkedMessage(kind=kind, message=message, reason=reason, record_id=record_id)
    ctx.store.park(tenant, entry, key=key)
    return key


def parked_message_key(message: dict[str, Any]) -> str | None:
    """The parked entry of a queue message (one per record and kind, so a repeat updates it)."""
    if message.get("kind") == "push":
        ids = message.get("record_ids") or []
        return f"push.{ids[0]}" if ids else None
    if message.get("kind") == "transfer_page":
        digest = hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()[:16]
        return f"page.{message.get('job_id')}.{digest}"
    parts = (message.get("connection_id"), message.get("object_type"), message.get("external_id"))
    return "signal.{}.{}.{}".format(*parts) if all(isinstance(p, str) for p in parts) else None


def replay_message(ctx: SyncContext, tenant_id: str, entry: ParkedMessage) -> str:
    """Replay a parked signal or push: enqueue it again (the worker re-reads the source, never old data).
    Returns the kind of message sent."""
    assert ctx.queue is not None
    message = entry.message
    model: BaseModel
    if entry.kind == "push":
        model = PushRequest.model_validate({**message, "replay": True})
    elif entry.kind == "transfer_page":
        model = TransferPage.model_validate(message)
    else:
        model = Signal.model_validate({**message, "source": "replay"})
    ctx.queue.send([model])
    ctx.store.unpark(tenant_id, entry.id)
    return entry.kind


def park_pushes(ctx: SyncContext, tenant: str, record_ids: list[str], reason: str) -> None:
    """Park the pushes of records whose target connection failed: one replayable push per 100."""
    for i in range(0, len(record_ids), 100):
        request = PushRequest(tenant_id=tenant, record_ids=record_ids[i : i + 100])
        park_message(ctx, request.model_dump(mode="json"), reason)
