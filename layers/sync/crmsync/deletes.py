"""Deletes: a record deleted on one side is a tombstone; the other side is deleted only if the tenant allows.

* ``never`` (default): the other side keeps its record; crmsync never writes to the deleted id again.
* ``approve``: the deletion waits in an approval list (``DELETE#`` items) until a person approves or
  rejects it.
* ``automatic``: it is carried out at once, unless the **mass-delete guard** trips: more deletions in
  the current hour than ``mass_delete_share`` of the tenant's records (at least ``mass_delete_min``) are
  held in the approval list, with the reason. A run that would delete many records stops and asks.

crmsync only ever sees a deletion in the vendor's own words (a delete webhook, or a record that answers
404 when re-read), never from a record's absence in a list, so a partial read cannot delete anything.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmsync.connectors.base import VendorError
from crmsync.context import MAX_LOCK_RETRIES, SyncContext
from crmsync.errors import NotFound
from crmsync.items import PendingDelete
from crmsync.models import Base, DeletePolicy, Record, utcnow
from crmsync.store import VersionConflict

if TYPE_CHECKING:
    from crmsync.config import TenantConfig


def live_targets(record: Record, deleted_on: str) -> dict[str, str]:
    return {
        conn: ext
        for conn, ext in record.links.items()
        if conn != deleted_on and not record.bases.get(conn, Base()).deleted
    }


def on_source_deleted(
    ctx: SyncContext, config: TenantConfig, record: Record, conn: str, now: datetime
) -> str:
    """Decide what a tombstone means for the other side: ``kept``, ``pending`` or ``propagated``."""
    targets = live_targets(record, conn)
    if config.deletes is DeletePolicy.NEVER or not targets:
        return "kept"
    name = record.fields.get("name")
    entry = PendingDelete(
        record_id=record.record_id,
        object_type=record.object_type,
        name=name if isinstance(name, str) else None,
        deleted_on=conn,
        targets=targets,
        at=now,
    )
    if config.deletes is DeletePolicy.AUTOMATIC:
        if _within_guard(ctx, config, now):
            return propagate(ctx, config, record.record_id)
        entry.reason = (
            f"held by the mass-delete guard: more than {config.mass_delete_share:.0%} of the records "
            "(or the minimum) were deleted this hour; approve to continue"
        )
    ctx.store.put_pending_delete(config.tenant_id, entry)
    return "pending"


def _within_guard(ctx: SyncContext, config: TenantConfig, now: datetime) -> bool:
    total = ctx.store.count_records(config.tenant_id)
    ceiling = max(config.mass_delete_min, math.floor(total * config.mass_delete_share))
    hour = int(now.timestamp() // 3600)
    return ctx.store.take_budget(
        f"TENANT#{config.tenant_id}#DELETES", f"h{hour}", 1, ceiling, (hour + 3) * 3600
    )


def propagate(ctx: SyncContext, config: TenantConfig, record_id: str) -> str:
    """Delete the record on its live sides; a refusal keeps the deletion pending with the vendor's reason."""
    tenant = config.tenant_id
    record = ctx.store.get_record(tenant, record_id)
    if record is None:
        ctx.store.delete_pending(tenant, record_id)
        return "gone"
    deleted_on = next((c for c, b in record.bases.items() if b.deleted), "")
    targets = live_targets(record, deleted_on)
    for conn, ext in targets.items():
        try:
            ctx.connectors.get(config, conn).delete(record.object_type, ext)
        except VendorError as exc:
            if exc.retryable:
                raise
            pending = ctx.store.get_pending_delete(tenant, record_id) or PendingDelete(
                record_id=record_id, object_type=record.object_type, deleted_on=deleted_on, targets=targets
            )
            pending.reason = f"{conn}: {exc.message}"
            ctx.store.put_pending_delete(tenant, pending)
            return "refused"
        _mark_deleted(ctx, tenant, record_id, conn)
        ctx.store.journal(
            tenant,
            record_id,
            {"at": utcnow(), "kind": "write", "decision": "deleted", "connection": conn, "external_id": ext},
        )
    ctx.store.delete_pending(tenant, record_id)
    return "propagated"


def _mark_deleted(ctx: SyncContext, tenant: str, record_id: str, conn: str) -> None:
    for _ in range(MAX_LOCK_RETRIES):
        record = ctx.store.get_record(tenant, record_id)
        if record is None:
            return
        base = record.bases.get(conn) or Base()
        record.bases[conn] = base.model_copy(
            update={"deleted": True, "written_by_us": True, "updated_at": utcnow()}
        )
        try:
            ctx.store.save_record(record)
            return
        except VersionConflict:
            continue
    raise VersionConflict(record_id)


def approve(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    if ctx.store.get_pending_delete(tenant_id, record_id) is None:
        raise NotFound(record_id)
    outcome = propagate(ctx, ctx.config(tenant_id), record_id)
    return {"record_id": record_id, "outcome": outcome}


def reject(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    """Keep the other side: the record stays alive there and is never written to the deleted id again."""
    if ctx.store.get_pending_delete(tenant_id, record_id) is None:
        raise NotFound(record_id)
    ctx.store.delete_pending(tenant_id, record_id)
    ctx.store.journal(
        tenant_id, record_id, {"at": utcnow(), "kind": "resolution", "decision": "delete_rejected"}
    )
    return {"record_id": record_id, "outcome": "kept"}
