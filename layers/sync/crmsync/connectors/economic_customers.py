"""Customer writes: legacy POST creates (idempotent), Customers API updates guarded by
``objectVersion``, and the legacy PUT for ``publicEntryNumber``.

Each write goes to the API that can do it safely (see ``crmsync.connectors.economic``)."""

from __future__ import annotations

from typing import Any

from crmsync.connectors.base import ConflictError, SourceRecord, TransientError, VendorRefusedError, WriteItem
from crmsync.connectors.economic_client import CONFLICT_RETRIES
from crmsync.connectors.economic_mapping import (
    _LEGACY_ONLY,
    _LEGACY_OPTIONAL_REFS,
    _LEGACY_PUT_PROPERTIES,
    _LEGACY_REFS,
    _LEGACY_SCALARS,
    _as_bool,
    _as_number,
    _public_entry_number,
    _refuse_stale,
)
from crmsync.connectors.economic_reads import EconomicReads
from crmsync.models import Fields, ObjectType, normalize


class EconomicCustomerWrites(EconomicReads):
    """Customer creates and updates of ``EconomicConnector``."""

    def _create_customer(self, item: WriteItem) -> SourceRecord:
        body = self._legacy_create_body(item.fields)
        key = self.idempotency_key(ObjectType.CUSTOMER, item.record_id)
        for attempt in range(3):
            response = self._call(
                "POST", f"{self.rest_base_url}/customers", json=body, headers={"Idempotency-Key": key}
            )
            data = response.json()
            if response.headers.get("X-ResultFromCache", "").lower() != "true":
                return self._customer_from_legacy(data)
            current = self.get(ObjectType.CUSTOMER, str(data["customerNumber"]))
            if current is not None:
                return current
            key = f"{self.idempotency_key(ObjectType.CUSTOMER, item.record_id)}-{attempt + 1}"
        raise TransientError("e-conomic kept replaying a create whose customer no longer exists")

    def _legacy_create_body(self, fields: Fields) -> dict[str, Any]:
        name = normalize(fields.get("name"))
        if not name:
            raise VendorRefusedError("an e-conomic customer needs a name", code="missing_name")
        currency = normalize(fields.get("currency")) or self.defaults.currency
        body: dict[str, Any] = {"name": str(name), "currency": str(currency).upper()}
        defaults = {
            "customer_group": self.defaults.customer_group,
            "payment_terms": self.defaults.payment_terms,
            "vat_zone": self.defaults.vat_zone,
        }
        for canonical, (prop, number_prop) in _LEGACY_REFS.items():
            value = fields.get(canonical)
            number = defaults[canonical] if normalize(value) is None else _as_number(value, canonical)
            body[prop] = {number_prop: number}
        if self.defaults.layout is not None:
            body["layout"] = {"layoutNumber": self.defaults.layout}
        _public_entry_number(fields)
        for canonical, prop in _LEGACY_SCALARS.items():
            value = normalize(fields.get(canonical))
            if value is not None and canonical not in ("name", "currency"):
                body[prop] = str(value)
        for canonical, (prop, number_prop) in _LEGACY_OPTIONAL_REFS.items():
            if normalize(fields.get(canonical)) is not None:
                body[prop] = {number_prop: _as_number(fields[canonical], canonical)}
        if normalize(fields.get("customer_number")) is not None:
            body["customerNumber"] = _as_number(fields["customer_number"], "customer_number")
        if normalize(fields.get("barred")) is not None and _as_bool(fields["barred"]):
            body["barred"] = True
        return body

    def _update_customer(self, item: WriteItem) -> SourceRecord:
        """Customers API for what it knows, then a legacy PUT for ``external_number`` if the item has it.

        ``external_number`` is checked before the first write, so a value e-conomic would refuse never
        leaves the item half written (the Customers API part is validated before its own PUT).
        """
        number = str(_as_number(item.external_id, "external_id"))
        api_fields = {k: v for k, v in item.fields.items() if k not in _LEGACY_ONLY}
        if "external_number" not in item.fields:
            return self._update_customer_api(number, api_fields, item.expected)
        entry = _public_entry_number(item.fields)
        if api_fields:
            self._update_customer_api(number, api_fields, item.expected)
        return self._update_public_entry_number(number, entry)

    def _update_customer_api(
        self, number: str, fields: Fields, expected: Fields | None = None
    ) -> SourceRecord:
        url = f"{self.customers_api_url}/Customers/{number}"
        for attempt in range(CONFLICT_RETRIES + 1):
            current = {k: v for k, v in self._call("GET", url).json().items() if v is not None}
            _refuse_stale(expected or {}, self._customer_from_api(current).fields)
            body = self._overlay_customer(current, fields, number)
            if body == current:
                return self._customer_from_api(current)
            try:
                self._call("PUT", url, json=body)
            except ConflictError:
                if attempt == CONFLICT_RETRIES:
                    raise
                continue
            return self._customer_from_api(body, written=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def _update_public_entry_number(self, number: str, value: str | None) -> SourceRecord:
        """Legacy read-modify-write of ``publicEntryNumber`` alone (the Customers API lacks it).

        The legacy PUT has no version guard: only the few milliseconds between its GET and PUT are
        exposed to a concurrent edit, and only properties the legacy API knows. The PUT answers with the
        stored customer, so the returned record is what e-conomic holds, not what was asked for.
        """
        url = f"{self.rest_base_url}/customers/{number}"
        current: dict[str, Any] = self._call("GET", url).json()
        if normalize(current.get("publicEntryNumber")) == value:
            return self._customer_from_legacy(current)
        body = {k: v for k, v in current.items() if k in _LEGACY_PUT_PROPERTIES and v is not None}
        body.pop("publicEntryNumber", None)
        if value is not None:
            body["publicEntryNumber"] = value
        return self._customer_from_legacy(self._call("PUT", url, json=body).json())
