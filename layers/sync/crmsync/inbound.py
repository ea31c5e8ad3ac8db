"""Inbound: a signal becomes a record change (re-read the source, reconcile, conditional write).

Every entry point ends here: webhooks and scheduled pulls only enqueue ``Signal``s, the worker
calls ``handle_bundle`` / ``handle_signal``. The engine decides; this module does the I/O around it
and retries optimistic-lock conflicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from crmsync import value_maps
from crmsync.config import TenantConfig
from crmsync.connection_state import (
    CONNECTION_FAILURES,
    circuit_open,
    connection_failed,
    connection_succeeded,
    failed_connection,
)
from crmsync.connectors.base import (
    Connector,
    SourceRecord,
    VendorError,
)
from crmsync.context import MAX_LOCK_RETRIES, SyncContext, UnknownTenant
from crmsync.deletes import on_source_deleted
from crmsync.engine import (
    Decision,
    ReconcileOutcome,
    enters_timeline,
    reconcile,
)
from crmsync.errors import NotFound, UnknownConnection
from crmsync.identity import exact_counterpart, follow_merge, links_to, release_reused_id, renumber_confirmed
from crmsync.items import TimelineEntry
from crmsync.journal_notes import note
from crmsync.models import (
    Base,
    ConflictStatus,
    ConnectionKind,
    ObjectType,
    Record,
    Signal,
    SignalBundle,
    SyncMode,
)
from crmsync.parking import park_signal
from crmsync.signal_queue import retry_delay
from crmsync.store import (
    LinkTaken,
    StoreError,
    VersionConflict,
    new_record_id,
)

logger = Logger(child=True)


@dataclass
class SignalOutcome:
    decision: str
    record_id: str | None = None
    applied: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    renumbered_from: str | None = None
    """The old number when this signal moved a verified e-conomic renumbering's link."""


def handle_signal_contained(ctx: SyncContext, signal: Signal) -> SignalOutcome:
    """``handle_signal``, with a failure of the tenant connection parked instead of raised.

    A missing or unreadable secret, or credentials the vendor refuses, belong to that tenant
    connection: the signal is parked with the reason (visible, replayable), the connection is marked
    ``needs_attention``, and the rest of the batch (other tenants' signals) goes on.
    """
    config = ctx.config(signal.tenant_id)
    reason = circuit_open(ctx, config, signal.connection_id, force=signal.source == "replay")
    if reason is None:
        try:
            outcome = handle_signal(ctx, signal)
        except CONNECTION_FAILURES as exc:
            reason = connection_failed(ctx, config, failed_connection(exc, signal.connection_id), exc)
        else:
            connection_succeeded(ctx, config, signal.connection_id)
            return outcome
    park_signal(ctx, signal, reason)
    ctx.decisions["parked"] += 1
    return SignalOutcome(decision="parked")


def handle_signal(ctx: SyncContext, signal: Signal) -> SignalOutcome:
    """Re-read the source record, reconcile it into crmsync's record and save (version-checked)."""
    config = ctx.config(signal.tenant_id)
    # Every mode records what it sees (``off`` too: switching on later starts from the truth);
    # whether anything is written to a vendor is the push's decision.
    connector = ctx.connectors.get(config, signal.connection_id)
    for _ in range(MAX_LOCK_RETRIES):
        try:
            outcome = _reconcile_once(ctx, config, connector, signal)
        except (VersionConflict, LinkTaken):
            continue  # somebody else wrote first: read again and decide again
        ctx.decisions[outcome.decision] += 1
        old_number = signal.hint.get("old_number")
        if old_number and old_number != signal.external_id and outcome.renumbered_from is None:
            # An unverified renumbering (a forged or stale webhook, a number taken by another record)
            # is two ordinary signals: the new number was reconciled as itself, now the old one.
            hint = {k: v for k, v in signal.hint.items() if k != "old_number"}
            plain = signal.model_copy(update={"external_id": old_number, "hint": hint})
            if ctx.first_in_invocation(plain):
                handle_signal(ctx, plain)
        return outcome
    raise VersionConflict(f"gave up after {MAX_LOCK_RETRIES} optimistic-lock retries")


def parse_signals(bodies: Iterable[str]) -> list[Signal]:
    """Valid signals among message bodies, bundles unpacked (an invalid one fails in the record handler)."""
    out: list[Signal] = []
    for body in bodies:
        try:
            out += SignalBundle.model_validate_json(body).signals
        except ValueError:
            try:
                out.append(Signal.model_validate_json(body))
            except ValueError:
                continue
    return out


