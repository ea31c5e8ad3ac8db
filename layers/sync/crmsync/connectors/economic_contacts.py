"""Contact writes through the Customers API: idempotent creates, ``objectVersion``-guarded updates.

A contact PUT is a full replace, so an update overlays only the item's canonical fields on a fresh
read and re-reads on a version conflict."""

from __future__ import annotations

from typing import Any

from crmsync.connectors.base import (
    ConflictError,
    NotFoundError,
    SourceRecord,
    TransientError,
    VendorRefusedError,
    WriteItem,
)
from crmsync.connectors.economic_client import CONFLICT_RETRIES
from crmsync.connectors.economic_mapping import _CONTACT_PROPS, _CONTACT_READ_ONLY, _as_number, _refuse_stale
from crmsync.connectors.economic_reads import EconomicReads
from crmsync.models import ObjectType, normalize


class EconomicContactWrites(EconomicReads):
    """Contact creates and updates of ``EconomicConnector``."""

    def _create_contact(self, item: WriteItem) -> SourceRecord:
        parent = item.parent_external_id
        if not parent or not parent.isdigit():
            raise VendorRefusedError(
                "an e-conomic contact needs its customer's number", code="missing_parent"
            )
        name = normalize(item.fields.get("name"))
        if not name:
            raise VendorRefusedError("an e-conomic contact needs a name", code="missing_name")
        body: dict[str, Any] = {"customerNumber": int(parent), "name": str(name)}
        for canonical, prop in _CONTACT_PROPS.items():
            value = normalize(item.fields.get(canonical))
            if value is not None and canonical != "name":
                body[prop] = str(value)
        key = self.idempotency_key(ObjectType.CONTACT, item.record_id)
        for attempt in range(3):
            response = self._call(
                "POST", f"{self.customers_api_url}/Contacts", json=body, headers={"Idempotency-Key": key}
            )
            number = str(response.json()["number"])
            if response.headers.get("X-ResultFromCache", "").lower() != "true":
                return self._contact_from_api({**body, "number": number}, written=True)
            current = self.get(ObjectType.CONTACT, number)
            if current is not None:
                return current
            key = f"{self.idempotency_key(ObjectType.CONTACT, item.record_id)}-{attempt + 1}"
        raise TransientError("e-conomic kept replaying a create whose contact no longer exists")

    def _update_contact(self, item: WriteItem) -> SourceRecord:
        number = _as_number(item.external_id, "external_id")
        url = f"{self.customers_api_url}/Contacts/{number}"
        for attempt in range(CONFLICT_RETRIES + 1):
            current = {k: v for k, v in self._call("GET", url).json().items() if v is not None}
            if current.get("isDeleted"):
                raise NotFoundError(f"e-conomic contact {number} is deleted", status=404, code="deleted")
            _refuse_stale(item.expected, self._contact_from_api(current).fields)
            body = {k: v for k, v in current.items() if k not in _CONTACT_READ_ONLY}
            for canonical, raw in item.fields.items():
                prop, value = _CONTACT_PROPS.get(canonical), normalize(raw)
                if prop is None:
                    continue
                if value is not None:
                    body[prop] = str(value)
                elif canonical != "name":
                    body.pop(prop, None)
            if item.parent_external_id and item.parent_external_id.isdigit():
                body["customerNumber"] = int(item.parent_external_id)
            if body == {k: v for k, v in current.items() if k not in _CONTACT_READ_ONLY}:
                return self._contact_from_api(current)
            try:
                self._call("PUT", f"{self.customers_api_url}/Contacts", json=body)
            except ConflictError:
                if attempt == CONFLICT_RETRIES:
                    raise
                continue
            return self._contact_from_api(body, written=True)
        raise AssertionError("unreachable")  # pragma: no cover
