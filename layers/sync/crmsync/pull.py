"""The scheduled pull: what changed since each checkpoint (with a lookback) becomes signals.

Checkpoints move only after every signal of a pull was enqueued; what crmsync already saw in the
lookback costs no signal.

A connector with change tracking (``DeltaReader``: Dataverse) is read by its delta link instead of a
time window: its first read (no link) is a backfill of every row, later reads return what changed and
what was deleted (deletions in the vendor's own words: each becomes a signal the worker confirms by a
404 on re-read). A link the vendor refuses as too old starts a *full compare*: every row is read again
and signalled (what crmsync holds is compared, absence deletes nothing), recorded on the checkpoint for
the health view, logged and counted (``PullFullCompare``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, islice

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from crmsync import value_maps
from crmsync.budget import Priority
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
    DeltaExpired,
    DeltaPage,
    DeltaReader,
    SourceRecord,
    VendorRefusedError,
)
from crmsync.context import SyncContext, UnknownTenant
from crmsync.facts_refresh import due_refreshes
from crmsync.items import DeltaCheckpoint, FullCompare
from crmsync.messages import DriftRun
from crmsync.models import (
    Fields,
    ObjectType,
    Signal,
    SyncMode,
)
from crmsync.store import (
    StoreError,
)

logger = Logger(child=True)
metrics = Metrics()  # Powertools shares the metric set: the handler's ``log_metrics`` flushes these

PULL_CHUNK = 1000
"""Records a pull compares and enqueues at a time (one e-conomic page; ten HubSpot search pages)."""
DELTA_PAGES_PER_RUN = 4
"""Change-tracking pages one run reads per connection and object type (Dataverse: 5,000 rows a page):
a bigger read resumes on the next run (``DeltaCheckpoint.resume_link``). Bounds a run's time and each
tenant's share of it."""
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class PullReport:
    enqueued: int = 0
    seen: int = 0
    """Records the pull read that crmsync had already seen exactly so (not enqueued)."""
    checkpoints: dict[str, str] = field(default_factory=dict)
    needs_attention: dict[str, str] = field(default_factory=dict)
    """``tenant/connection`` -> reason, for the connections that failed or wait for their next probe."""
    failed: dict[str, str] = field(default_factory=dict)
    """``tenant/connection`` -> error, for other failures (the pull raises the first after the rest ran)."""
    full_compares: dict[str, int] = field(default_factory=dict)
    """``tenant/connection/object`` -> rows read, for the change-tracking reads that had to start over."""
    resumable: dict[str, int] = field(default_factory=dict)
    """``tenant/connection/object`` -> rows read, for the change-tracking reads the next run goes on with."""
    facts_refreshes: int = 0
    """Facts refreshes and drift reports queued (``crmsync.facts_refresh``, ``crmsync.drift``: one of each
    per tenant and period)."""


def pull(ctx: SyncContext, tenants: list[str] | None = None) -> PullReport:
    """Enqueue a signal for every record changed since each checkpoint minus the lookback.

    The checkpoint moves only after every signal of that connection and type was enqueued, and to
    the newest modification time the vendor reported (its clock, not ours).

    Each tenant connection is pulled on its own: a failure stays with it. A failed secret or refused
    credentials mark the connection ``needs_attention`` (no retry helps; the schedule tick succeeds);
    any other failure is raised once every other connection was pulled, so the schedule's retry and
    the error alarm still see it.
    """
    assert ctx.queue is not None
    ctx.priority = Priority.BULK  # a pull is catch-up work: live changes go first on the rate budget
    report = PullReport()
    errors: list[Exception] = []
    for tenant in tenants or ctx.store.list_tenants():
        try:
            config = ctx.config(tenant)
        except UnknownTenant:
            continue  # listed, but its config is gone
        if config.sync_mode is SyncMode.OFF:
            continue
        for conn in config.connections:
            name = f"{tenant}/{conn.connection_id}"
            reason = circuit_open(ctx, config, conn.connection_id)
            if reason is not None:
                report.needs_attention[name] = reason
                continue
            try:
                _pull_connection(ctx, config, conn.connection_id, report)
            except CONNECTION_FAILURES as exc:
                failed = failed_connection(exc, conn.connection_id)
                report.needs_attention[f"{tenant}/{failed}"] = connection_failed(ctx, config, failed, exc)
            except Exception as exc:
                logger.exception(
                    "pull of a tenant connection failed",
                    extra={"tenant": tenant, "connection": conn.connection_id},
                )
                report.failed[name] = type(exc).__name__
                errors.append(exc)
            else:
                connection_succeeded(ctx, config, conn.connection_id)
        _queue_facts_refresh(ctx, config, report, errors)
    if errors:
        raise errors[0]
    return report


