"""Reads of HubSpot records by id, by company and in full.

Contacts are read together with their primary company, so every read answers with the
``parent_external_id`` the engine needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from crmsync.connectors.base import NotFoundError, SourceRecord
from crmsync.connectors.hubspot_associations import HubSpotAssociations
from crmsync.connectors.hubspot_client import BATCH_SIZE, _slices
from crmsync.connectors.hubspot_errors import _body
from crmsync.connectors.hubspot_mapping import HS_TYPE, HubSpotMapping
from crmsync.models import ObjectType

LIST_PAGE = 100
ASSOC_PAGE = 500


class HubSpotReads(HubSpotAssociations, HubSpotMapping):
    """``get``, ``get_many``, ``contacts_of`` and ``list_all`` of ``HubSpotConnector``."""

    def get(self, object_type: ObjectType, external_id: str) -> SourceRecord | None:
        params = {"properties": ",".join(self._properties(object_type)), "archived": "false"}
        if object_type is ObjectType.CONTACT:
            params["associations"] = "companies"
        path = f"/crm/v3/objects/{HS_TYPE[object_type]}/{quote(external_id, safe='')}"
        try:
            obj = _body(self._call("GET", path, params=params))
        except NotFoundError:
            return None
        if obj.get("archived"):
            return None
        parent = self._parent_from_v3(obj) if object_type is ObjectType.CONTACT else None
        return self.to_source(object_type, obj, parent=parent)

    def get_many(self, object_type: ObjectType, external_ids: list[str]) -> dict[str, SourceRecord]:
        ids = list(dict.fromkeys(str(i) for i in external_ids))
        found: dict[str, dict[str, Any]] = {}
        for chunk in _slices(ids, BATCH_SIZE):
            body = {
                "inputs": [{"id": i} for i in chunk],
                "properties": self._properties(object_type),
                "propertiesWithHistory": [],
            }
            data, _ = self._post(f"/crm/v3/objects/{HS_TYPE[object_type]}/batch/read?archived=false", body)
            for obj in data.get("results") or []:
                found[str(obj["id"])] = obj  # missing ids come back as 207 errors: absent from the result
        parents = self._parents(list(found)) if object_type is ObjectType.CONTACT else {}
        return {i: self.to_source(object_type, found[i], parent=parents.get(i)) for i in ids if i in found}

    def contacts_of(self, customer_external_id: str) -> list[SourceRecord]:
        contact_ids: list[str] = []
        after: str | None = None
        path = f"/crm/v4/objects/companies/{quote(customer_external_id, safe='')}/associations/contacts"
        while True:
            params = {"limit": str(ASSOC_PAGE), **({"after": after} if after else {})}
            try:
                data = _body(self._call("GET", path, params=params))
            except NotFoundError:
                return []
            contact_ids += [str(r["toObjectId"]) for r in data.get("results") or []]
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        records = self.get_many(ObjectType.CONTACT, contact_ids)
        return [records[i] for i in dict.fromkeys(contact_ids) if i in records]

    def _with_parents(self, object_type: ObjectType, objects: list[dict[str, Any]]) -> Iterator[SourceRecord]:
        if not objects:
            return
        parents = self._parents([str(o["id"]) for o in objects]) if object_type is ObjectType.CONTACT else {}
        for obj in objects:
            yield self.to_source(object_type, obj, parent=parents.get(str(obj["id"])))

    def list_all(self, object_type: ObjectType) -> Iterator[SourceRecord]:
        params = {
            "limit": str(LIST_PAGE),
            "properties": ",".join(self._properties(object_type)),
            "archived": "false",
        }
        if object_type is ObjectType.CONTACT:
            params["associations"] = "companies"
        after: str | None = None
        while True:
            query = {**params, **({"after": after} if after else {})}
            data = _body(self._call("GET", f"/crm/v3/objects/{HS_TYPE[object_type]}", params=query))
            for obj in data.get("results") or []:
                parent = self._parent_from_v3(obj) if object_type is ObjectType.CONTACT else None
                yield self.to_source(object_type, obj, parent=parent)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
