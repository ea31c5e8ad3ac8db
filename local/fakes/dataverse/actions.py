"""Actions and functions: ``QualifyLead`` (bound to lead), ``WhoAmI``, and a tiny ``$metadata``.

QualifyLead side effects follow XrmMockup's QualifyLeadRequestHandler (see PROVENANCE.md): the lead must be
open, ``Status`` must be a lead status; the new account gets companyname->name plus same-named columns
(emailaddress1, address1_*, websiteurl, description), the new contact firstname/lastname/jobtitle/
emailaddress1/mobilephone/address1_* and the new account as parentcustomerid; both get originatingleadid.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from local.fakes.dataverse.errors import E_INVALID_ARG, ApiError
from local.fakes.dataverse.odata import Req, Resp
from local.fakes.dataverse.records import not_found

ADDRESS = (
    "address1_line1",
    "address1_line2",
    "address1_line3",
    "address1_city",
    "address1_postalcode",
    "address1_country",
)
ACCOUNT_MAP = {"companyname": "name", "emailaddress1": "emailaddress1", "websiteurl": "websiteurl",
               "description": "description", **{a: a for a in ADDRESS}}  # fmt: skip
CONTACT_MAP = {"firstname": "firstname", "lastname": "lastname", "jobtitle": "jobtitle",
               "emailaddress1": "emailaddress1", "mobilephone": "mobilephone", **{a: a for a in ADDRESS}}  # fmt: skip
_EDM = {
    "String": "Edm.String",
    "Memo": "Edm.String",
    "Uniqueidentifier": "Edm.Guid",
    "Money": "Edm.Decimal",
    "Boolean": "Edm.Boolean",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "DateTime": "Edm.DateTimeOffset",
}


class ActionsMixin:
    def _h_qualify_lead(self, req: Req, key: str) -> Resp:
        leads, accounts, contacts = self.tables["lead"], self.tables["account"], self.tables["contact"]
        lead_id, _ = self._resolve(leads, key)
        lead = self._rows["lead"].get(lead_id or "")
        if lead is None:
            raise not_found(leads, lead_id or key)
        params = req.json()
        for name in ("CreateAccount", "CreateContact", "CreateOpportunity", "Status"):
            if name not in params:
                raise ApiError(400, E_INVALID_ARG, f"Required parameter '{name}' is missing for QualifyLead.")
        if params["CreateOpportunity"]:
            raise ApiError(400, E_INVALID_ARG, "CreateOpportunity: the fake does not model opportunities.")
        if lead["statecode"] != 0:
            raise ApiError(400, E_INVALID_ARG, "The lead is already closed.")
        status = params["Status"]
        if not isinstance(status, int) or leads.state_of_status(status) is None:
            raise ApiError(400, E_INVALID_ARG, f"{status} is not a valid status code for lead.")
        created: list[dict[str, Any]] = []
        account_id = None
        origin = {"_originatingleadid_value": lead["leadid"]}
        if params["CreateAccount"]:
            changes = {dst: lead.get(src) for src, dst in ACCOUNT_MAP.items() if lead.get(src) is not None}
            account_id = self._create(accounts, {**changes, **origin}, req.user_id)["accountid"]
            created.append({"@odata.type": "#Microsoft.Dynamics.CRM.account", "accountid": account_id})
        if params["CreateContact"]:
            changes = {dst: lead.get(src) for src, dst in CONTACT_MAP.items() if lead.get(src) is not None}
            if account_id is not None:
                changes["_parentcustomerid_value"] = account_id
            contact_id = self._create(contacts, {**changes, **origin}, req.user_id)["contactid"]
            created.append({"@odata.type": "#Microsoft.Dynamics.CRM.contact", "contactid": contact_id})
        self._update(leads, lead["leadid"], {"statuscode": status}, req.user_id)
        context = f"{self._api_url()}/$metadata#Collection(mscrm.crmbaseentity)"
        return Resp(200, {"@odata.context": context, "value": created}, {"Content-Type": "application/json"})

    def _h_whoami(self, req: Req) -> Resp:
        body = {
            "@odata.context": f"{self._api_url()}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": self.business_unit_id,
            "UserId": req.user_id,
            "OrganizationId": self.organization_id,
        }
        return Resp(200, body, {"Content-Type": "application/json; odata.metadata=minimal"})

    def _h_metadata(self, req: Req) -> Resp:
        """A tiny CSDL with the served entity types (the real document is many MB)."""
        lines = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
            "<edmx:DataServices>",
            '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
            '<EntityType Name="crmbaseentity" Abstract="true"/>',
        ]
        for table in self.tables.values():
            lines.append(f'<EntityType Name="{table.name}" BaseType="mscrm.crmbaseentity">')
            lines.append(f'<Key><PropertyRef Name="{table.pk}"/></Key>')
            for column in table.columns.values():
                edm = "Edm.Guid" if column.is_lookup else _EDM.get(column.type, "Edm.String")
                lines.append(f"<Property Name={quoteattr(column.read_name)} Type={quoteattr(edm)}/>")
            lines.append("</EntityType>")
        lines.append('<EntityContainer Name="System">')
        for table in self.tables.values():
            lines.append(
                f'<EntitySet Name="{table.entity_set}" EntityType="Microsoft.Dynamics.CRM.{table.name}"/>'
            )
        lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
        return Resp(200, "\n".join(lines).encode(), {"Content-Type": "application/xml"})
