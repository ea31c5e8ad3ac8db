"""Identity: which record a vendor record is, when numbers and ids move.

Verified e-conomic renumbering, HubSpot merges (the survivor keeps the record), numbers e-conomic
reuses after a delete, and exact counterparts found by a unique key.
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger

from crmsync import linking
from crmsync.config import TenantConfig
from crmsync.connectors.base import (
    Connector,
    SourceRecord,
)
from crmsync.context import SyncContext
from crmsync.engine import exact_key_of, free_for_exact_link, released_for_reuse
from crmsync.models import (
    ObjectType,
    Record,
    Side,
    Signal,
)

logger = Logger(child=True)


def links_to(record: Record | None, key: tuple[str, ObjectType, str]) -> bool:
    """Does ``record`` hold the link ``(connection, object type, external id)``?"""
    conn, obj, ext = key
    return record is not None and record.object_type is obj and record.links.get(conn) == ext


def renumber_confirmed(ctx: SyncContext, connector: Connector, signal: Signal, old_number: str) -> bool:
    """Is ``old_number -> signal.external_id`` a renumbering e-conomic itself shows?

    Only then may a link move: the old number is gone (the vendor no longer has it), the new one
    is there, and the new one is not linked to another record (read from the table, not from this
    invocation's cache). Both numbers are re-read through the connector (its rate budget): one
    ``$in:`` batch read, or one ``get`` of the old number when the new one was batch-read already.
    The new number's answer is kept for the reconcile, so confirming costs at most one vendor call.
    """
    tenant, conn, obj, new = signal.tenant_id, signal.connection_id, signal.object_type, signal.external_id
    if ctx.store.find_link(tenant, conn, obj, new) is not None:
        return False  # never steal another record's link
    was_read, new_source = ctx.prefetched_source(tenant, conn, obj, new)
    if was_read:
        old_present = connector.get(obj, old_number) is not None
    else:
        found = connector.get_many(obj, [old_number, new])
        new_source = found.get(new)
        old_present = old_number in found
        if new_source is not None:
            ctx.remember_source(tenant, conn, obj, new, new_source)  # the reconcile's read of the new number
    confirmed = not old_present and new_source is not None and new_source.external_id == new
    if not confirmed:
        logger.warning(
            "renumbering not confirmed by the vendor; handled as two signals",
            extra={"connection": conn, "old_present": old_present, "new_present": new_source is not None},
        )
    return confirmed


def follow_merge(
    ctx: SyncContext, record: Record, conn: str, merged: str, survivor: str, now: datetime
) -> None:
    """A merged-away id: its record follows the company to the survivor instead of anything being
    deleted and re-created.

    * the survivor has no record yet: the link is re-pointed to the survivor;
    * the survivor's record exists only in the CRM: the two are linked (as the link screen would), so
      the surviving company is linked to this record's accounting customer;
    * the survivor is linked to another customer already: this record lets go of the merged id and is
      never re-created there; both accounting customers stay (a person decides in the link screen).
    """
    tenant = record.tenant_id
    survivor_rid = ctx.store.find_link(tenant, conn, record.object_type, survivor)
    if survivor_rid == record.record_id:
        return
    moved = record.model_copy(deep=True)
    if survivor_rid is None:
        moved.links[conn] = survivor
        ctx.store.save_record(moved, new_links={conn: survivor}, removed_links={conn: merged})
        decision = "merged_repointed"
    else:
        moved.links.pop(conn, None)
        moved.bases.pop(conn, None)
        survivor_rec = ctx.store.get_record(tenant, survivor_rid)
        config = ctx.config(tenant)
        joinable = (
            survivor_rec is not None
            and linking.link_state(config, survivor_rec) == "crm_only"
            and linking.link_state(config, moved) == "accounting_only"
        )
        if not joinable and conn not in moved.blocked:
            moved.blocked.append(conn)
        ctx.store.save_record(moved, removed_links={conn: merged})
        if joinable:
            linking.link(ctx, tenant, survivor_rid, record.record_id)
            decision = "merged_linked"
        else:
            decision = "merged_into_other_record"
    ctx.store.journal(
        tenant,
        record.record_id,
        {
            "at": now,
            "kind": "signal",
            "decision": decision,
            "connection": conn,
            "external_id": survivor,
            "merged_id": merged,
        },
    )


def release_reused_id(ctx: SyncContext, record: Record, conn: str, ext: str, now: datetime) -> None:
    released = released_for_reuse(record, conn, ext)
    ctx.store.save_record(released, removed_links={conn: ext})
    ctx.store.journal(
        record.tenant_id,
        record.record_id,
        {"at": now, "kind": "signal", "decision": "id_reused", "connection": conn, "external_id": ext},
    )


def exact_counterpart(
    ctx: SyncContext, config: TenantConfig, side: Side, source: SourceRecord
) -> Record | None:
    """A CRM company that carries an accounting customer number belongs to that customer.

    The number is the accounting side's own id, so one lookup finds it; the match is taken only if
    that customer has no CRM counterpart yet. This runs before the new record is saved, so no push
    can create a duplicate customer in the meantime.
    """
    number = exact_key_of(side, source)
    if number is None:
        return None
    crm = {c.connection_id for c in config.connections if c.side is Side.CRM}
    for conn in config.connections:
        if conn.side is not Side.ACCOUNTING:
            continue
        rid = ctx.store.find_link(config.tenant_id, conn.connection_id, ObjectType.CUSTOMER, number)
        candidate = ctx.store.get_record(config.tenant_id, rid) if rid else None
        if candidate is not None and free_for_exact_link(candidate, crm):
            return candidate
    return None
