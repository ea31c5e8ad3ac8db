"""After a vendor write: store what the vendor answered as that side's base, and its link.

The base is what makes the echo of crmsync's own write a no-op; saved with an optimistic lock, a few
records at a time.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from crmsync import value_maps
from crmsync.config import TenantConfig
from crmsync.connectors.base import (
    WriteItem,
    WriteResult,
)
from crmsync.context import MAX_LOCK_RETRIES, SyncContext
from crmsync.engine import (
    after_write,
)
from crmsync.items import TimelineEntry
from crmsync.journal_notes import note
from crmsync.models import (
    Fields,
    ObjectType,
    Record,
    Side,
)
from crmsync.parking import parked_key
from crmsync.store import (
    ORIGIN_BASE,
    ORIGIN_SYNC,
    VersionConflict,
)

STORE_CONCURRENCY = 8
"""Records the push saves at once after a vendor batch (boto3 clients are thread-safe; their
connection pool holds 10)."""


def store_writes(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    side: Side,
    writes: list[tuple[Record, WriteItem, WriteResult, Fields]],
) -> None:
    """``_store_write`` for a vendor batch's successful writes, ``STORE_CONCURRENCY`` at a time.

    Each is one record's conditional writes (link, record), independent of the others; one after
    another they made a page of 100 creates take 200 DynamoDB round trips back to back, which bounds
    a stream shard's throughput (its batches are processed one at a time). A failure raises as before.
    """
    if len(writes) <= 1:
        for rec, item, result, fields in writes:
            _store_write(ctx, config, conn, side, rec, item, result, fields)
        return
    with ThreadPoolExecutor(max_workers=min(STORE_CONCURRENCY, len(writes))) as pool:
        # Each write runs in a copy of the caller's context: Powertools' Logger keys and the local
        # stack's IAM check (local/iam.py) follow the invocation into the writer threads.
        futures = [
            pool.submit(contextvars.copy_context().run, lambda w=w: _store_write(ctx, config, conn, side, *w))
            for w in writes
        ]
        for future in futures:
            future.result()


def _store_write(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    side: Side,
    rec: Record,
    item: WriteItem,
    result: WriteResult,
    canonical: Fields,
) -> None:
    """Save the target's new base and link; on a lock conflict re-read and merge again.

    ``canonical`` is what was written in crmsync's values (before a value map translated it for the
    CRM); the vendor's answer is translated back, so the base compares with the record.
    """
    assert result.external_id is not None
    written = dict(canonical)
    if rec.object_type is ObjectType.CONTACT:
        written["customer"] = rec.fields.get("customer")
    state = result.record
    if state is not None and rec.object_type is ObjectType.CONTACT:
        fields = dict(state.fields)
        fields["customer"] = rec.fields.get("customer")
        state = state.model_copy(update={"fields": fields})
    elif state is not None:
        translated, _ = value_maps.to_canonical(side, state.object_type, state.fields, config.value_maps)
        state = state.model_copy(update={"fields": translated})
    current: Record | None = rec
    for _ in range(MAX_LOCK_RETRIES):
        if current is None:
            return
        before = current.bases.get(conn)
        outcome = after_write(
            current,
            connection_id=conn,
            side=side,
            written=written,
            vendor_state=state,
            external_id=result.external_id,
            policy=config.field_policy,
            now=ctx.clock(),
        )
        new_link = {conn: result.external_id} if current.links.get(conn) != result.external_id else {}
        # Nothing for the other connections when the vendor's answer changed no field (the usual
        # case); a value the vendor assigned (e-conomic's customer number) must still flow on.
        origin = ORIGIN_SYNC if outcome.applied or outcome.conflicts else ORIGIN_BASE
        entry: TimelineEntry = {
            "at": ctx.clock(),
            "kind": "write",
            "decision": "written",
            "connection": conn,
            "action": "create" if item.external_id is None else "update",
            "external_id": result.external_id,
            "changes": {
                name: {"before": before.fields.get(name) if before else None, "after": value}
                for name, value in sorted(written.items())
            },
            "request_id": result.request_id,
        }
        try:
            ctx.store.save_record(outcome.record, new_links=new_link, origin=origin, log=[entry])
        except VersionConflict:
            current = ctx.store.get_record(config.tenant_id, rec.record_id)
            continue
        note(ctx, config.tenant_id, rec.record_id, entry)
        if conn in current.parked:
            ctx.store.unpark(config.tenant_id, parked_key(rec.record_id, conn))
        return
    raise VersionConflict(rec.record_id)
