"""Leads: read a lead for conversion, qualify it (``QualifyLead``), find what a qualification created,
and put a contact under an account.

Why a connector method per step instead of one "convert": crmsync decides (existing number, candidate,
new customer, walk-in) and only asks Dynamics to qualify with or without an account; the flow
(``crmsync.leads_dynamics``) reconciles the rows Dynamics made like any other row.

- ``qualify_lead`` sends ``CreateOpportunity=false`` and ``Status=3`` (Qualified). The answer's
  ``value`` names the created rows (``accountid``/``contactid``); Microsoft documents its exact shape
  loosely, so a row the answer does not name is looked up by its ``originatingleadid``.
- A lead that is not open cannot be qualified ("The lead is already closed."): ``LeadClosed``. The
  wording is not relied on: a refused QualifyLead re-reads the lead, and a lead no longer open is
  ``LeadClosed`` whatever the message (a retried POST whose first attempt went through lands here too).
- ``created_from_lead`` finds the account and contact a qualification made (``originatingleadid``),
  so a repeated conversion reuses them instead of qualifying twice.
- ``attach_contact`` binds ``parentcustomerid_account@odata.bind`` with ``If-Match: *`` (never creates),
  and only when the contact is not under that account already.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from crmsync.connectors.base import NotFoundError, VendorRefusedError
from crmsync.connectors.dataverse_mapping import ADDRESS_LINES, PARENT_CUSTOMER, is_guid
from crmsync.connectors.dataverse_reads import DataverseReads
from crmsync.models import Fields, ObjectType
from crmsync.text_rules import clean

LEAD_OPEN, LEAD_QUALIFIED, LEAD_DISQUALIFIED = 0, 1, 2
"""Lead ``statecode`` values (Open, Qualified, Disqualified)."""
STATUS_QUALIFIED = 3
"""The lead ``statuscode`` QualifyLead closes with (state Qualified)."""
LEAD_DETAIL_SELECT = ",".join(
    (
        "leadid",
        "subject",
        "firstname",
        "lastname",
        "companyname",
        "emailaddress1",
        "telephone1",
        "websiteurl",
        *ADDRESS_LINES,
        "address1_city",
        "address1_postalcode",
        "address1_country",
        "_parentaccountid_value",
        "statecode",
        "statuscode",
        "modifiedon",
    )
)
ORIGIN = "_originatingleadid_value"


class LeadClosed(VendorRefusedError):
    """QualifyLead on a lead that is not open (qualified or disqualified already)."""


class QualifiedLead(BaseModel):
    """The rows a qualification created (None: not asked for, or not made)."""

    account_id: str | None = None
    contact_id: str | None = None


class LeadDetails(BaseModel):
    """A Dynamics lead with the columns conversion compares and decides on."""

    id: str
    subject: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    companyname: str | None = None
    email: str | None = None
    phone: str | None = None
    statecode: int | None = None
    statuscode: int | None = None
    version: str | None = None

    website: str | None = None
    address: str | None = None
    city: str | None = None
    zip: str | None = None
    country: str | None = None
    parent_account_id: str | None = None
    """``parentaccountid``: an existing account the lead belongs to (the "existing number" case)."""

    def company_fields(self) -> Fields:
        """The lead's company as canonical customer fields (the duplicate search compares these)."""
        raw: dict[str, Any] = {
            "name": self.companyname,
            "email": self.email,
            "phone": self.phone,
            "website": self.website,
            "address": self.address,
            "zip": self.zip,
            "city": self.city,
            "country": self.country,
        }
        return {k: v for k, value in raw.items() if (v := clean(ObjectType.CUSTOMER, k, value)) is not None}


