"""State mutations shared by both APIs and the test control (called with the fake's lock held)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from local.fakes.economic.fields import (
    _API_CONTACT_FIELDS,
    _API_CUSTOMER_FIELDS,
    _LEGACY_REFS,
    _LEGACY_SCALARS,
)
from local.fakes.economic.helpers import _check_value
from local.fakes.economic.model import (
    DEFAULT_DAYS_OF_CREDIT,
    DOMESTIC_VAT_RATE,
    _BookedInvoiceRow,
    _ContactRow,
    _CustomerRow,
)


class StoreMixin:
    """Row creation/deletion, version stamps, number allocation and bookkeeper value mapping."""

    def _next_version(self) -> str:
        self._version_counter += 1
        return base64.b64encode(self._version_counter.to_bytes(8, "big")).decode()

    def _stamp(self) -> datetime:
        return self.clock.now().astimezone(UTC).replace(microsecond=0)

    def _touch(self, row: _CustomerRow | _ContactRow) -> None:
        row.last_updated = self._stamp()
        row.object_version = self._next_version()

    def _next_customer_number(self) -> int:
        # The live API reused a deleted number (economic-api.md §2); which one it picks is not documented,
        # so the fake takes the lowest freed one: a number from the middle of the range comes back too.
        while self.reuse_deleted_numbers and self._freed_numbers:
            lowest = min(self._freed_numbers)
            if lowest not in self._customers:
                return lowest
            self._freed_numbers.discard(lowest)  # taken again since (a create that named it)
        return max(self._customers, default=0) + 1

    def _create_customer_row(self, number: int, values: dict[str, Any]) -> _CustomerRow:
        data: dict[str, Any] = {"balance": 0.0, "dueAmount": 0.0}
        data.update(values)
        row = _CustomerRow(number, data, self._stamp(), self._next_version())
        self._customers[number] = row
        return row

    def _create_contact_row(self, customer_number: int, values: dict[str, Any]) -> _ContactRow:
        number = self._next_contact
        self._next_contact += 1
        sort_key = self._sort_keys.get(customer_number, 0) + 1
        self._sort_keys[customer_number] = sort_key
        data = {k: v for k, v in values.items() if k in _API_CONTACT_FIELDS and k != "customerNumber"}
        row = _ContactRow(number, customer_number, data, sort_key, False, self._stamp(), self._next_version())
        self._contacts[number] = row
        return row

    def _delete_customer_row(self, number: int) -> None:
        del self._customers[number]
        self._freed_numbers.add(number)
        self._sort_keys.pop(number, None)
        for contact in self._contacts.values():
            if contact.customer_number == number and not contact.deleted:
                contact.deleted = True
                self._touch(contact)

    def _require_customer(self, number: int) -> _CustomerRow:
        row = self._customers.get(number)
        if row is None:
            raise KeyError(number)
        return row

    def _has_booked_invoices(self, customer_number: int) -> bool:
        return any(row.customer_number == customer_number for row in self._booked.values())

    def _reference_exists(self, internal_key: str, number: int) -> bool:
        known = {
            "customerGroupNumber": self.reference.customer_groups,
            "paymentTermId": self.reference.payment_terms,
            "zone": self.reference.vat_zones,
            "layoutGroup": self.reference.layouts,
        }.get(internal_key)
        return known is None or number in known

    @staticmethod
    def _internal_keys(name: str) -> list[str]:
        if name in _LEGACY_SCALARS:
            return [_LEGACY_SCALARS[name][0]]
        if name in _LEGACY_REFS:
            return [_LEGACY_REFS[name][1]]
        if name == "access":
            return ["barred"]
        if name in _API_CUSTOMER_FIELDS or name in ("balance", "dueAmount"):
            return [name]
        raise ValueError(f"unknown customer property {name}")

    def _bookkeeper_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name in _LEGACY_REFS:
                number: Any = value.get(_LEGACY_REFS[name][0]) if isinstance(value, Mapping) else value
                values[_LEGACY_REFS[name][1]] = int(number)
            elif name in _LEGACY_SCALARS:
                key, spec = _LEGACY_SCALARS[name]
                problem = _check_value(value, spec)
                if problem:
                    raise ValueError(problem.format(p=name))
                values[key] = value
            elif name == "access":
                values["barred"] = not value
            elif name in _API_CUSTOMER_FIELDS or name in ("balance", "dueAmount"):
                values[name] = value
            else:
                raise ValueError(f"unknown customer property {name}")
        return values

    def _create_booked_row(
        self,
        customer_number: int,
        *,
        amount: float,
        vat_amount: float | None,
        currency: str | None,
        invoice_date: str | None,
        due_date: str | None,
        sales_person: int | None,
        exchange_rate: float | None,
        remainder: float | None = None,
    ) -> _BookedInvoiceRow:
        """Store one booked invoice (lock held); the customer's ``balance`` grows by its gross amount."""
        d = self._require_customer(customer_number).data
        currency = (currency or d.get("currency") or "DKK").upper()
        if currency not in self.reference.currencies:
            raise ValueError(f"currency {currency} does not exist")
        if vat_amount is None:
            vat_amount = amount * DOMESTIC_VAT_RATE if d.get("zone") == 1 else 0.0
        net, vat = round(float(amount), 2), round(float(vat_amount), 2)
        gross = round(net + vat, 2)
        day = invoice_date or self.clock.now().astimezone(UTC).date().isoformat()
        due = due_date or (date.fromisoformat(day) + timedelta(days=DEFAULT_DAYS_OF_CREDIT)).isoformat()
        recipient = {
            "name": d.get("name"),
            "address": (d.get("address1") or "")[:250] or None,
            "zip": (d.get("postCode") or "")[:50] or None,
            "city": d.get("city"),
            "country": d.get("country"),
            "ean": d.get("eanLocationNumber"),
            "cvr": d.get("cvrNo"),
            "vatZone": d.get("zone"),
        }
        number = max(self._booked, default=0) + 1
        row = _BookedInvoiceRow(
            number,
            customer_number,
            {
                "date": day,
                "dueDate": due,
                "currency": currency,
                "exchangeRate": float(exchange_rate) if exchange_rate is not None else 100.0,
                "netAmount": net,
                "grossAmount": gross,
                "vatAmount": vat,
                "remainder": gross if remainder is None else round(float(remainder), 2),
                "paymentTermsNumber": d.get("paymentTermId"),
                "layoutNumber": d.get("layoutGroup"),
                "salesPerson": sales_person if sales_person is not None else d.get("ourRef"),
                "recipient": {k: v for k, v in recipient.items() if v is not None},
            },
        )
        self._booked[number] = row
        d["balance"] = round(float(d.get("balance", 0.0)) + float(row.data["remainder"]), 2)
        return row
