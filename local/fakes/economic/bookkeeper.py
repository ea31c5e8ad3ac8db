"""Test control in Python: bookkeeper-style edits and reads of customers, contacts and booked invoices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from local.fakes.economic.fields import _API_CONTACT_FIELDS, _number
from local.fakes.economic.helpers import _positive_int
from local.fakes.economic.model import LEGACY_PUBLIC_BASE
from local.fakes.economic.seed_data import generate_customers


class BookkeeperMixin:
    """Bookkeeper-style test control (not API calls); needs ``EconomicFake``'s state."""

    def customer_numbers(self) -> list[int]:
        with self._lock:
            return sorted(self._customers)

    def get_customer(self, number: int, view: str = "legacy") -> dict[str, Any] | None:
        """The customer as the legacy API (``view="legacy"``) or the Customers API (``"api"``) shows it."""
        with self._lock:
            row = self._customers.get(number)
            if row is None:
                return None
            base = self.link_base or LEGACY_PUBLIC_BASE
            return (
                self._legacy_customer(row, base, single=True) if view == "legacy" else self._api_customer(row)
            )

    def get_contact(self, number: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._contacts.get(number)
            return None if row is None else self._api_contact(row)

    def all_contacts(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every contact (Customers API shape), for comparisons over a whole agreement."""
        with self._lock:
            return [
                self._api_contact(c)
                for c in sorted(self._contacts.values(), key=_number)
                if include_deleted or not c.deleted
            ]

    def contacts_of(self, customer_number: int, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._api_contact(c)
                for c in sorted(self._contacts.values(), key=_number)
                if c.customer_number == customer_number and (include_deleted or not c.deleted)
            ]

    def add_customer(
        self, body: Mapping[str, Any] | None = None, /, *, fire_webhook: bool = True, **fields: Any
    ) -> int:
        """Create a customer as a bookkeeper would in the UI (not an API call); returns its number.

        Takes legacy property names (references may be plain numbers, e.g. ``customerGroup=1``) and
        Customers-API-only names (e.g. ``iban``). Missing required references default to 1 / DKK.
        """
        merged = {**(body or {}), **fields}
        contacts = merged.pop("contacts", None) or []
        number = merged.pop("customerNumber", None)
        merged.setdefault("currency", "DKK")
        for ref in ("customerGroup", "paymentTerms", "vatZone"):
            merged.setdefault(ref, 1)
        if not merged.get("name"):
            raise ValueError("name is required")
        with self._lock:
            values = self._bookkeeper_values(merged)
            if number is None:
                number = self._next_customer_number()
            if number in self._customers:
                raise ValueError(f"customer {number} exists")
            row = self._create_customer_row(int(number), values)
            for contact in contacts:
                self._create_contact_row(row.number, dict(contact))
            if fire_webhook:
                self._fire(row.number, row.number, "created")
            return row.number

    def update_customer(self, number: int, /, *, fire_webhook: bool = True, **fields: Any) -> None:
        """Bookkeeper edit of some properties (legacy or Customers API names); ``None`` clears one."""
        with self._lock:
            row = self._require_customer(number)
            clear = [k for k, v in fields.items() if v is None]
            values = self._bookkeeper_values({k: v for k, v in fields.items() if v is not None})
            for key in clear:
                for internal in self._internal_keys(key):
                    row.data.pop(internal, None)
            row.data.update(values)
            self._touch(row)
            if fire_webhook:
                self._fire(number, number, "updated")

    def delete_customer(self, number: int, /, *, fire_webhook: bool = True) -> None:
        with self._lock:
            self._require_customer(number)
            if self._has_booked_invoices(number):
                raise ValueError(f"customer {number} has booked invoices and cannot be deleted")
            self._delete_customer_row(number)
            if fire_webhook:
                self._fire(number, number, "deleted")

    def renumber(self, old: int, new: int) -> None:
        """Change a customer's number (only possible in the e-conomic UI); fires OLD/NEW numbers."""
        with self._lock:
            row = self._require_customer(old)
            if new in self._customers or _positive_int(new) is None:
                raise ValueError(f"cannot renumber {old} to {new}")
            del self._customers[old]
            self._freed_numbers.add(old)
            row.number = new
            self._customers[new] = row
            self._sort_keys[new] = self._sort_keys.pop(old, 0)
            self._touch(row)
            for contact in self._contacts.values():
                if contact.customer_number == old:
                    contact.customer_number = new
                    self._touch(contact)
            for invoice in self._booked.values():
                if invoice.customer_number == old:
                    invoice.customer_number = new
            self._fire(old, new, "renumbered")

    def add_contact(self, customer_number: int, /, *, fire_webhook: bool = True, **fields: Any) -> int:
        """Create a contact person (Customers API names: name, email, phone, notes, ...)."""
        if not fields.get("name"):
            raise ValueError("name is required")
        with self._lock:
            self._require_customer(customer_number)
            row = self._create_contact_row(customer_number, fields)
            if fire_webhook:
                self._fire(customer_number, customer_number, "contact")
            return row.number

    def update_contact(self, number: int, /, *, fire_webhook: bool = True, **fields: Any) -> None:
        with self._lock:
            row = self._contacts.get(number)
            if row is None or row.deleted:
                raise KeyError(number)
            for key, value in fields.items():
                if key not in _API_CONTACT_FIELDS or key == "customerNumber":
                    raise ValueError(f"unknown contact property {key}")
                if value is None:
                    row.data.pop(key, None)
                else:
                    row.data[key] = value
            self._touch(row)
            if fire_webhook:
                self._fire(row.customer_number, row.customer_number, "contact")

    def delete_contact(self, number: int, /, *, fire_webhook: bool = True) -> None:
        with self._lock:
            row = self._contacts.get(number)
            if row is None or row.deleted:
                raise KeyError(number)
            row.deleted = True
            self._touch(row)
            if fire_webhook:
                self._fire(row.customer_number, row.customer_number, "contact")

    def book_invoice(
        self,
        customer_number: int,
        /,
        *,
        amount: float = 1000.0,
        vat_amount: float | None = None,
        currency: str | None = None,
        date: str | None = None,
        due_date: str | None = None,
        sales_person: int | None = None,
        exchange_rate: float | None = None,
        fire_webhook: bool = True,
    ) -> int:
        """Book an invoice for a customer as a bookkeeper would (not an API call); returns its number.

        ``amount`` is the net amount (negative: a credit note). VAT defaults to 25 % in VAT zone 1
        (domestic) and 0 elsewhere; ``currency`` defaults to the customer's, ``date`` to the clock's day,
        ``due_date`` to 14 days later, ``sales_person`` (employee number) to the customer's, and
        ``exchange_rate`` (base-currency cost of 100 units) to 100. Fires the "Invoice booked" webhook
        (``set_invoice_webhook``), never the customer's. ``register_payment`` pays it.
        """
        with self._lock:
            row = self._create_booked_row(
                customer_number,
                amount=amount,
                vat_amount=vat_amount,
                currency=currency,
                invoice_date=date,
                due_date=due_date,
                sales_person=sales_person,
                exchange_rate=exchange_rate,
            )
            if fire_webhook:
                self._fire_invoice_booked(row.number)
            return row.number

    def register_payment(self, invoice_number: int, amount: float | None = None) -> float:
        """Register a payment on a booked invoice (invoice currency; default: all that remains).

        Lowers ``remainder`` and the customer's ``balance``; fires no webhook (e-conomic has no payment
        event). A payment has the sign of the remainder (a refund of a credit note is negative) and never
        exceeds it. Returns the new remainder."""
        with self._lock:
            row = self._booked.get(invoice_number)
            if row is None:
                raise KeyError(invoice_number)
            left = float(row.data["remainder"])
            paid = left if amount is None else round(float(amount), 2)
            if paid * left < 0 or abs(paid) > abs(left) + 1e-9:
                raise ValueError(
                    f"payment {paid} does not fit the remainder {left} of invoice {invoice_number}"
                )
            row.data["remainder"] = round(left - paid, 2)
            customer = self._customers.get(row.customer_number)
            if customer is not None:
                customer.data["balance"] = round(float(customer.data.get("balance", 0.0)) - paid, 2)
            return float(row.data["remainder"])

    def seed(
        self,
        customers: int | Iterable[Mapping[str, Any]],
        *,
        contacts_per_customer: int = 2,
        seed: int = 0,
        fire_webhooks: bool = False,
    ) -> list[int]:
        """Load generated (``customers`` = count) or given customers with their contacts; returns numbers.

        Seeding is the agreement's state before the integration connects, so no webhooks by default.
        """
        if isinstance(customers, int):
            start = max(self._customers, default=0) + 1
            customers = generate_customers(customers, contacts_per_customer, seed, start_number=start)
        return [self.add_customer(dict(c), fire_webhook=fire_webhooks) for c in customers]