class DataverseLeads(DataverseReads):
    """``get_lead``, ``qualify_lead``, ``created_from_lead``, ``attach_contact``."""

    def get_lead(self, lead_id: str) -> LeadDetails | None:
        row = self._row("leads", lead_id, LEAD_DETAIL_SELECT)
        if not row:
            return None
        lines = [str(row.get(c) or "").strip() for c in ADDRESS_LINES]
        parent = row.get("_parentaccountid_value")
        return LeadDetails(
            id=str(row["leadid"]),
            subject=row.get("subject"),
            firstname=row.get("firstname"),
            lastname=row.get("lastname"),
            companyname=row.get("companyname"),
            email=row.get("emailaddress1"),
            phone=row.get("telephone1"),
            website=row.get("websiteurl"),
            address="\n".join(line for line in lines if line) or None,
            city=row.get("address1_city"),
            zip=row.get("address1_postalcode"),
            country=row.get("address1_country"),
            parent_account_id=str(parent) if parent else None,
            statecode=row.get("statecode"),
            statuscode=row.get("statuscode"),
            version=row.get("@odata.etag"),
        )

    def qualify_lead(self, lead_id: str, *, create_account: bool, create_contact: bool) -> QualifiedLead:
        """``QualifyLead`` (Status 3, no opportunity); the ids of the account and contact it made.

        ``NotFoundError`` for an unknown lead, ``LeadClosed`` for one that is not open.
        """
        if not is_guid(lead_id):
            raise NotFoundError(f"not a Dataverse id: {lead_id!r}")
        body = {
            "CreateAccount": create_account,
            "CreateContact": create_contact,
            "CreateOpportunity": False,
            "Status": STATUS_QUALIFIED,
        }
        url = self.url(f"leads({lead_id})/Microsoft.Dynamics.CRM.QualifyLead")
        try:
            answer = self._json(self._call("POST", url, body=body, ok=(200, 204)))
        except VendorRefusedError as exc:
            lead = self.get_lead(lead_id)
            if lead is not None and lead.statecode != LEAD_OPEN:
                raise LeadClosed(
                    f"lead {lead_id} is not open (state {lead.statecode}): {exc.message}",
                    status=exc.status,
                    code="lead_closed",
                    request_id=exc.request_id,
                ) from exc
            raise
        made = QualifiedLead()
        for entry in answer.get("value") or []:
            if isinstance(entry, dict) and entry.get("accountid"):
                made.account_id = str(entry["accountid"])
            elif isinstance(entry, dict) and entry.get("contactid"):
                made.contact_id = str(entry["contactid"])
        if (create_account and made.account_id is None) or (create_contact and made.contact_id is None):
            found = self.created_from_lead(lead_id)
            made.account_id = made.account_id or (found.account_id if create_account else None)
            made.contact_id = made.contact_id or (found.contact_id if create_contact else None)
        return made

    def created_from_lead(self, lead_id: str) -> QualifiedLead:
        """The account and contact whose ``originatingleadid`` is the lead (the oldest, if several)."""
        if not is_guid(lead_id):
            return QualifiedLead()
        found = QualifiedLead()
        for entity_set, key in (("accounts", "accountid"), ("contacts", "contactid")):
            url = self.url(
                entity_set,
                {
                    "$select": f"{key},createdon",
                    "$filter": f"{ORIGIN} eq {lead_id.lower()}",
                    "$orderby": f"createdon asc,{key} asc",
                },
            )
            first = next(self._rows(url), None)
            if first is not None:
                setattr(found, "account_id" if key == "accountid" else "contact_id", str(first[key]))
        return found

    def attach_contact(self, contact_id: str, account_id: str) -> bool:
        """Put a contact under an account (``parentcustomerid``); False when it is there already.

        Read first, so a repeated conversion writes nothing (every write fires the org's plug-ins and
        webhooks); a missing contact is a ``NotFoundError``, and ``If-Match: *`` never creates one.
        """
        if not (is_guid(contact_id) and is_guid(account_id)):
            raise NotFoundError("not a Dataverse id")
        row = self._row("contacts", contact_id, f"contactid,{PARENT_CUSTOMER}")
        if row is None:
            raise NotFoundError(f"contact {contact_id} not found")
        if str(row.get(PARENT_CUSTOMER) or "").lower() == account_id.lower():
            return False
        self._call(
            "PATCH",
            self.url(f"contacts({contact_id})"),
            headers={"If-Match": "*"},
            body={"parentcustomerid_account@odata.bind": f"/accounts({account_id})"},
        )
        return True
