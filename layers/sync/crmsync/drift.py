"""The drift report: a full compare of both sides with what crmsync expects, field by field.

Webhooks get lost, connections break for a while, people edit through imports that fire nothing: a
record can differ on a vendor from the base crmsync keeps for that side (what it last saw there or wrote
there) without a signal ever saying so. The drift report finds those records:

- every connection's customers and contacts are read in pages (``Connector.list_all``: e-conomic 1,000
  a page, HubSpot 100, Dataverse 5,000), never a call per record, at bulk priority on the rate budget;
- each record read is translated as the worker translates it (value maps; a contact's customer, an
  account's parent as crmsync record ids) and compared with its base on that connection; a field whose
  value differs is a ``DriftItem`` (expected: the base, actual: the vendor now);
- a linked record the vendor no longer lists is ``missing`` (reported, never deleted: absence from a
  read is not a delete);
- the report replaces the previous one (``store.drift``, at most ``MAX_ITEMS`` items kept, the count is
  exact) and its counts show on the health view.

The fix of a record (``fix``) is "re-sync from the owner": the record's sides are read again and
reconciled (``inbound.sync_now``), so each field's owner wins as the field policy says and the value is
written where it differs; the record leaves the report. Runs: on demand (``POST .../drift``) and on a
schedule (the pull queues one per tenant every ``drift_hours``), as a ``DriftRun`` message on the bulk
queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, Field

from crmsync.budget import Priority
from crmsync.config import TenantConfig
from crmsync.context import SyncContext, UnknownTenant
from crmsync.models import FieldValue, ObjectType, SourceRecord, SyncMode
from crmsync.pull import as_crmsync_sees

MAX_ITEMS = 1000
"""Items a stored report keeps (the counts are exact): a person works from the top."""
CHUNK = 500
"""Records compared at a time (one batch read of their links and records)."""


class DriftItem(BaseModel):
    record_id: str
    connection: str
    object_type: ObjectType
    external_id: str
    field: str
    expected: FieldValue = Field(description="what crmsync last saw on or wrote to that side")
    actual: FieldValue = Field(description="what the vendor holds now")


class DriftReport(BaseModel):
    tenant_id: str
    started_at: datetime
    finished_at: datetime | None = None
    compared: dict[str, int] = Field(default_factory=dict, description="connection -> records read")
    drifted_records: int = 0
    drifted_fields: int = 0
    missing: list[str] = Field(
        default_factory=list, description="linked records a connection no longer lists"
    )
    items: list[DriftItem] = Field(default_factory=list)


def _present(value: FieldValue) -> FieldValue:
    return None if value == "" else value


def compare(ctx: SyncContext, config: TenantConfig, now: datetime) -> DriftReport:
    """Read every connection in pages and compare with the bases (see the module doc)."""
    ctx.priority = Priority.BULK
    report = DriftReport(tenant_id=config.tenant_id, started_at=now)
    drifted: set[str] = set()
    seen: dict[str, set[str]] = {}
    for conn in config.connections:
        connector = ctx.connectors.get(config, conn.connection_id)
        seen[conn.connection_id] = set()
        for obj in (ObjectType.CUSTOMER, ObjectType.CONTACT):
            for chunk in _chunks(connector.list_all(obj)):
                report.compared[conn.connection_id] = report.compared.get(conn.connection_id, 0) + len(chunk)
                for item in _compare_chunk(ctx, config, conn.connection_id, chunk, seen[conn.connection_id]):
                    drifted.add(item.record_id)
                    report.drifted_fields += 1
                    if len(report.items) < MAX_ITEMS:
                        report.items.append(item)
    report.missing = _missing(ctx, config, seen)
    report.drifted_records = len(drifted)
    report.finished_at = ctx.clock()
    return report


def _chunks(records: Iterator[SourceRecord]) -> Iterator[list[SourceRecord]]:
    chunk: list[SourceRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _compare_chunk(
    ctx: SyncContext, config: TenantConfig, conn: str, chunk: list[SourceRecord], seen: set[str]
) -> Iterator[DriftItem]:
    tenant = config.tenant_id
    keys = {(conn, s.object_type, s.external_id) for s in chunk}
    keys |= {(conn, ObjectType.CUSTOMER, s.parent_external_id) for s in chunk if s.parent_external_id}
    links = ctx.store.find_links(tenant, keys)
    records = ctx.store.get_records(tenant, {rid for rid in links.values() if rid})
    for src in chunk:
        rid = links.get((conn, src.object_type, src.external_id))
        record = records.get(rid) if rid else None
        base = record.bases.get(conn) if record else None
        if record is None or base is None or base.deleted or record.links.get(conn) != src.external_id:
            continue  # not linked (the link screen shows it), or nothing expected yet
        seen.add(record.record_id)
        fields, _ = as_crmsync_sees(config, conn, src, links, base.fields)
        for name in sorted(set(fields) & set(base.fields)):
            if _present(fields[name]) != _present(base.fields[name]):
                yield DriftItem(
                    record_id=record.record_id,
                    connection=conn,
                    object_type=src.object_type,
                    external_id=src.external_id,
                    field=name,
                    expected=base.fields[name],
                    actual=fields[name],
                )


def _missing(ctx: SyncContext, config: TenantConfig, seen: dict[str, set[str]]) -> list[str]:
    """Records linked on a connection (and not deleted there) that its full read did not list."""
    out: list[str] = []
    for obj in (ObjectType.CUSTOMER, ObjectType.CONTACT):
        for record in ctx.store.records(config.tenant_id, obj):
            for conn, listed in seen.items():
                base = record.bases.get(conn)
                if (
                    conn in record.links
                    and base is not None
                    and not base.deleted
                    and record.record_id not in listed
                ):
                    out.append(record.record_id)
                    break
    return out


def run(ctx: SyncContext, tenant_id: str) -> DriftReport | None:
    """Compare and store the report (the worker's entry for a ``DriftRun``)."""
    try:
        config = ctx.config(tenant_id)
    except UnknownTenant:
        return None
    if config.sync_mode is SyncMode.OFF:
        return None
    report = compare(ctx, config, ctx.clock())
    ctx.store.put_drift(tenant_id, report.model_dump_json())
    return report


def stored(ctx: SyncContext, tenant_id: str) -> DriftReport | None:
    text = ctx.store.drift(tenant_id)
    return DriftReport.model_validate_json(text) if text else None


def fix(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, object]:
    """Re-sync the record from its sides' owners and take it off the stored report."""
    from crmsync.inbound import sync_now

    result = sync_now(ctx, tenant_id, record_id)
    report = stored(ctx, tenant_id)
    if report is not None and any(i.record_id == record_id for i in report.items):
        kept = [i for i in report.items if i.record_id != record_id]
        report.drifted_fields -= len(report.items) - len(kept)
        report.drifted_records = max(0, report.drifted_records - 1)
        report.items = kept
        ctx.store.put_drift(tenant_id, report.model_dump_json())
    return result