def handle_bundle(ctx: SyncContext, bundle: SignalBundle) -> list[SignalOutcome]:
    """Reconcile every signal of a bundle; the ones that fail are re-queued one per message.

    A bundle of one fails as a whole instead (SQS retries it, and parks it after its last receive), so a
    signal that keeps failing is never re-queued in a circle.
    """
    if len(bundle.signals) == 1:
        (signal,) = bundle.signals
        if not ctx.first_in_invocation(signal):
            return [SignalOutcome(decision="coalesced")]
        return [handle_signal_contained(ctx, signal)]
    outcomes: list[SignalOutcome] = []
    failed: list[Signal] = []
    retry_after = 0.0
    with ctx.journal_batch():
        for signal in bundle.signals:
            if not ctx.first_in_invocation(signal):
                outcomes.append(SignalOutcome(decision="coalesced"))
                continue
            try:
                outcomes.append(handle_signal_contained(ctx, signal))
            except Exception as exc:
                logger.warning("signal failed; re-queued alone", extra={"connection": signal.connection_id})
                failed.append(signal)
                retry_after = max(retry_after, getattr(exc, "retry_after", None) or 0.0)
    if failed:
        assert ctx.queue is not None
        # Back after the first retry delay, as if it had failed alone (raises EnqueueError: then the
        # whole bundle is retried).
        ctx.queue.send_one_each(failed, delay=retry_delay(1, retry_after, base=ctx.queue.retry_base))
    return outcomes


def prefetch(ctx: SyncContext, signals: list[Signal]) -> None:
    """Batch-read the source records of a batch of signals (HubSpot reads 100 per call).

    A failed batch read is not an error: each signal then reads its record on its own.
    """
    groups: dict[tuple[str, str, ObjectType], set[str]] = defaultdict(set)
    for s in signals:
        groups[(s.tenant_id, s.connection_id, s.object_type)].add(s.external_id)
    for (tenant, conn, obj), ids in groups.items():
        if len(ids) < 2:
            continue
        try:
            config = ctx.config(tenant)
        except UnknownTenant:
            continue
        if circuit_open(ctx, config, conn) is not None:
            continue  # parked at once by the signals themselves
        try:
            found = ctx.connectors.get(config, conn).get_many(obj, sorted(ids))
        except CONNECTION_FAILURES as exc:
            # That tenant connection's failure: marked here, so its signals are parked without a call each.
            connection_failed(ctx, config, failed_connection(exc, conn), exc)
            continue
        except (UnknownConnection, VendorError):
            continue
        connection_succeeded(ctx, config, conn)
        for ext, source in found.items():
            # Only what the batch returned: a missing id may be deleted *or* merged into another
            # (a batch read does not say which), so it is read on its own.
            ctx.remember_source(tenant, conn, obj, ext, source)
    _prefetch_state(ctx, signals)


def _prefetch_state(ctx: SyncContext, signals: list[Signal]) -> None:
    """Batch-read the links, records and contacts' customer links the signals will need.

    Without this every signal costs two or three single-item reads; with it a batch of 1,000
    signals costs about 30 requests. Only a contact's customer link that exists is kept (a
    customer that appears during the invocation must not look unknown).
    """
    by_tenant: dict[str, set[tuple[str, ObjectType, str]]] = defaultdict(set)
    hinted: dict[str, dict[tuple[str, ObjectType, str], str]] = defaultdict(dict)
    for s in signals:
        key = (s.connection_id, s.object_type, s.external_id)
        _, source = ctx.prefetched_source(s.tenant_id, s.connection_id, s.object_type, s.external_id)
        if source is not None and source.record_id and source.external_id == s.external_id:
            hinted[s.tenant_id][key] = source.record_id  # the record read directly, no link read
        else:
            by_tenant[s.tenant_id].add(key)
    for tenant, conn, obj_type, source in ctx.prefetched_sources():
        if obj_type is ObjectType.CONTACT and source is not None and source.parent_external_id:
            by_tenant[tenant].add((conn, ObjectType.CUSTOMER, source.parent_external_id))
    for tenant in by_tenant.keys() | hinted.keys():
        keys, hints = by_tenant[tenant], hinted[tenant]
        if len(keys) + len(hints) < 2:
            continue
        try:
            links = ctx.store.find_links(tenant, keys) if keys else {}
            wanted = {rid for rid in links.values() if rid} | set(hints.values())
            records = ctx.store.get_records(tenant, wanted)
            # A hint is a vendor's copy of crmsync's id (a person can edit it, an unlink leaves it
            # behind): it counts only when that record's link names this very external id.
            unproven = {k for k, rid in hints.items() if k not in links and not links_to(records.get(rid), k)}
            if unproven:
                links |= ctx.store.find_links(tenant, unproven)
                records |= ctx.store.get_records(
                    tenant, {rid for k in unproven if (rid := links[k]) and rid not in records}
                )
        except StoreError:
            continue  # each signal then reads on its own
        for key, rid in hints.items():
            links.setdefault(key, rid)
        for (conn, obj, ext), rid in links.items():
            ctx.remember_link(tenant, conn, obj, ext, rid)
        for record in records.values():
            ctx.remember_record(record)


