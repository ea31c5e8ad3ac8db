"""Lead conversion on Dynamics 365: a lead row (table ``leads``) becomes a customer through ``QualifyLead``.

The outcomes are HubSpot's (``crmsync.leads``); what differs is that Dynamics keeps a lead apart from
accounts and contacts, and qualifying it is what makes them. crmsync decides first, then qualifies:

1. the lead's ``parentaccountid`` is an account linked to (or numbered as) an accounting customer ->
   qualify with a contact only, the contact goes under that account; ``existing_number``;
2. no action -> candidates from the duplicate search over the lead's company columns (a transient,
   unsaved record compared with the tenant's customers); nothing is written;
3. ``merge_into`` -> qualify with a contact only; the contact goes under the candidate's account, which
   is created through the normal push first if the candidate has none (its create approved as a
   transfer approves it) or is the lead's own unlinked parent account (linked to the candidate);
4. ``create_new`` -> qualify with account and contact (or a contact only under the lead's unlinked
   parent account), reconcile them, create the accounting customer now; the push writes its number back
   to the account (``customer_number`` -> ``accountnumber``);
5. ``walk_in`` -> qualify with a contact only; it becomes a contact of the walk-in customer (under its
   account when that customer is in Dynamics).

Exactly once: the idempotency layer answers a repeated request; beyond it, a lead already qualified
is never qualified again: the account and contact an earlier attempt made are found by their
``originatingleadid`` and reused. A lead closed otherwise (disqualified, or qualified without them) is
a 409. Contacts are put under their account in Dynamics before crmsync reconciles them, so they land
attached and the push has nothing to move back.
"""

from __future__ import annotations

from crmsync import linking
from crmsync.config import TenantConfig
from crmsync.connectors.base import NotFoundError
from crmsync.connectors.dataverse_leads import (
    LEAD_OPEN,
    LEAD_QUALIFIED,
    DataverseLeads,
    LeadClosed,
    LeadDetails,
    QualifiedLead,
)
from crmsync.context import SyncContext
from crmsync.leads_common import (
    ConvertRequest,
    ConvertResult,
    LeadError,
    Outcome,
    attach_contacts,
    connection,
    converted,
    create_on,
    existing_customer,
    journal,
    record_for,
)
from crmsync.models import ConnectionKind, ObjectType, Record
from crmsync.outbound import push_records

CANDIDATE_STATES = ("accounting_only", "linked")
"""A lead is often a duplicate of a known customer: linked customers are candidates too."""


def convert_lead(ctx: SyncContext, tenant_id: str, lead_id: str, request: ConvertRequest) -> ConvertResult:
    """Convert one Dynamics lead (see the module doc for the order of the outcomes)."""
    if request.object_type == "contact":
        raise LeadError("a Dynamics lead is one row: convert it with object_type 'lead'", 400)
    config = ctx.config(tenant_id)
    crm = connection(ctx, tenant_id, ConnectionKind.DYNAMICS)
    acc = connection(ctx, tenant_id, ConnectionKind.ECONOMIC)
    dataverse = ctx.connectors.get(config, crm)
    if not isinstance(dataverse, DataverseLeads):
        raise LeadError("the Dynamics connection cannot qualify leads", 400)
    lead = dataverse.get_lead(lead_id)
    if lead is None:
        raise LeadError(f"lead {lead_id} not found in Dynamics", 404)
    flow = _Flow(ctx, config, crm, acc, dataverse, lead)

    # 1. the lead belongs to an account that is (or names) an accounting customer
    parent = flow.record(ObjectType.CUSTOMER, lead.parent_account_id) if lead.parent_account_id else None
    target = existing_customer(ctx, tenant_id, acc, parent, flow.warnings)
    if target is not None:
        made = flow.qualify(account=False)
        if parent is not None and target.record_id != parent.record_id:
            if crm in target.links:
                flow.warnings.append(
                    "the lead's account is another than the customer's; the contact goes to the latter"
                )
            else:
                linking.link(ctx, tenant_id, parent.record_id, target.record_id)
        return flow.finish(target.record_id, made, "existing_number")
    # From here on the lead's parent account (if any) is not a customer yet: it is the lead's company.
    if request.action is None:
        return flow.candidates()
    if request.action == "merge_into":
        return flow.merge_into(request.candidate_record_id, parent)
    if request.action == "create_new":
        return flow.create_new(parent)
    return flow.walk_in()