def _queue_facts_refresh(
    ctx: SyncContext, config: TenantConfig, report: PullReport, errors: list[Exception]
) -> None:
    """Queue the tenant's accounting-facts refresh and drift report when their periods have come (bulk
    lane; each claimed in the table, so queued once a period)."""
    assert ctx.queue is not None
    try:
        due: list[BaseModel] = [*due_refreshes(ctx, config, ctx.clock())]
        now = ctx.clock().timestamp()
        if config.drift_hours and ctx.store.claim_drift_run(config.tenant_id, now, config.drift_hours * 3600):
            due.append(DriftRun(tenant_id=config.tenant_id))
        report.facts_refreshes += ctx.queue.send(due)
    except Exception as exc:  # the pull of every other tenant goes on; the schedule's retry sees it
        logger.exception("queueing the facts refresh failed", extra={"tenant": config.tenant_id})
        report.failed[f"{config.tenant_id}/facts"] = type(exc).__name__
        errors.append(exc)


def _pull_connection(ctx: SyncContext, config: TenantConfig, conn: str, report: PullReport) -> None:
    connector = ctx.connectors.get(config, conn)
    for obj in (ObjectType.CUSTOMER, ObjectType.CONTACT):
        if isinstance(connector, DeltaReader):
            _pull_delta(ctx, config, conn, connector, obj, report)
        else:
            _pull_changed_since(ctx, config, conn, connector, obj, report)


def _pull_changed_since(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    connector: Connector,
    obj: ObjectType,
    report: PullReport,
) -> None:
    """Records modified since the checkpoint minus the lookback; the checkpoint moves to the newest."""
    tenant = config.tenant_id
    cursor = ctx.store.get_checkpoint(tenant, conn, obj)
    since = (cursor - timedelta(seconds=config.lookback_seconds)) if cursor else EPOCH
    newest = cursor
    read = 0
    # In chunks, so a first pull of a big account never holds every record in memory.
    changed = iter(connector.changed_since(obj, since))
    while sources := list(islice(changed, PULL_CHUNK)):  # itertools.batched needs 3.12
        for src in sources:
            if src.modified_at and (newest is None or src.modified_at > newest):
                newest = src.modified_at
        _enqueue_changed(ctx, config, conn, sources, report)
        read += len(sources)
    if newest is not None:
        ctx.store.put_checkpoint(tenant, conn, obj, newest, read)
        report.checkpoints[f"{tenant}/{conn}/{obj.value}"] = newest.isoformat()


