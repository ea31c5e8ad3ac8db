"""Outbound: changed records are written to every other connection of their tenant, batched per call.

The engine plans each write (``plan_push``); a target changed since crmsync last read it is
reconciled first (the stale check), a refused write is parked, a retryable one goes back to the queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from crmsync import preflight, value_maps
from crmsync.budget import Priority
from crmsync.config import TenantConfig, TransferTiming
from crmsync.connection_state import (
    CONNECTION_FAILURES,
    circuit_open,
    connection_failed,
    connection_succeeded,
    failed_connection,
)
from crmsync.connectors.base import (
    AuthError,
    Connector,
    TransientError,
    VendorError,
    WriteItem,
    WriteResult,
)
from crmsync.context import SyncContext, UnknownTenant
from crmsync.engine import (
    PushAction,
    contact_follows_customer,
    may_create,
    plan_push,
)
from crmsync.inbound import handle_signal
from crmsync.messages import PushRequest
from crmsync.models import (
    Fields,
    ObjectType,
    Record,
    Side,
    Signal,
)
from crmsync.parking import park_pushes, park_write, push_later
from crmsync.signal_queue import EnqueueError
from crmsync.write_back import store_writes

logger = Logger(child=True)


@dataclass
class PushReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    parked: int = 0
    stale: int = 0
    """Writes held back because the target changed meanwhile (reconciled first, then pushed again)."""
    failed: list[str] = field(default_factory=list)
    """Record ids whose write failed in a way worth retrying (the stream retries them)."""
    retry_after: float = 0.0
    """The longest wait a vendor or the rate budget asked for among those failures (0: none said)."""


def push_records(ctx: SyncContext, records: Iterable[Record], *, force: bool = False) -> PushReport:
    """Write changed records to every other connection of their tenant, batched per vendor call.

    ``records`` are stream images; several images of one record collapse to the newest. Customers
    go before contacts, so a new contact can be attached to its (possibly just created) customer.
    A target connection that fails as a whole (its secret, its credentials) or needs attention
    (``circuit_open``; ``force``: a person's replay tries anyway) gets its records parked as one
    replayable push per 100 records; every other tenant connection is written as usual.
    """
    report = PushReport()
    latest: dict[tuple[str, str], Record] = {}
    for rec in records:
        key = (rec.tenant_id, rec.record_id)
        if key not in latest or latest[key].version <= rec.version:
            latest[key] = rec
    by_tenant: dict[str, list[Record]] = defaultdict(list)
    for (tenant, _), rec in latest.items():
        by_tenant[tenant].append(rec)
    with ctx.journal_batch():
        for tenant, recs in by_tenant.items():
            try:
                config = ctx.config(tenant)
            except UnknownTenant:
                continue
            broken: dict[str, str] = {}
            for obj in (ObjectType.CUSTOMER, ObjectType.CONTACT):
                group = [r for r in recs if r.object_type is obj]
                for target in config.connections:
                    conn = target.connection_id
                    if not group:
                        continue
                    reason = broken.get(conn) or circuit_open(ctx, config, conn, force=force)
                    if reason is None:
                        written = report.created + report.updated
                        try:
                            _push_group(ctx, config, conn, obj, group, report)
                        except CONNECTION_FAILURES as exc:
                            failed = failed_connection(exc, conn)
                            reason = connection_failed(ctx, config, failed, exc)
                            broken[failed] = reason
                        else:
                            if report.created + report.updated > written:
                                connection_succeeded(ctx, config, conn)
                            continue
                    broken[conn] = reason
                    park_pushes(ctx, tenant, [r.record_id for r in group], reason)
                    report.parked += len(group)
    return report


def _push_group(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    obj: ObjectType,
    records: list[Record],
    report: PushReport,
) -> None:
    connector = ctx.connectors.get(config, conn)
    side = config.connection(conn).side
    supported = connector.supported_fields(obj)
    if obj is ObjectType.CONTACT:
        supported = supported | {"customer"}  # the association, carried as the parent's record id
    items: list[WriteItem] = []
    by_id: dict[str, Record] = {}
    canonical: dict[str, Fields] = {}
    only_customers = config.transfer_timing is TransferTiming.ON_CUSTOMER_STAGE
    parents: dict[str, Record] = {}
    if obj is ObjectType.CONTACT:
        # The contacts' customers in one batch read (customers are pushed first, so these are current).
        wanted = {r.fields.get("customer") for r in records}
        parents = ctx.store.get_records(config.tenant_id, {p for p in wanted if isinstance(p, str)})
    for rec in records:
        allowed = may_create(
            rec, connection_id=conn, side=side, mode=config.sync_mode, only_customers_stage=only_customers
        )
        if obj is ObjectType.CONTACT and not allowed:
            parent = parents.get(str(rec.fields.get("customer")))
            allowed = contact_follows_customer(rec, parent, conn, config.sync_mode)
        plan = plan_push(
            rec,
            connection_id=conn,
            side=side,
            supported=supported,
            policy=config.field_policy,
            mode=config.sync_mode,
            create_allowed=allowed,
        )
        if plan is None:
            report.unchanged += 1
            continue
        fields = dict(plan.fields)
        parent_ext = None
        if obj is ObjectType.CONTACT and (plan.action is PushAction.CREATE or "customer" in fields):
            parent_rid = rec.fields.get("customer")
            parent_ext, retry = _parent_on_target(
                ctx, config, conn, parent_rid if isinstance(parent_rid, str) else None, parents
            )
            if parent_ext is None and plan.action is PushAction.CREATE:
                if retry:
                    report.failed.append(rec.record_id)  # its customer's create failed: retry later
                else:
                    report.unchanged += 1  # its customer does not go there: nothing to attach it to
                continue
        fields.pop("customer", None)
        if not fields and parent_ext is None:
            report.unchanged += 1
            continue
        external_id = rec.links.get(conn) if plan.action is PushAction.UPDATE else None
        refused = _preflight(connector, side, obj, rec, fields, external_id)
        if refused:
            park_write(
                ctx, config, conn, rec, plan.action.value, "; ".join(refused), "preflight", None, fields
            )
            report.parked += 1
            continue
        canonical[rec.record_id] = dict(fields)
        expected = {k: v for k, v in plan.expected.items() if k in fields}
        if value_maps.translates(side, obj):
            fields = value_maps.to_vendor(side, obj, fields, config.value_maps)  # unmapped values stay behind
            expected = value_maps.to_vendor(side, obj, expected, config.value_maps)
            if not fields and parent_ext is None:
                report.unchanged += 1
                continue
        by_id[rec.record_id] = rec
        items.append(
            WriteItem(
                record_id=rec.record_id,
                external_id=external_id,
                fields=fields,
                parent_external_id=parent_ext,
                version=(rec.bases[conn].version if conn in rec.bases else None),
                expected=expected if external_id else {},
            )
        )
    if not items:
        return
    results = _write_contained(connector, obj, items)
    written = [(i, r) for i, r in zip(items, results, strict=True) if r.ok and r.external_id]
    store_writes(
        ctx, config, conn, side, [(by_id[i.record_id], i, r, canonical[i.record_id]) for i, r in written]
    )
    for item, result in zip(items, results, strict=True):
        rec = by_id[item.record_id]
        if result.ok and result.external_id:
            if item.external_id is None:
                report.created += 1
            else:
                report.updated += 1
        elif result.error_code == "stale" and item.external_id:
            # A person changed the target since crmsync last read it: reconcile that edit first (it
            # applies, conflicts or is kept as overridden); the saved record is pushed again.
            report.stale += 1
            handle_signal(
                ctx,
                Signal(
                    tenant_id=config.tenant_id,
                    connection_id=conn,
                    object_type=obj,
                    external_id=item.external_id,
                    source="push_check",
                ),
            )
        elif result.retryable:
            report.failed.append(rec.record_id)
            report.retry_after = max(report.retry_after, result.retry_after or 0.0)
        else:
            report.parked += 1
            action = "create" if item.external_id is None else "update"
            reason = result.error or "refused"
            park_write(
                ctx, config, conn, rec, action, reason, result.error_code, result.request_id, item.fields
            )


def _write_contained(connector: Connector, obj: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
    """``connector.write``, with a failed check before the updates contained to the items it checked.

    An update that carries ``expected`` makes the connector read its target first (HubSpot's stale
    check: one batch read per 100, before anything is written). When that read fails, the connector
    raises for the whole call; the failure belongs to the checked updates alone, so they get it as
    their result (retryable: the push's retry path; otherwise parked like a refusal) and every other
    item is written in a second call. An auth failure is the connection's, not a record's: it still
    fails the push, as does a failure with no checked item to blame or one of the second call.
    """
    try:
        return connector.write(obj, items)
    except AuthError:
        raise
    except VendorError as exc:
        checked = [i for i, it in enumerate(items) if it.expected and it.external_id]
        if not checked:
            raise
        failure = exc
    logger.warning(
        "check before update failed; those records retried or parked, the rest written",
        extra={"checked": len(checked), "retryable": failure.retryable, "code": failure.code},
    )
    results: dict[int, WriteResult] = {
        i: WriteResult(
            record_id=items[i].record_id,
            ok=False,
            error=f"reading the target before the update failed: {failure.message}",
            error_code="check_failed",  # never "stale": nothing was read, there is nothing to reconcile
            retryable=failure.retryable,
            request_id=failure.request_id,
            retry_after=failure.retry_after,
        )
        for i in checked
    }
    rest = [i for i in range(len(items)) if i not in results]
    if rest:
        for i, result in zip(rest, connector.write(obj, [items[i] for i in rest]), strict=True):
            results[i] = result
    return [results[i] for i in range(len(items))]


def _preflight(
    connector: Connector, side: Side, obj: ObjectType, rec: Record, fields: Fields, external_id: str | None
) -> list[str]:
    """Reasons the accounting side must not get this write (see ``crmsync.preflight``)."""
    if side is not Side.ACCOUNTING:
        return []
    if obj is ObjectType.CONTACT:
        return preflight.check_contact(fields)
    booked = getattr(connector, "has_booked_invoices", None)
    return preflight.check_customer(
        fields,
        creating=external_id is None,
        record_fields=rec.fields,
        has_booked_invoices=(lambda: bool(booked(external_id))) if booked and external_id else None,
    )


def _parent_on_target(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    parent_rid: str | None,
    parents: dict[str, Record],
) -> tuple[str | None, bool]:
    """The customer's external id on ``conn`` (creating it first if it may be created there).

    Returns ``(external id, retry)``: ``retry`` is True when the customer should be there but its
    create failed, so the contact is retried with its stream batch rather than dropped.
    """
    if not parent_rid:
        return None, False
    parent = parents.get(parent_rid)
    if parent is None:
        return None, False
    if conn not in parent.links:
        only_customers = config.transfer_timing is TransferTiming.ON_CUSTOMER_STAGE
        side = config.connection(conn).side
        if not may_create(
            parent, connection_id=conn, side=side, mode=config.sync_mode, only_customers_stage=only_customers
        ):
            return None, False
        # Bring the customer over first (idempotent: upsert by record id / Idempotency-Key).
        _push_group(ctx, config, conn, ObjectType.CUSTOMER, [parent], PushReport())
        parent = ctx.store.get_record(config.tenant_id, parent_rid)
        if parent is not None:
            parents[parent_rid] = parent
    ext = parent.links.get(conn) if parent else None
    return ext, ext is None


def push_requested(ctx: SyncContext, request: PushRequest) -> PushReport:
    """Run a queued push; a retryable failure raises so the queue retries it."""
    records = [r for rid in request.record_ids if (r := ctx.store.get_record(request.tenant_id, rid))]
    report = push_records(ctx, records, force=request.replay)
    if report.failed:
        # The queue's retry waits at least what the vendor asked for (worker: signal_queue.retry_delay).
        raise TransientError(
            f"{len(report.failed)} record(s) could not be written yet", retry_after=report.retry_after or None
        )
    return report


def push_changes(
    ctx: SyncContext, records: list[Record], sequence: dict[str, str]
) -> tuple[PushReport, list[str]]:
    """Push a stream batch's changed records; returns the report and the stream sequence numbers to
    retry (``sequence``: record id -> its record's sequence number).

    A write that failed on a retryable vendor error moves to the queue as a ``PushRequest``, so the
    stream's shard never blocks retrying a vendor that throttles; only when the queue is unreachable are
    its records handed back to the stream (Lambda then retries from the first failed sequence number).
    """
    ctx.forget_configs()
    ctx.priority = Priority.LIVE  # a stream change is written out now; its retries go to the live queue
    report = push_records(ctx, records)
    if not report.failed:
        return report, []
    tenants = {r.record_id: r.tenant_id for r in records}
    failed: dict[str, list[str]] = {}
    for rid in dict.fromkeys(report.failed):
        failed.setdefault(tenants.get(rid, ""), []).append(rid)
    try:
        push_later(ctx, {t: ids for t, ids in failed.items() if t})
    except EnqueueError:  # the queue is unreachable: let the stream retry these records instead
        return report, [sequence[rid] for rid in report.failed if rid in sequence]
    return report, []