def _reconcile_once(
    ctx: SyncContext, config: TenantConfig, connector: Connector, signal: Signal
) -> SignalOutcome:
    store, tenant, conn = ctx.store, signal.tenant_id, signal.connection_id
    obj, ext = signal.object_type, signal.external_id
    now = ctx.clock()
    new_links: dict[str, str] = {}
    removed_links: dict[str, str] = {}

    record_id = ctx.find_link(tenant, conn, obj, ext)
    old_number = signal.hint.get("old_number")
    if record_id is None and old_number and old_number != ext:
        # e-conomic renumbered the customer: move the link, keep the record; but only once the
        # vendor confirms it (the webhook URL's numbers are not proof of anything).
        old_record_id = store.find_link(tenant, conn, obj, old_number)
        if old_record_id is not None and renumber_confirmed(ctx, connector, signal, old_number):
            record_id = old_record_id
            removed_links[conn] = old_number
            new_links[conn] = ext
    record = ctx.get_record(tenant, record_id) if record_id else None

    source = ctx.read_source(connector, signal)
    reuses_ids = config.connection(conn).kind is ConnectionKind.ECONOMIC  # HubSpot ids are never reused
    if reuses_ids and record is not None and source is not None and record.bases.get(conn, Base()).deleted:
        # The id was deleted there and now answers again: e-conomic reuses deleted customer numbers,
        # so this is another customer. The old record lets go of the id (and is never re-created
        # there); the new customer becomes a record of its own.
        release_reused_id(ctx, record, conn, ext, now)
        record, record_id = None, None
    if source is None:
        if record is None:
            return SignalOutcome(decision="unknown_deleted")
        base = record.bases.get(conn) or Base()
        if base.deleted:
            return SignalOutcome(decision=Decision.UNCHANGED, record_id=record.record_id)
        # A tombstone: the other side is never deleted automatically (a partial read must not
        # turn into a mass delete); the journal shows it.
        record.bases[conn] = base.model_copy(update={"deleted": True, "updated_at": now})
        store.save_record(record)
        record.version += 1

        other_side = on_source_deleted(ctx, config, record, conn, now)
        store.journal(
            tenant,
            record.record_id,
            {
                "at": now,
                "kind": "signal",
                "signal": signal.source,
                "decision": "source_deleted",
                "connection": conn,
                "other_side": other_side,
            },
        )
        return SignalOutcome(decision="source_deleted", record_id=record.record_id)

    if source.external_id != ext:
        # The vendor answered for another id: the record was merged into that one (HubSpot serves
        # a merged-away id as its survivor). Re-point the link, then reconcile the survivor instead
        # of deleting and re-creating anything.
        if record is not None:
            follow_merge(ctx, record, conn, ext, source.external_id, now)
        return _reconcile_once(
            ctx, config, connector, signal.model_copy(update={"external_id": source.external_id})
        )
    source = _resolve_parent(ctx, config, connector, conn, source, signal)
    side = config.connection(conn).side
    translated, unmapped = value_maps.to_canonical(side, obj, source.fields, config.value_maps)
    source = source.model_copy(update={"fields": translated})
    if (
        record is None
        and record_id is None
        and config.auto_link_exact
        and config.sync_mode is SyncMode.AUTOMATIC
    ):
        record = exact_counterpart(ctx, config, side, source)
        if record is not None:
            new_links[conn] = ext  # joins the existing customer instead of becoming a duplicate
    if record is None:
        # No record yet, or a link claimed by a write that crashed before the record landed:
        # complete that record (same id) rather than creating a second one.
        record = Record(tenant_id=tenant, record_id=record_id or new_record_id(obj), object_type=obj)
        new_links[conn] = ext
    parent_before = record.fields.get("customer")
    if new_links:
        record.links[conn] = ext
    unmapped_moved = unmapped is not None and unmapped != record.unmapped
    if unmapped is not None:
        record.unmapped = unmapped
    outcome = reconcile(record, source, connection_id=conn, side=side, policy=config.field_policy, now=now)
    previous_base = record.bases.get(conn)
    base_moved = (
        previous_base is None
        or previous_base.fields != source.fields
        or previous_base.version != source.version
    )
    # The timeline: every signal and its decision, with the values it changed (``enters_timeline``).
    entry = None
    if enters_timeline(signal.source, outcome.decision, bool(new_links)):
        entry = _signal_entry(record, signal, conn, source, outcome, unmapped, removed_links, now)
    if outcome.applied or outcome.conflicts or new_links or removed_links or base_moved or unmapped_moved:
        ctx.saved(outcome.record, [*new_links.items(), *removed_links.items()])
        store.save_record(
            outcome.record,
            new_links=new_links,
            removed_links=removed_links,
            parent_before=parent_before,
            log=[entry] if entry else [],  # lands with the change it describes
        )
    elif entry:
        ctx.journal(tenant, record.record_id, entry)  # nothing to save (an echo, say): its own item
    if entry and outcome.conflicts:
        note(ctx, tenant, record.record_id, entry)  # the CRM journal: a conflict a person should see
    for conflict in outcome.conflicts:
        store.put_conflict(conflict)
    logger.debug("reconciled", extra={"record_id": record.record_id, "decision": outcome.decision.value})
    return SignalOutcome(
        decision=outcome.decision.value,
        record_id=record.record_id,
        applied=sorted(outcome.applied),
        conflicts=[c.field for c in outcome.conflicts],
        renumbered_from=removed_links.get(conn),
    )


