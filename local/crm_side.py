"""The CRM of a local account, whichever it is: what tests, the demo, chaos and the bench do to it.

A scenario ("a salesperson edits a company's phone", "crmsync's writes to the CRM", "every company
with its fields") reads the same for HubSpot and Dynamics 365; only the fake underneath differs. This
module says it once, in canonical field names: a ``CrmSide`` translates through the connectors' own
field mappings (``HubSpotMapping``, ``DataverseMapping``: no second copy of the property or column
names) and acts on the fake as a person would (the fakes' UI paths: webhooks fire, no API call is
counted), while ``write_calls`` counts what crmsync wrote through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from crmsync.connectors.dataverse_mapping import PRIMARY_KEY, DataverseMapping
from crmsync.connectors.hubspot_mapping import HubSpotMapping
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

    def write_calls(self) -> int:
        """API calls that changed something (crmsync's writes; people's edits are not counted)."""
        ...

    def api_calls(self) -> int: ...


class HubSpotSide:
    """A HubSpot portal (companies and contacts)."""

    kind = "hubspot"

    def __init__(self, fake: HubSpotFake, connection_id: str) -> None:
        self.fake, self.connection_id = fake, connection_id
        self._mapping = HubSpotMapping()

    @staticmethod
    def _type(object_type: ObjectType) -> str:
        return "companies" if object_type is CUSTOMER else "contacts"

    def _row(self, object_type: ObjectType, item: dict[str, Any]) -> CrmRow:
        parents = (item.get("associations") or {}).get("companies") or []
        parent = str(parents[0]) if object_type is CONTACT and parents else None
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

    def write_calls(self) -> int:
        return int(self.fake.stats()["writes"])

    def api_calls(self) -> int:
        return int(self.fake.stats()["total"])


class DynamicsSide:
    """A Dynamics 365 organisation (accounts and contacts)."""

    kind = "dynamics"

    def __init__(self, fake: DataverseFake, connection_id: str) -> None:
        self.fake, self.connection_id = fake, connection_id
        self._mapping = DataverseMapping()

    @staticmethod
    def _table(object_type: ObjectType) -> str:
        return "account" if object_type is CUSTOMER else "contact"

    def _row(self, object_type: ObjectType, row: dict[str, Any]) -> CrmRow:
        source = self._mapping.to_source(object_type, row)
        return CrmRow(source.external_id, source.fields, source.parent_external_id)

    def rows(self, object_type: ObjectType) -> list[CrmRow]:
        return [self._row(object_type, row) for row in self.fake.rows(self._table(object_type))]

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

    def write_calls(self) -> int:
        calls: dict[str, int] = self.fake.stats["calls"]
        return sum(n for call, n in calls.items() if not call.startswith("GET"))

    def api_calls(self) -> int:
        return sum(self.fake.stats["calls"].values())
