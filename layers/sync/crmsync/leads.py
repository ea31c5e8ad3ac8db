"""Lead conversion: turn a CRM lead (company and/or contact, lifecycle stage ``lead``) into a customer.

Outcomes, in this order:
1. the lead's company already carries an accounting customer number -> convert onto that customer;
2. no action chosen -> run the duplicate search and return the candidates, writing nothing;
3. ``merge_into`` a candidate -> link the lead to that existing customer (its number is kept; the
   lead's data fills or overrides fields per the field policy, exactly as linking does);
4. ``create_new`` -> a new accounting customer (new number) is created now;
5. ``walk_in`` -> the lead's person becomes a contact of the tenant's cash-sale customer; no new
   customer, and the company (if any) stays unlinked (writing the walk-in number onto it would make
   every walk-in company look like that one customer).

Afterwards the customer number is on the CRM company (the push writes the accounting-owned fields),
the lifecycle stage of the company and its contacts becomes ``customer``, and the contact persons
are linked under the customer. Exactly once: requests that choose an action run through Powertools
Idempotency keyed by tenant and lead (see ``make_converter``); a lead whose company already carries a
number can never create a second customer, even after the idempotency record expired.

Which CRM: the tenant's CRM connection decides, not the request. On HubSpot the lead is a company
(``object_type`` ``company``, the default) or a contact (``contact``), as always. On Dynamics 365 a lead
is a row of its own (table ``leads``, a GUID id): ``object_type`` ``lead`` names it, the default
``company`` is taken as the same lead (one idempotency key for both spellings), ``contact`` is a 400;
``lead`` on a HubSpot tenant is a 400 too. The Dynamics path (``crmsync.leads_dynamics``) has the same
outcomes and result; it qualifies the lead (``QualifyLead``) with or without an account, and a lead
already qualified is never qualified again (what it made is found by ``originatingleadid``). The request
and result models and the steps both paths share are in ``crmsync.leads_common``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmsync import leads_dynamics, linking
from crmsync.connectors.base import WriteItem
from crmsync.context import SyncContext
from crmsync.leads_common import (
    LEAD_ID_PATTERN,
    ConvertRequest,
    ConvertResult,
    LeadError,
    Outcome,
    attach_contacts,
    connection,
    converted,
    create_on,
    crm_kind,
    existing_customer,
    journal,
    record_for,
)
from crmsync.models import ConnectionKind, ObjectType, Record
from crmsync.outbound import push_records
from crmsync.store import LinkTaken, VersionConflict

__all__ = [
    "LEAD_ID_PATTERN",
    "ConvertRequest",
    "ConvertResult",
    "Converter",
    "LeadError",
    "convert",
    "make_converter",
]


def convert(ctx: SyncContext, tenant_id: str, lead_id: str, request: ConvertRequest) -> ConvertResult:
    """Convert a lead of the tenant's CRM (HubSpot here, Dynamics in ``leads_dynamics``)."""
    if crm_kind(ctx, tenant_id) is ConnectionKind.DYNAMICS:
        return leads_dynamics.convert_lead(ctx, tenant_id, lead_id, request)
    if request.object_type == "lead":
        raise LeadError("a HubSpot lead is a company or a contact (object_type company or contact)", 400)
    config = ctx.config(tenant_id)
    crm = connection(ctx, tenant_id, ConnectionKind.HUBSPOT)
    acc = connection(ctx, tenant_id, ConnectionKind.ECONOMIC)
    hubspot = ctx.connectors.get(config, crm)
    warnings: list[str] = []

    # The lead: its company (if any) and its contact persons, as crmsync records.
    company_ext: str | None
    contact_exts: list[str]
    if request.object_type == "company":
        source = hubspot.get(ObjectType.CUSTOMER, lead_id)
        if source is None:
            raise LeadError(f"company {lead_id} not found in the CRM", 404)
        company_ext = lead_id
        contact_exts = [c.external_id for c in hubspot.contacts_of(lead_id)]
    else:
        person = hubspot.get(ObjectType.CONTACT, lead_id)
        if person is None:
            raise LeadError(f"contact {lead_id} not found in the CRM", 404)
        company_ext = person.parent_external_id
        contact_exts = [lead_id]
    company = record_for(ctx, tenant_id, crm, ObjectType.CUSTOMER, company_ext) if company_ext else None
    contacts = [r for ext in contact_exts if (r := record_for(ctx, tenant_id, crm, ObjectType.CONTACT, ext))]

    # 1. a customer number already on the company
    outcome: Outcome = "existing_number"
    target = existing_customer(ctx, tenant_id, acc, company, warnings)
    if target is None:
        if request.action is None:
            if company is None:
                warnings.append("the lead has no company; candidates need a company to compare")
                return ConvertResult(status="candidates", warnings=warnings)
            pool = list(ctx.store.records(tenant_id, ObjectType.CUSTOMER))
            found = linking.candidates_for(config, company, pool, states=("accounting_only", "linked"))
            return ConvertResult(status="candidates", candidates=found, warnings=warnings)
        if request.action == "merge_into":
            if not request.candidate_record_id:
                raise LeadError("merge_into needs candidate_record_id", 400)
            target = ctx.store.get_record(tenant_id, request.candidate_record_id)
            if target is None or acc not in target.links:
                raise LeadError("the candidate is not an accounting customer", 400)
            outcome = "merged"
        elif request.action == "create_new":
            if company is None:
                raise LeadError("create_new needs the lead's company", 400)
            target = create_on(ctx, tenant_id, acc, company, "accounting refused the new customer")
            outcome = "created"
        else:
            return _walk_in(ctx, tenant_id, acc, crm, company, contacts, warnings)

    # Link the lead company to the customer (unless it already is that record).
    if company is not None and target.record_id != company.record_id:
        if crm in target.links:
            # The lead duplicates a company the CRM already has: merge it into that one in the CRM.
            company_ext = _merge_duplicate_company(ctx, tenant_id, crm, company, target)
        else:
            linking.link(ctx, tenant_id, company.record_id, target.record_id)
    customer = ctx.store.get_record(tenant_id, target.record_id)
    assert customer is not None
    push_records(ctx, [customer])  # writes the customer number (accounting-owned) onto the company
    linked = attach_contacts(ctx, tenant_id, customer, contacts)
    _mark_customer(ctx, tenant_id, crm, company_ext, contact_exts)
    journal(ctx, tenant_id, customer.record_id, outcome, lead_id)
    return converted(ctx, tenant_id, acc, customer.record_id, outcome, linked, warnings)


