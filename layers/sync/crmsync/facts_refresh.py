"""Accounting facts -> the CRM: the scheduled bulk refresh and one customer's refresh after a booking.

Two ways in, one way out (``FactsRefresh`` messages, handled by the worker):

- **Scheduled** (bulk lane, bulk priority on the rate budget): the pull claims each tenant's refresh
  once per ``facts.refresh_minutes`` (``store.claim_facts_refresh``) and queues it. The refresh reads
  the booked invoices of the revenue window and the older unpaid ones in pages of 1,000
  (``FactsReader``), never a call per customer: e-conomic has no "paid" event, so this is how a
  payment reaches the CRM.
- **Invoice booked** (live lane): e-conomic's webhook (``?invoice=[INVOICENO]``) names the invoice; its
  customer's invoices are read and that one customer's facts written at once.

Either way only what changed is written (``facts.values_fingerprint`` against ``store.facts_hashes``),
in batches of 100 (``FactsWriter.write_facts``), and each batch is remembered as soon as the CRM took it,
so a refresh cut short and run again goes on where it stopped. A company the CRM refuses (deleted,
say) is counted and logged with its reason and tried again on the next refresh; nothing else waits
for it. Group totals (``facts.roll_up``) are refreshed by the scheduled run: a booking updates its own
customer at once and its parent's totals on the next run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from aws_lambda_powertools import Logger

from crmsync.budget import Priority
from crmsync.config import TenantConfig
from crmsync.connectors.facts_ports import BookedInvoice, FactsReader, FactsWriter
from crmsync.context import SyncContext, UnknownTenant
from crmsync.facts import (
    CustomerFacts,
    GroupTotals,
    Invoice,
    compute,
    fact_values,
    roll_up,
    values_fingerprint,
)
from crmsync.items import FactsEntry
from crmsync.messages import FactsRefresh
from crmsync.models import ObjectType, Record, Side, SyncMode

logger = Logger(child=True)
WRITE_BATCH = 100
"""Companies per CRM write (HubSpot's batch update and crmsync's Dataverse ``$batch`` both take 100)."""
TIME_BUDGET_S = 120.0
"""A refresh writes for at most this long per invocation (the worker's timeout is 180 s): Dynamics'
service protection lets 10,000 first-time writes take minutes. What is left goes on in a new message
(``continued``), where the stored fingerprints make it skip what was written."""


@dataclass
class FactsReport:
    customers: int = 0
    """Linked customers whose facts were computed."""
    changed: int = 0
    written: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    """CRM external id -> the CRM's reason, for the companies it refused."""
    skipped: str | None = None
    """Why nothing ran (facts off, no CRM or accounting connection that supports facts)."""
    continued: bool = False
    """The time budget ran out before every change was written: a new message goes on with the rest."""


def due_refreshes(ctx: SyncContext, config: TenantConfig, now: datetime) -> list[FactsRefresh]:
    """The scheduled refresh of this tenant, when its period has come (claimed, so queued once)."""
    settings = config.facts
    if not settings.enabled or config.sync_mode is SyncMode.OFF:
        return []
    if not ctx.store.claim_facts_refresh(config.tenant_id, now.timestamp(), settings.refresh_minutes * 60):
        return []
    return [FactsRefresh(tenant_id=config.tenant_id, bulk=True)]


def handle_refresh(ctx: SyncContext, message: FactsRefresh) -> FactsReport:
    """Run one ``FactsRefresh`` (the worker's entry)."""
    ctx.priority = Priority.BULK if message.bulk else Priority.LIVE
    try:
        config = ctx.config(message.tenant_id)
    except UnknownTenant:
        return FactsReport(skipped="unknown tenant")
    today = ctx.clock().date()
    if message.invoice is not None:
        return refresh_after_booking(ctx, config, message.invoice, today=today)
    report = refresh(ctx, config, today=today, deadline=time.monotonic() + TIME_BUDGET_S)
    if report.continued and ctx.queue is not None:
        ctx.queue.send([FactsRefresh(tenant_id=config.tenant_id, bulk=True)])
    return report


def _sides(ctx: SyncContext, config: TenantConfig) -> tuple[str, FactsReader, str, FactsWriter] | str:
    """(accounting connection, its reader, CRM connection, its writer) or why facts cannot run."""
    if not config.facts.enabled:
        return "facts are off for this tenant"
    acc = next((c for c in config.connections if c.side is Side.ACCOUNTING), None)
    crm = next((c for c in config.connections if c.side is Side.CRM), None)
    if acc is None or crm is None:
        return "the tenant needs an accounting and a CRM connection"
    reader = ctx.connectors.get(config, acc.connection_id)
    writer = ctx.connectors.get(config, crm.connection_id)
    if not isinstance(reader, FactsReader):
        return f"{acc.kind.value} cannot read accounting facts"
    if not isinstance(writer, FactsWriter):
        return f"{crm.kind.value} cannot show accounting facts"
    return acc.connection_id, reader, crm.connection_id, writer


def refresh(
    ctx: SyncContext, config: TenantConfig, *, today: date, deadline: float | None = None
) -> FactsReport:
    """Every linked customer's facts, computed from bulk reads; the changed ones written."""
    sides = _sides(ctx, config)
    if isinstance(sides, str):
        return FactsReport(skipped=sides)
    acc_conn, reader, crm_conn, writer = sides
    settings = config.facts
    since = today - timedelta(days=settings.revenue_days)
    records = [
        r
        for r in ctx.store.records(config.tenant_id, ObjectType.CUSTOMER)
        if acc_conn in r.links and crm_conn in r.links
    ]
    by_number = {int(r.links[acc_conn]): r for r in records if r.links[acc_conn].isdigit()}
    booked = [_invoice(i) for i in reader.booked_invoices_since(since)]
    older_unpaid = [_invoice(i) for i in reader.unpaid_invoices(before=since)]
    unpaid = [i for i in booked if i.remainder != 0] + older_unpaid
    facts = compute(booked, unpaid, today=today, revenue_days=settings.revenue_days, customers=by_number)
    by_record = {by_number[n].record_id: f for n, f in facts.items() if n in by_number}
    parents = {r.record_id: _parent(r) for r in records}
    groups = roll_up(by_record, parents) if settings.roll_up else {}
    return _write(
        ctx, config, writer, crm_conn, acc_conn, records, by_record, groups, known=None, deadline=deadline
    )


def refresh_after_booking(
    ctx: SyncContext, config: TenantConfig, invoice: int, *, today: date
) -> FactsReport:
    """One customer's facts after e-conomic booked ``invoice`` for it (the webhook's live path)."""
    sides = _sides(ctx, config)
    if isinstance(sides, str):
        return FactsReport(skipped=sides)
    acc_conn, reader, crm_conn, writer = sides
    booked_invoice = reader.booked_invoice(invoice)
    if booked_invoice is None:
        return FactsReport(skipped=f"invoice {invoice} is not booked")
    number = booked_invoice.customer_number
    record_id = ctx.store.find_link(config.tenant_id, acc_conn, ObjectType.CUSTOMER, str(number))
    record = ctx.store.get_record(config.tenant_id, record_id) if record_id else None
    if record is None or crm_conn not in record.links:
        return FactsReport(skipped=f"customer {number} is not linked to the CRM")
    settings = config.facts
    since = today - timedelta(days=settings.revenue_days)
    invoices = [_invoice(i) for i in reader.customer_invoices_since(number, since)]
    unpaid = [i for i in invoices if i.remainder != 0]
    facts = compute(invoices, unpaid, today=today, revenue_days=settings.revenue_days, customers=[number])
    known = ctx.store.facts_of(config.tenant_id, record.record_id)
    return _write(
        ctx, config, writer, crm_conn, acc_conn, [record], {record.record_id: facts[number]}, {}, known=known
    )


def _invoice(booked: BookedInvoice) -> Invoice:
    return Invoice(
        number=booked.number,
        customer_number=booked.customer_number,
        date=booked.date,
        due_date=booked.due_date,
        net_amount=booked.net_amount_base,
        gross_amount=booked.gross_amount_base,
        remainder=booked.remainder_base,
    )


def _parent(record: Record) -> str | None:
    parent = record.fields.get("parent_account")
    return str(parent) if parent else None


def _write(
    ctx: SyncContext,
    config: TenantConfig,
    writer: FactsWriter,
    crm_conn: str,
    acc_conn: str,
    records: list[Record],
    facts: dict[str, CustomerFacts],
    groups: dict[str, GroupTotals],
    *,
    known: FactsEntry | None,
    deadline: float | None = None,
) -> FactsReport:
    """Write the changed facts in batches; remember each batch the CRM took."""
    tenant = config.tenant_id
    report = FactsReport(customers=len(facts))
    if known is not None:  # one customer: keep the group totals the scheduled run wrote
        hashes = {known.record_id: known.hash}
        kept_groups = {k: v for k, v in known.values.items() if k.startswith("group_")}
    else:
        hashes = ctx.store.facts_hashes(tenant) if facts else {}
        kept_groups = {}
    pending: list[tuple[Record, dict[str, str | None], str]] = []
    for record in records:
        own = facts.get(record.record_id)
        if own is None:
            continue
        values = fact_values(own, groups.get(record.record_id))
        values.update(kept_groups)
        digest = values_fingerprint(values)
        if hashes.get(record.record_id) != digest:
            pending.append((record, values, digest))
    report.changed = len(pending)
    if pending:
        writer.ensure_facts_setup()
    now = ctx.clock()
    for start in range(0, len(pending), WRITE_BATCH):
        if deadline is not None and start and time.monotonic() > deadline:
            report.continued = True  # the rest in a new message (``handle_refresh``)
            break
        chunk = pending[start : start + WRITE_BATCH]
        answers = writer.write_facts({r.links[crm_conn]: values for r, values, _ in chunk})
        taken: list[FactsEntry] = []
        for record, values, digest in chunk:
            ext = record.links[crm_conn]
            reason = answers.get(ext)
            if reason:
                report.refused[ext] = reason
                continue
            taken.append(
                FactsEntry(
                    record_id=record.record_id,
                    customer_number=record.links[acc_conn],
                    hash=digest,
                    values=values,
                    updated_at=now,
                )
            )
        ctx.store.put_facts(tenant, taken)
        report.written += len(taken)
    if report.refused:
        logger.warning(
            "the CRM refused some companies' facts",
            extra={
                "tenant": tenant,
                "refused": len(report.refused),
                "reasons": sorted(set(report.refused.values()))[:5],
            },
        )
    return report
