"""What lead conversion shares across CRMs: the request and result models, the error, and the steps
both paths take (find a vendor record's crmsync record, the customer a number names, create a record on
a connection now, put contacts under a customer, journal the decision).

Its own module because the HubSpot path (``crmsync.leads``) dispatches to the Dynamics path
(``crmsync.leads_dynamics``) and both need these: here neither imports the other's module back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from crmsync import linking
from crmsync.context import SyncContext
from crmsync.inbound import handle_signal
from crmsync.items import TimelineEntry
from crmsync.journal_notes import note
from crmsync.models import ConnectionKind, ObjectType, Record, Signal
from crmsync.outbound import push_records

Outcome = Literal["existing_number", "merged", "created", "walk_in"]
CRM_KINDS = (ConnectionKind.HUBSPOT, ConnectionKind.DYNAMICS)
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
LEAD_ID_PATTERN = rf"^([0-9]{{1,20}}|{GUID})$"
"""A lead id in the API's path: a HubSpot company or contact id (digits), or a Dynamics lead id (GUID)."""


class LeadError(Exception):
    """The conversion cannot be done as asked (400/409 for the API)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class ConvertRequest(BaseModel):
    object_type: Literal["company", "contact", "lead"] = "company"
    """HubSpot: the lead is a company or a contact. Dynamics: a lead row (``lead``; the default is
    taken as the lead too, ``contact`` is refused)."""
    action: Literal["merge_into", "create_new", "walk_in"] | None = None
    candidate_record_id: str | None = Field(default=None, pattern=r"^cus_[0-9a-f]{32}$")


class ConvertResult(BaseModel):
    status: Literal["converted", "candidates"]
    outcome: Outcome | None = None
    customer_number: str | None = None
    record_id: str | None = None
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    contacts_linked: int = 0
    warnings: list[str] = Field(default_factory=list)


def connection(ctx: SyncContext, tenant_id: str, kind: ConnectionKind) -> str:
    for conn in ctx.config(tenant_id).connections:
        if conn.kind is kind:
            return conn.connection_id
    raise LeadError(f"tenant has no {kind.value} connection", 400)


def crm_kind(ctx: SyncContext, tenant_id: str) -> ConnectionKind:
    """The tenant's CRM (the first CRM connection): it decides which conversion path runs."""
    for conn in ctx.config(tenant_id).connections:
        if conn.kind in CRM_KINDS:
            return conn.kind
    raise LeadError("tenant has no CRM connection", 400)


def record_for(ctx: SyncContext, tenant_id: str, conn: str, obj: ObjectType, ext: str) -> Record | None:
    """The crmsync record of a vendor record, reconciling it first if crmsync has not seen it yet."""
    handle_signal(
        ctx, Signal(tenant_id=tenant_id, connection_id=conn, object_type=obj, external_id=ext, source="api")
    )
    rid = ctx.store.find_link(tenant_id, conn, obj, ext)
    return ctx.store.get_record(tenant_id, rid) if rid else None


def existing_customer(
    ctx: SyncContext, tenant_id: str, acc: str, company: Record | None, warnings: list[str]
) -> Record | None:
    """The accounting customer the lead's company already is (linked) or names (its customer number)."""
    if company is None:
        return None
    if acc in company.links:
        return company
    number = company.fields.get("customer_number")
    if not isinstance(number, str):
        return None
    target = record_for(ctx, tenant_id, acc, ObjectType.CUSTOMER, number)
    if target is None:
        warnings.append(f"customer number {number} on the company does not exist in accounting; ignored")
    return target


def create_on(ctx: SyncContext, tenant_id: str, conn: str, record: Record, what: str) -> Record:
    """Create ``record`` on ``conn`` now: approve the create as a transfer does, then push it.

    Idempotent: the connectors key a create by the record id (e-conomic's Idempotency-Key, Dataverse's
    deterministic row id), so a retried conversion cannot create a second one.
    """
    linking.apply_transfer(ctx, tenant_id, linking.TransferPlan(create_ids={conn: [record.record_id]}))
    fresh = ctx.store.get_record(tenant_id, record.record_id)
    assert fresh is not None
    report = push_records(ctx, [fresh])
    created = ctx.store.get_record(tenant_id, record.record_id)
    if created is None or conn not in created.links:
        raise LeadError(f"{what} (parked: {report.parked})", 502)
    return created


def attach_contacts(ctx: SyncContext, tenant_id: str, customer: Record, contacts: list[Record]) -> int:
    """Put the lead's contact persons under the customer and write them to accounting now."""
    moved = []
    for contact in contacts:
        fresh = ctx.store.get_record(tenant_id, contact.record_id)
        if fresh is None:
            continue
        if fresh.fields.get("customer") != customer.record_id:
            before = fresh.fields.get("customer")
            fresh.fields["customer"] = customer.record_id
            fresh = ctx.store.save_record(fresh, parent_before=before)
        moved.append(fresh)
    if moved:
        push_records(ctx, moved)
    return sum(
        1
        for c in moved
        if (r := ctx.store.get_record(tenant_id, c.record_id))
        and len(linking.record_side(ctx.config(tenant_id), r)) == 2
    )


def journal(ctx: SyncContext, tenant_id: str, record_id: str, outcome: str, lead_id: str | None) -> None:
    entry: TimelineEntry = {
        "at": ctx.clock(),
        "decision": "lead_converted",
        "outcome": outcome,
        "lead": lead_id,
    }
    ctx.store.journal(tenant_id, record_id, entry)
    note(ctx, tenant_id, record_id, entry)


def converted(
    ctx: SyncContext,
    tenant_id: str,
    acc: str,
    record_id: str,
    outcome: Outcome,
    linked: int,
    warnings: list[str],
) -> ConvertResult:
    """The answer for a converted lead: the customer as it is now (its number once accounting gave one)."""
    customer = ctx.store.get_record(tenant_id, record_id)
    assert customer is not None
    return ConvertResult(
        status="converted",
        outcome=outcome,
        customer_number=str(customer.fields.get("customer_number") or customer.links.get(acc) or ""),
        record_id=customer.record_id,
        contacts_linked=linked,
        warnings=warnings,
    )