def _merge_duplicate_company(ctx: SyncContext, tenant_id: str, crm: str, lead: Record, target: Record) -> str:
    """Merge the lead company into the customer's CRM company; its contacts move to the customer.

    Returns the surviving company's id. HubSpot may answer a merge with a *new* id (the webhook's
    ``newObjectId``): the customer's link moves to it at once, as a merge webhook would move it
    (``service._follow_merge``), so nothing reads or writes the company under an archived id meanwhile.
    """
    hubspot = ctx.connectors.get(ctx.config(tenant_id), crm)
    merge = getattr(hubspot, "merge", None)
    if merge is None:
        raise LeadError("this CRM cannot merge duplicate companies; link by hand", 409)
    old = target.links[crm]
    survivor = str(merge(ObjectType.CUSTOMER, old, lead.links[crm]) or old)
    if survivor != old:
        _repoint_to_survivor(ctx, tenant_id, crm, target.record_id, old, survivor)
    for rid in ctx.store.children(tenant_id, lead.record_id):
        contact = ctx.store.get_record(tenant_id, rid)
        if contact is not None:
            contact.fields["customer"] = target.record_id
            ctx.store.save_record(contact, parent_before=lead.record_id)
    ctx.store.release_link(tenant_id, crm, ObjectType.CUSTOMER, lead.links[crm], lead.record_id)
    ctx.store.delete_record(lead)
    return survivor


