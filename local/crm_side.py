"""The CRM of a local account, whichever it is: what tests, the demo, chaos and the bench do to it.

A scenario ("a salesperson edits a company's phone", "crmsync's writes to the CRM", "every company
with its fields") reads the same for HubSpot and Dynamics 365; only the fake underneath differs. This
module says it once, in canonical field names: a ``CrmSide`` translates through the connectors' own
field mappings (``HubSpotMapping``, ``DataverseMapping``: no second copy of the property or column
names) and acts on the fake as a person would (the fakes' UI paths: webhooks fire, no API call is
counted), while ``write_calls`` counts what crmsync wrote through the API.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crmsync.connectors.dataverse_mapping import PRIMARY_KEY, DataverseMapping
from crmsync.connectors.hubspot_mapping import HubSpotMapping
from crmsync.facts import FACT_NAMES, GROUP_NAMES
from crmsync.models import Fields, ObjectType
from local.fakes.dataverse import DataverseFake
from local.fakes.hubspot import HubSpotFake

CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


@dataclass(frozen=True)
class CrmRow:
    """One CRM record in canonical terms: its id, its fields and its parent (a contact's company, an
    account's parent account)."""

    id: str
    fields: Fields
    parent_id: str | None


class CrmSide(Protocol):
    kind: str
    connection_id: str

    def rows(self, object_type: ObjectType) -> list[CrmRow]: ...

    def get(self, object_type: ObjectType, row_id: str) -> CrmRow | None: ...

    def create(self, object_type: ObjectType, fields: Fields, *, parent_id: str | None = None) -> str: ...

    def edit(self, object_type: ObjectType, row_id: str, fields: Fields) -> None: ...

    def delete(self, object_type: ObjectType, row_id: str) -> None: ...

    def set_parent(self, contact_id: str, customer_id: str) -> None:
        """A person makes ``customer_id`` the contact's (primary) company."""
        ...

    def set_parent_account(self, child_id: str, parent_id: str | None) -> None:
        """A person puts a company under a parent company (the hierarchy), or takes it out (None)."""
        ...

    def supports(self, object_type: ObjectType, field: str) -> bool:
        """Does the CRM hold the canonical field (the connector's mapping has a property/column for it)?"""
        ...

    def new_owner(self) -> str:
        """A new CRM user who may own records: its id is the canonical ``account_manager`` value."""
        ...

    def write_calls(self) -> int:
        """API calls that changed something (crmsync's writes; people's edits are not counted)."""
        ...

    def api_calls(self) -> int: ...

    def change_events(self) -> int:
        """Change notifications the CRM has produced so far (webhook events, people's and crmsync's)."""
        ...

    def facts(self, customer_id: str) -> dict[str, Any]:
        """The accounting facts crmsync wrote on a company/account, by fact name (unset: None)."""
        ...

    def notes(self, customer_id: str) -> list[str]:
        """The notes on a company/account's timeline, oldest first, as plain text."""
        ...


def find(side: CrmSide, object_type: ObjectType, field: str, value: str | None) -> list[CrmRow]:
    """The rows whose canonical ``field`` is ``value`` (e.g. the company carrying a customer number)."""
    return [row for row in side.rows(object_type) if row.fields.get(field) == value]


def contacts_of(side: CrmSide, customer_id: str) -> list[CrmRow]:
    """The contacts whose (primary) company is ``customer_id``."""
    return [row for row in side.rows(CONTACT) if row.parent_id == customer_id]


class HubSpotSide:
    """A HubSpot portal (companies and contacts)."""

    kind = "hubspot"

    _owners = itertools.count(501)
    """HubSpot owner ids are numbers; the fake takes any (owners are the property's external options)."""

    def __init__(self, fake: HubSpotFake, connection_id: str) -> None:
        self.fake, self.connection_id = fake, connection_id
        self._mapping = HubSpotMapping()

    @staticmethod
    def _type(object_type: ObjectType) -> str:
        return "companies" if object_type is CUSTOMER else "contacts"

    def _row(self, object_type: ObjectType, item: dict[str, Any]) -> CrmRow:
        parent = None
        if object_type is CONTACT:
            # The primary company (HubSpot's calculated ``associatedcompanyid``), as the connector reads it.
            companies = (item.get("associations") or {}).get("companies") or []
            primary = (item.get("properties") or {}).get("associatedcompanyid")
            parent = str(primary) if primary else (str(companies[0]) if companies else None)
        source = self._mapping.to_source(object_type, item, parent=parent)
        return CrmRow(source.external_id, source.fields, parent)

    def rows(self, object_type: ObjectType) -> list[CrmRow]:
        return [self._row(object_type, item) for item in self.fake.records(self._type(object_type))]

    def get(self, object_type: ObjectType, row_id: str) -> CrmRow | None:
        item = self.fake.record(self._type(object_type), row_id)
        return None if item is None or item.get("archived") else self._row(object_type, item)

    def create(self, object_type: ObjectType, fields: Fields, *, parent_id: str | None = None) -> str:
        new_id = self.fake.create(self._type(object_type), self._mapping.to_properties(object_type, fields))
        if parent_id is not None and object_type is CONTACT:
            self.fake.associate(new_id, parent_id, primary=True)
        return new_id

    def edit(self, object_type: ObjectType, row_id: str, fields: Fields) -> None:
        self.fake.edit(self._type(object_type), row_id, self._mapping.to_properties(object_type, fields))

    def delete(self, object_type: ObjectType, row_id: str) -> None:
        self.fake.delete(self._type(object_type), row_id)

    def set_parent(self, contact_id: str, customer_id: str) -> None:
        """The primary label moves to ``customer_id`` (the former primary company stays associated)."""
        self.fake.associate(contact_id, customer_id, primary=True)

    def set_parent_account(self, child_id: str, parent_id: str | None) -> None:
        self.fake.set_parent_company(child_id, parent_id)

    def supports(self, object_type: ObjectType, field: str) -> bool:
        return field in self._mapping.supported_fields(object_type)

    def new_owner(self) -> str:
        return str(next(self._owners))

    def write_calls(self) -> int:
        return int(self.fake.stats()["writes"])

    def api_calls(self) -> int:
        return int(self.fake.stats()["total"])

    def change_events(self) -> int:
        return int(self.fake.stats()["webhooks"]["events"])

    def notes(self, customer_id: str) -> list[str]:
        bodies = [
            str((n.get("properties") or {}).get("hs_note_body") or "")
            for n in self.fake.company_notes(customer_id)
        ]
        return [html.unescape(b.replace("<br>", "\n")) for b in bodies]

    def facts(self, customer_id: str) -> dict[str, Any]:
        """HubSpot keeps them in crmsync's company properties ``crmsync_<fact>`` (as text)."""
        item = self.fake.record("companies", customer_id) or {}
        properties = item.get("properties") or {}
        return {name: properties.get(f"crmsync_{name}") or None for name in (*FACT_NAMES, *GROUP_NAMES)}


class DynamicsSide:
    """A Dynamics 365 organisation (accounts and contacts)."""

    kind = "dynamics"

    def __init__(
        self, fake: DataverseFake, connection_id: str, columns: Mapping[str, str] | None = None
    ) -> None:
        """``columns``: the organisation's custom account columns per customer field (as its tenant maps)."""
        self.fake, self.connection_id = fake, connection_id
        self._mapping = DataverseMapping()
        self._mapping.custom_columns = dict(columns or {})

    @staticmethod
    def _table(object_type: ObjectType) -> str:
        return "account" if object_type is CUSTOMER else "contact"

    def _row(self, object_type: ObjectType, row: dict[str, Any]) -> CrmRow:
        source = self._mapping.to_source(object_type, row)
        return CrmRow(source.external_id, source.fields, source.parent_external_id)

    def rows(self, object_type: ObjectType) -> list[CrmRow]:
        """The live rows (a merged-away row stays in Dataverse, deactivated: not a record any more)."""
        rows = self.fake.rows(self._table(object_type))
        return [self._row(object_type, row) for row in rows if not row.get("merged")]

    def get(self, object_type: ObjectType, row_id: str) -> CrmRow | None:
        row = self.fake.row(self._table(object_type), row_id)
        return None if row is None else self._row(object_type, {PRIMARY_KEY[object_type]: row_id, **row})

    def create(self, object_type: ObjectType, fields: Fields, *, parent_id: str | None = None) -> str:
        columns = self._mapping.to_columns(object_type, fields, parent_id if object_type is CONTACT else None)
        if parent_id is not None and object_type is CUSTOMER:
            columns["parentaccountid@odata.bind"] = f"/accounts({parent_id})"
        return self.fake.person_create(self._table(object_type), columns)

    def edit(self, object_type: ObjectType, row_id: str, fields: Fields) -> None:
        self.fake.person_edit(self._table(object_type), row_id, self._mapping.to_columns(object_type, fields))

    def delete(self, object_type: ObjectType, row_id: str) -> None:
        self.fake.person_delete(self._table(object_type), row_id)

    def set_parent_account(self, child_id: str, parent_id: str | None) -> None:
        bind = f"/accounts({parent_id})" if parent_id else None
        self.fake.person_edit("account", child_id, {"parentaccountid@odata.bind": bind})

    def merge(self, object_type: ObjectType, keep_id: str, merged_id: str) -> str:
        """A person merges ``merged_id`` into ``keep_id`` in the UI; the survivor keeps its id."""
        self.fake.person_merge(self._table(object_type), keep_id, merged_id)
        return keep_id

    def set_parent(self, contact_id: str, customer_id: str) -> None:
        self.fake.person_edit(
            "contact", contact_id, {"parentcustomerid_account@odata.bind": f"/accounts({customer_id})"}
        )

    def supports(self, object_type: ObjectType, field: str) -> bool:
        return field in self._mapping.supported_fields(object_type)

    def new_owner(self) -> str:
        """A user of the organisation (a ``systemuser`` row); accounts are owned by users or teams."""
        (user_id,) = self.fake.seed("systemuser", [{"firstname": "Sælger", "lastname": "Dynamics"}])
        return user_id

    def write_calls(self) -> int:
        calls: dict[str, int] = self.fake.stats["calls"]
        return sum(n for call, n in calls.items() if not call.startswith("GET"))

    def api_calls(self) -> int:
        return sum(self.fake.stats["calls"].values())

    def revoke_tokens(self) -> int:
        """Entra ID revokes every access token it issued for the organisation (their next use answers 401);
        returns how many. A client whose secret still works gets a new one, one whose secret was revoked not.
        """
        return self.fake.revoke_tokens()

    def notes(self, customer_id: str) -> list[str]:
        rows = [r for r in self.fake.rows("annotation") if r.get("_objectid_value") == customer_id.lower()]
        return [str(r.get("notetext") or "") for r in sorted(rows, key=lambda r: r.get("versionnumber") or 0)]

    def facts(self, customer_id: str) -> dict[str, Any]:
        """The local organisation's fact columns (``local.vendors.DYNAMICS_FACT_COLUMNS``), as stored."""
        from local.vendors import DYNAMICS_FACT_COLUMNS

        row = self.fake.row("account", customer_id) or {}
        return {name: row.get(column) for name, column in DYNAMICS_FACT_COLUMNS.items()}

    def change_events(self) -> int:
        """Service-endpoint notifications sent or held for delivery (Dataverse's asynchronous system jobs)."""
        stats = self.fake.stats
        return int(stats["webhook_deliveries"] + stats["held_webhooks"])