def _signal_entry(
    record: Record,
    signal: Signal,
    conn: str,
    source: SourceRecord,
    outcome: ReconcileOutcome,
    unmapped: dict[str, str] | None,
    removed_links: dict[str, str],
    now: datetime,
) -> TimelineEntry:
    """The timeline entry of a reconciled signal (``record`` is the record before it)."""
    return {
        "at": now,
        "kind": "signal",
        "signal": signal.source,
        "connection": conn,
        "external_id": source.external_id,
        "decision": outcome.decision.value,
        "changes": {
            name: {"before": record.fields.get(name), "after": value}
            for name, value in sorted(outcome.applied.items())
        },
        "conflicts": [c.field for c in outcome.conflicts if c.status is not ConflictStatus.OVERRIDDEN],
        "held": outcome.held,
        "overridden": outcome.overridden,
        "unmapped": sorted(unmapped or {}),
        "renumbered_from": removed_links.get(conn),
    }


def _resolve_parent(
    ctx: SyncContext,
    config: TenantConfig,
    connector: Connector,
    conn: str,
    source: SourceRecord,
    signal: Signal,
) -> SourceRecord:
    """Contacts carry their customer, customers their parent account (where the connector has a
    hierarchy: Dynamics), as crmsync's record id, so both sides compare equal."""
    field = "customer"
    if source.object_type is ObjectType.CUSTOMER:
        if "parent_account" not in connector.supported_fields(ObjectType.CUSTOMER):
            return source  # this side has no hierarchy: it says nothing about the field
        field = "parent_account"
    parent = source.parent_external_id
    parent_rid = _parent_record(ctx, conn, signal, source, parent) if parent else None
    return source.model_copy(update={"fields": {**source.fields, field: parent_rid}})


_resolving: ContextVar[frozenset[tuple[str, str, str]]] = ContextVar("resolving_parents", default=frozenset())
"""The records this call stack is reconciling a parent for: a hierarchy with a cycle (A under B under
A, possible while a person re-parents) ends there instead of recursing."""


def _parent_record(
    ctx: SyncContext, conn: str, signal: Signal, child: SourceRecord, parent_ext: str
) -> str | None:
    """The record id of the parent customer; one crmsync does not know yet is reconciled first, so the
    child lands attached (one level at a time; a cycle stops at the record already on the way)."""
    tenant = signal.tenant_id
    parent_rid = ctx.find_link(tenant, conn, ObjectType.CUSTOMER, parent_ext, trust_miss=False)
    on_the_way = _resolving.get()
    if parent_rid is not None or (conn, ObjectType.CUSTOMER.value, parent_ext) in on_the_way:
        return parent_rid
    token = _resolving.set(on_the_way | {(conn, child.object_type.value, child.external_id)})
    try:
        parent = Signal(
            tenant_id=tenant,
            connection_id=conn,
            object_type=ObjectType.CUSTOMER,
            external_id=parent_ext,
            source=signal.source,
        )
        handle_signal(ctx, parent)
    finally:
        _resolving.reset(token)
    return ctx.store.find_link(tenant, conn, ObjectType.CUSTOMER, parent_ext)


def sync_now(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    """Re-read every linked side of one record now (the API's "sync this record")."""
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        raise NotFound(record_id)
    results: dict[str, Any] = {}
    for conn, ext in sorted(record.links.items()):
        try:
            out = handle_signal(
                ctx,
                Signal(
                    tenant_id=tenant_id,
                    connection_id=conn,
                    object_type=record.object_type,
                    external_id=ext,
                    source="api",
                ),
            )
            results[conn] = {"decision": out.decision, "applied": out.applied, "conflicts": out.conflicts}
        except CONNECTION_FAILURES as exc:
            config = ctx.config(tenant_id)
            reason = connection_failed(ctx, config, failed_connection(exc, conn), exc)
            results[conn] = {"decision": "error", "error": reason}
        except VendorError as exc:
            results[conn] = {"decision": "error", "error": exc.message}
        else:
            connection_succeeded(ctx, ctx.config(tenant_id), conn)
    return results