class _Flow:
    """One conversion's state: the tenant, its connections, the Dataverse connector and the lead."""

    def __init__(
        self,
        ctx: SyncContext,
        config: TenantConfig,
        crm: str,
        acc: str,
        dataverse: DataverseLeads,
        lead: LeadDetails,
    ) -> None:
        self.ctx, self.config, self.crm, self.acc = ctx, config, crm, acc
        self.tenant_id = config.tenant_id
        self.dataverse = dataverse
        self.lead = lead
        self.warnings: list[str] = []

    def record(self, obj: ObjectType, external_id: str) -> Record | None:
        return record_for(self.ctx, self.tenant_id, self.crm, obj, external_id)

    def qualify(self, *, account: bool) -> QualifiedLead:
        """``QualifyLead`` once; a lead an earlier attempt qualified gives back the rows it made."""
        lead = self.lead
        if lead.statecode == LEAD_OPEN:
            try:
                return self.dataverse.qualify_lead(lead.id, create_account=account, create_contact=True)
            except NotFoundError as exc:
                raise LeadError(f"lead {lead.id} not found in Dynamics", 404) from exc
            except LeadClosed:
                lead = self.dataverse.get_lead(lead.id) or lead  # qualified meanwhile: reuse
        made = (
            self.dataverse.created_from_lead(lead.id) if lead.statecode == LEAD_QUALIFIED else QualifiedLead()
        )
        if made.contact_id is None or (account and made.account_id is None):
            raise LeadError(f"lead {lead.id} is already converted or closed in Dynamics", 409)
        return made if account else made.model_copy(update={"account_id": None})

    def candidates(self) -> ConvertResult:
        """The duplicate search for the lead's company; writes nothing (a closed lead is a 409)."""
        if self.lead.statecode != LEAD_OPEN:
            raise LeadError(f"lead {self.lead.id} is already converted or closed in Dynamics", 409)
        fields = self.lead.company_fields()
        if not fields.get("name"):
            self.warnings.append("the lead has no company; candidates need a company to compare")
            return ConvertResult(status="candidates", warnings=self.warnings)
        transient = Record(
            tenant_id=self.tenant_id,
            record_id=f"lead-{self.lead.id}",
            object_type=ObjectType.CUSTOMER,
            fields=fields,
        )
        pool = list(self.ctx.store.records(self.tenant_id, ObjectType.CUSTOMER))
        found = linking.candidates_for(self.config, transient, pool, states=CANDIDATE_STATES)
        return ConvertResult(status="candidates", candidates=found, warnings=self.warnings)

    def merge_into(self, candidate_id: str | None, parent: Record | None) -> ConvertResult:
        """The contact goes under the candidate's account (made now if the candidate has none)."""
        if not candidate_id:
            raise LeadError("merge_into needs candidate_record_id", 400)
        candidate = self.ctx.store.get_record(self.tenant_id, candidate_id)
        if candidate is None or self.acc not in candidate.links:
            raise LeadError("the candidate is not an accounting customer", 400)
        made = self.qualify(account=False)
        if self.crm not in candidate.links:
            if parent is not None:  # the lead's own account, not yet a customer: it becomes the candidate's
                linking.link(self.ctx, self.tenant_id, parent.record_id, candidate.record_id)
            else:
                create_on(
                    self.ctx, self.tenant_id, self.crm, candidate, "Dynamics refused the customer's account"
                )
        return self.finish(candidate.record_id, made, "merged")

    def create_new(self, parent: Record | None) -> ConvertResult:
        """A new account (unless the lead has its own unlinked one) and a new accounting customer."""
        if parent is None and not self.lead.company_fields().get("name"):
            raise LeadError("create_new needs the lead's company (companyname)", 400)
        made = self.qualify(account=parent is None)
        company = parent or (self.record(ObjectType.CUSTOMER, made.account_id) if made.account_id else None)
        if company is None:
            raise LeadError("the account qualifying made cannot be read from Dynamics; retry", 502)
        target = create_on(self.ctx, self.tenant_id, self.acc, company, "accounting refused the new customer")
        return self.finish(target.record_id, made, "created")

    def walk_in(self) -> ConvertResult:
        """The person becomes a contact of the walk-in customer; no account, no new customer."""
        number = self.config.walk_in_customer_number
        if not number:
            raise LeadError("no walk-in customer configured (walk_in_customer_number)", 400)
        walk_in = record_for(self.ctx, self.tenant_id, self.acc, ObjectType.CUSTOMER, number)
        if walk_in is None:
            raise LeadError(f"the walk-in customer {number} does not exist in accounting", 409)
        made = self.qualify(account=False)
        if self.lead.companyname:
            self.warnings.append("walk-in: no account is made for the lead's company, and it gets no number")
        return self.finish(walk_in.record_id, made, "walk_in", push_customer=False)

    def finish(
        self, customer_id: str, made: QualifiedLead, outcome: Outcome, *, push_customer: bool = True
    ) -> ConvertResult:
        """Contact under the customer's account in Dynamics, reconciled, written to accounting; the
        customer's number onto its account (the push writes the accounting-owned fields)."""
        customer = self.ctx.store.get_record(self.tenant_id, customer_id)
        assert customer is not None
        account = customer.links.get(self.crm)
        if made.contact_id and account and made.account_id is None:  # else QualifyLead attached it
            self.dataverse.attach_contact(made.contact_id, account)
        if push_customer:
            push_records(self.ctx, [customer])
        contact = self.record(ObjectType.CONTACT, made.contact_id) if made.contact_id else None
        linked = attach_contacts(self.ctx, self.tenant_id, customer, [contact] if contact else [])
        journal(self.ctx, self.tenant_id, customer_id, outcome, self.lead.id)
        return converted(self.ctx, self.tenant_id, self.acc, customer_id, outcome, linked, self.warnings)