def _repoint_to_survivor(
    ctx: SyncContext, tenant_id: str, crm: str, record_id: str, old: str, survivor: str
) -> None:
    """Move the customer's CRM link from the merged-away id ``old`` to ``survivor`` (claim, then release)."""
    for _ in range(3):  # a signal may save the record between our read and write: re-read and retry
        record = ctx.store.get_record(tenant_id, record_id)
        if record is None or record.links.get(crm) != old:
            return  # gone, or a merge webhook re-pointed it already
        record.links[crm] = survivor
        try:
            ctx.store.save_record(record, new_links={crm: survivor}, removed_links={crm: old})
        except VersionConflict:
            continue
        except LinkTaken:
            return  # a signal for the survivor made its own record first: its merge webhook links the two
        return
    raise LeadError("the customer kept changing while its CRM company was merged; retry", 409)


def _walk_in(
    ctx: SyncContext,
    tenant_id: str,
    acc: str,
    crm: str,
    company: Record | None,
    contacts: list[Record],
    warnings: list[str],
) -> ConvertResult:
    config = ctx.config(tenant_id)
    number = config.walk_in_customer_number
    if not number:
        raise LeadError("no walk-in customer configured (walk_in_customer_number)", 400)
    walk_in = record_for(ctx, tenant_id, acc, ObjectType.CUSTOMER, number)
    if walk_in is None:
        raise LeadError(f"the walk-in customer {number} does not exist in accounting", 409)
    linked = attach_contacts(ctx, tenant_id, walk_in, contacts)
    if company is not None:
        warnings.append("walk-in: the company stays unlinked and gets no customer number")
    _mark_customer(ctx, tenant_id, crm, None, [c for r in contacts for c in [r.links.get(crm)] if c])
    journal(ctx, tenant_id, walk_in.record_id, "walk_in", None)
    return ConvertResult(
        status="converted",
        outcome="walk_in",
        customer_number=number,
        record_id=walk_in.record_id,
        contacts_linked=linked,
        warnings=warnings,
    )


def _mark_customer(
    ctx: SyncContext, tenant_id: str, crm: str, company_ext: str | None, contact_exts: list[str]
) -> None:
    """Lifecycle stage -> customer (a forward move HubSpot allows) on the company and its contacts."""
    hubspot = ctx.connectors.get(ctx.config(tenant_id), crm)
    stage = {"lifecycle_stage": "customer"}
    if company_ext:
        hubspot.write(
            ObjectType.CUSTOMER, [WriteItem(record_id="lead", external_id=company_ext, fields=stage)]
        )
    if contact_exts:
        hubspot.write(
            ObjectType.CONTACT,
            [WriteItem(record_id=f"lead-{ext}", external_id=ext, fields=stage) for ext in contact_exts],
        )


Converter = Callable[[str, str, ConvertRequest], ConvertResult]


def make_converter(ctx: SyncContext, idempotency_table: str, boto3_client: Any = None) -> Converter:
    """``convert`` behind Powertools Idempotency for requests that choose an action (exactly once per lead).

    A request without an action only searches and is not cached, so the follow-up request with the
    person's choice is not answered with the earlier candidate list.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=boto3_client)
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=7 * 24 * 3600)

    @idempotent_function(  # type: ignore[misc]  # Powertools' decorator factory is untyped
        data_keyword_argument="job",
        config=config,
        persistence_store=persistence,
        output_serializer=PydanticSerializer(model=ConvertResult),
    )
    def convert_once(job: dict[str, Any]) -> ConvertResult:
        return convert(ctx, job["tenant_id"], job["lead_id"], ConvertRequest.model_validate(job["request"]))

    def run(tenant_id: str, lead_id: str, request: ConvertRequest) -> ConvertResult:
        if request.action is None:
            return convert(ctx, tenant_id, lead_id, request)
        if crm_kind(ctx, tenant_id) is ConnectionKind.DYNAMICS and request.object_type != "contact":
            # One lead, one key: "company" (the default) and "lead" name the same Dynamics lead.
            request = request.model_copy(update={"object_type": "lead"})
        job = {
            "key": f"{tenant_id}|{request.object_type}|{lead_id}",
            "tenant_id": tenant_id,
            "lead_id": lead_id,
            "request": request.model_dump(mode="json"),
        }
        result: ConvertResult = convert_once(job=job)
        return result

    run.config = config  # type: ignore[attr-defined]
    return run