def _pull_delta(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    connector: DeltaReader,
    obj: ObjectType,
    report: PullReport,
) -> None:
    """Changes and deletions since the stored delta link, page by page; each page's signals are enqueued
    before the checkpoint moves past it.

    A crash re-reads at most the page it was in: duplicate signals are harmless, lost ones are not. No
    link yet: the read returns every row (a backfill). An expired link: a full compare. A read longer
    than ``DELTA_PAGES_PER_RUN`` pages stops there and the next run resumes it, so one tenant's backfill
    never holds the schedule's other tenants back and never has to finish within one invocation.
    """
    tenant = config.tenant_id
    key = f"{tenant}/{conn}/{obj.value}"
    stored = ctx.store.get_delta_checkpoint(tenant, conn, obj) or DeltaCheckpoint(last_success=EPOCH)
    checkpoint = stored.model_copy()
    start = stored.resume_link or stored.delta_link
    pages = iter(connector.change_pages(obj, start))
    try:
        try:
            first = next(pages, None)
        except VendorRefusedError:
            if not stored.resume_link:
                raise
            # A page link the vendor no longer takes: the read starts again where the last complete one
            # ended (duplicate signals are harmless; a pull stuck on a dead link would lose every change).
            logger.warning(
                "resume link refused: the read starts again", extra={"tenant": tenant, "connection": conn}
            )
            checkpoint.resume_link = None
            start = stored.delta_link
            pages = iter(connector.change_pages(obj, start))
            first = next(pages, None)
    except DeltaExpired as exc:
        if start is None:
            raise  # only a link can expire: a first read that says so is not retried in a circle
        # Everything again, with a fresh link. A first read reports no deletions: absence never deletes.
        pages = iter(connector.change_pages(obj, None))
        first = next(pages, None)
        reason = f"change tracking expired: {exc.message}"
        checkpoint.last_full_compare = FullCompare(object_type=obj, at=ctx.clock(), reason=reason, rows=0)
        checkpoint.delta_link = None
        metrics.add_metric(name="PullFullCompare", unit=MetricUnit.Count, value=1)
        logger.warning(
            "change-tracking link expired: full compare of every row",
            extra={"tenant": tenant, "connection": conn, "object_type": obj.value},
        )
    # A full compare in progress (started now, or resumed): a read without a delta link after an expiry.
    comparing = checkpoint.last_full_compare is not None and checkpoint.delta_link is None
    seen = 0
    for number, page in enumerate(chain([first] if first else [], pages), start=1):
        _enqueue_page(ctx, config, conn, obj, page, report)  # raises EnqueueError: nothing moves
        seen += len(page.records) + len(page.deleted)
        if comparing and checkpoint.last_full_compare is not None:
            compared = checkpoint.last_full_compare.rows + len(page.records)
            checkpoint.last_full_compare = checkpoint.last_full_compare.model_copy(update={"rows": compared})
            report.full_compares[key] = compared
        checkpoint.last_success, checkpoint.last_seen = ctx.clock(), seen
        if page.delta_link:
            checkpoint.delta_link, checkpoint.resume_link = page.delta_link, None
        else:
            checkpoint.resume_link = page.next_link
        ctx.store.put_delta_checkpoint(tenant, conn, obj, checkpoint)
        report.checkpoints[key] = checkpoint.last_success.isoformat()
        if checkpoint.resume_link and number >= DELTA_PAGES_PER_RUN:
            report.resumable[key] = seen  # the next run goes on from here
            return


def _enqueue_page(
    ctx: SyncContext, config: TenantConfig, conn: str, obj: ObjectType, page: DeltaPage, report: PullReport
) -> None:
    """One change page's signals: changed rows crmsync has not seen exactly so, and deletions (each
    confirmed by the worker with a 404 on re-read)."""
    assert ctx.queue is not None
    for start in range(0, len(page.records), PULL_CHUNK):
        _enqueue_changed(ctx, config, conn, page.records[start : start + PULL_CHUNK], report)
    gone = [
        Signal(
            tenant_id=config.tenant_id,
            connection_id=conn,
            object_type=obj,
            external_id=ext,
            source="pull",
            hint={"change": "deleted"},
        )
        for ext in dict.fromkeys(page.deleted)
    ]
    if gone:
        ctx.queue.send(gone)
        report.enqueued += len(gone)


