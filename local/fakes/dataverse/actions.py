"""Actions and functions: ``QualifyLead`` (bound to lead), ``Merge`` (unbound), ``WhoAmI``, a tiny ``$metadata``.

Merge follows Learn's "Merge entity using the Web API" and the Merge action reference (see PROVENANCE.md):
Target, Subordinate and PerformParentingChecks are required, both rows of the same type (account or
contact) and active; UpdateContent's columns are set on the target; the subordinate's child contacts
move to the target (``parentcustomerid``); the subordinate is deactivated (statecode 1, statuscode 2) with
``merged`` true and ``masterid`` the target. Each of those writes is an Update by the caller, so
registered Update steps see them (the fake records no separate "Merge" message for steps: crmsync
registers Create/Update/Delete/Assign). Columns are not copied from the subordinate implicitly: the
caller (the UI's merge dialog) sends what it chose as UpdateContent.

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

    def _h_merge(self, req: Req) -> Resp:
        params = req.json()
        if not isinstance(params, dict):
            raise ApiError(400, E_INVALID_ARG, "The request body must be a JSON object.")
        for name in ("Target", "Subordinate", "PerformParentingChecks"):
            if name not in params:
                raise ApiError(400, E_INVALID_ARG, f"Required parameter '{name}' is missing for Merge.")
        target, subordinate = params["Target"], params["Subordinate"]
        table = self._merge_table(target)
        if self._merge_table(subordinate) is not table:
            raise ApiError(400, E_INVALID_ARG, "Target and Subordinate must be of the same entity type.")
        update = params.get("UpdateContent") or {}
        changes = self._convert(table, {k: v for k, v in update.items() if k != table.pk}, creating=False)
        self.merge_rows(
            table.name,
            str(target.get(table.pk) or ""),
            str(subordinate.get(table.pk) or ""),
            changes,
            parenting_checks=bool(params["PerformParentingChecks"]),
            user=req.user_id,
        )
        return Resp(204)

    def _merge_table(self, entity: Any) -> Any:
        kind = str(entity.get("@odata.type") or "") if isinstance(entity, dict) else ""
        name = kind.rsplit(".", 1)[-1]
        if name not in ("account", "contact"):
            raise ApiError(
                400, E_INVALID_ARG, f"Merge is not supported for the entity type '{name or kind}'."
            )
        return self.tables[name]

    def merge_rows(
        self,
        table_name: str,
        target_id: str,
        subordinate_id: str,
        changes: dict[str, Any],
        *,
        parenting_checks: bool,
        user: str,
    ) -> None:
        """The Merge action's effects (the caller holds the lock; see the module doc)."""
        table = self.tables[table_name]
        rows = self._rows[table.name]
        target, sub = rows.get(target_id.lower()), rows.get(subordinate_id.lower())
        if target is None:
            raise not_found(table, target_id)
        if sub is None:
            raise not_found(table, subordinate_id)
        if target is sub:
            raise ApiError(400, E_INVALID_ARG, "The target and the subordinate are the same record.")
        if target.get("statecode") != 0 or sub.get("statecode") != 0:
            raise ApiError(400, E_INVALID_ARG, "Only active records can be merged.")
        parent = "_parentaccountid_value" if table.name == "account" else "_parentcustomerid_value"
        if parenting_checks and target.get(parent) != sub.get(parent):
            # The documented meaning of PerformParentingChecks; the exact error text is the fake's.
            raise ApiError(
                400, E_INVALID_ARG, "The parent of the subordinate differs from the target's parent."
            )
        tid, sid = target[table.pk], sub[table.pk]
        if changes:
            self._update(table, tid, dict(changes), user)
        if table.name == "account":
            children = [c for c in self._rows["contact"].values() if c.get("_parentcustomerid_value") == sid]
            for child in children:
                self._update(
                    self.tables["contact"], child["contactid"], {"_parentcustomerid_value": tid}, user
                )
        self._update(
            table, sid, {"merged": True, "_masterid_value": tid, "statecode": 1, "statuscode": 2}, user
        )

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