def _enqueue_changed(
    ctx: SyncContext, config: TenantConfig, conn: str, sources: list[SourceRecord], report: PullReport
) -> None:
    """Enqueue a signal for each of one chunk's records that crmsync has not seen exactly so."""
    assert ctx.queue is not None
    fresh = _not_seen_yet(ctx, config, conn, sources)
    signals = [
        Signal(
            tenant_id=config.tenant_id,
            connection_id=conn,
            object_type=src.object_type,
            external_id=src.external_id,
            source="pull",
        )
        for src in fresh
    ]
    ctx.queue.send(signals)  # raises EnqueueError: the checkpoint then stays where it was
    report.enqueued += len(signals)
    report.seen += len(sources) - len(fresh)


def _not_seen_yet(
    ctx: SyncContext, config: TenantConfig, conn: str, sources: list[SourceRecord]
) -> list[SourceRecord]:
    """The pulled records whose state crmsync has not seen: the rest are not enqueued.

    This is what makes the lookback overlap free: a record re-read because it falls in the window is
    compared with its base right here (one batch read per 100 records) instead of costing a signal, a
    second vendor read and three item reads in the worker. "Seen" is strict: same fields after the
    worker's own translation (value maps, the contact's customer), not a tombstone. Anything else,
    including every doubt (no record, no base, a read error), is enqueued.
    """
    if not sources:
        return []
    tenant = config.tenant_id
    keys = {(conn, s.object_type, s.external_id) for s in sources}
    keys |= {(conn, ObjectType.CUSTOMER, s.parent_external_id) for s in sources if s.parent_external_id}
    try:
        links = ctx.store.find_links(tenant, keys)
        records = ctx.store.get_records(tenant, {rid for rid in links.values() if rid})
    except StoreError:
        return sources
    fresh: list[SourceRecord] = []
    for src in sources:
        rid = links.get((conn, src.object_type, src.external_id))
        record = records.get(rid) if rid else None
        base = record.bases.get(conn) if record else None
        if record is None or base is None or base.deleted or src.deleted:
            fresh.append(src)
            continue
        fields, unmapped = as_crmsync_sees(config, conn, src, links, base.fields)
        # The vendor's version is not compared: a new version with the same fields (a field crmsync does
        # not sync was edited; HubSpot bumps a record when crmsync writes its associations) has nothing
        # to sync. A stale e-conomic token only costs a 409, a re-read and a retry on the next write.
        if _present(fields) != _present(base.fields) or (
            unmapped is not None and unmapped != record.unmapped
        ):
            fresh.append(src)
    return fresh


def as_crmsync_sees(
    config: TenantConfig,
    conn: str,
    src: SourceRecord,
    links: Mapping[tuple[str, ObjectType, str], str | None],
    base_fields: Fields,
) -> tuple[Fields, dict[str, str] | None]:
    """A vendor record's fields as the worker would store them, to compare with a base: the value maps'
    translation, a contact's customer and (where the CRM has a hierarchy) an account's parent as crmsync
    record ids from ``links``. Used by the pull (what it need not enqueue) and the drift report."""
    side = config.connection(conn).side
    fields, unmapped = value_maps.to_canonical(side, src.object_type, src.fields, config.value_maps)
    parent = (conn, ObjectType.CUSTOMER, src.parent_external_id) if src.parent_external_id else None
    if src.object_type is ObjectType.CONTACT:
        fields["customer"] = links.get(parent) if parent else None
    elif "parent_account" in base_fields:
        fields["parent_account"] = links.get(parent) if parent else None
    return fields, unmapped


def _present(fields: Fields) -> Fields:
    """A field that is absent and a field that is None say the same (the engine reads both as None)."""
    return {name: value for name, value in fields.items() if value is not None}


def dedupe_signals(signals: Iterable[Signal]) -> list[Signal]:
    """One signal per record per delivery: the worker re-reads the record anyway."""
    seen: dict[tuple[str, str, str, str], Signal] = {}
    for s in signals:
        seen.setdefault((s.tenant_id, s.connection_id, s.object_type.value, s.external_id), s)
    return list(seen.values())
