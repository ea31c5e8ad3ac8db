"""Accounting facts from e-conomic: booked invoices (with what remains to be paid) and employees.

What the CRM shows per linked customer (open balance, overdue amount, unpaid/overdue counts, last invoice,
revenue over the last X days) is computed by the caller from ``BookedInvoice`` rows; this module only
reads them, cheaply, through the legacy REST API (``restapi.e-conomic.com``).

Decisions
---------
* **Bulk, never per customer.** ``booked_invoices_since`` reads ``GET /invoices/booked`` filtered on
  ``date$gte:`` and ``unpaid_invoices`` reads ``GET /invoices/unpaid``, both in pages of 1,000 (the
  maximum), so 10,000 customers cost ``ceil(invoices / 1000)`` calls, not one per customer: 2,500 invoices
  are 3 calls. Together they hold every fact: the window's invoices give revenue, the last invoice and
  their own remainders; the unpaid ones dated before the window (``unpaid_invoices(before=...)``) the
  rest of the open balance, overdue amount and counts. No invoice is read twice.
* **Keyset pages, not ``skippages``.** Each next page filters ``bookedInvoiceNumber$gt:<last seen>``
  sorted by ``bookedInvoiceNumber`` (both documented as filterable/sortable in the official schemas).
  On ``/invoices/unpaid`` a payment registered during the walk removes a row; with ``skippages`` every
  later row would shift forward and the one on the page boundary would be skipped. Same call count.
* **One customer (the "Invoice booked" webhook path): 2 calls.** ``customer_invoices_since`` reads
  ``GET /customers/{n}/invoices/booked?filter=date$gte:since`` (revenue, last invoice, and the remainders
  of the window's invoices) plus ``GET /invoices/unpaid?filter=customer.customerNumber$eq:n$and:date$lt:since``
  (the older invoices still open, nothing twice). ``remainder`` is not filterable on the booked
  collection, so no single filter selects "in the window or still open"; reading the customer's whole
  history in one call would grow without bound over the years, while these two stay small. The
  totals endpoints (``/invoices/totals/booked/customers/{n}/unpaid[/overdue]``) would give sums but
  not the counts of the window, the last invoice number or per-invoice rows, and cost as many calls.
  The webhook carries only ``[INVOICENO]``; ``booked_invoice(n)`` answers which customer it is for.
* **Base currency.** Every amount is the ``...InBaseCurrency`` field (the agreement's currency), so
  invoices in EUR and DKK add up; ``currency`` is kept for display. Where e-conomic leaves a base amount
  out, it is derived as ``amount * exchangeRate / 100`` (e-conomic's rate is the base-currency price of
  100 units), or taken as is when no rate is given.
* **Net vs gross.** Revenue is ``net_amount_base`` (before VAT, what the business earned); open balance
  and overdue are ``remainder_base``, which is gross (what the customer still owes, VAT included).
* **Credit notes** are booked invoices with negative amounts (and a negative remainder while open).
  They are kept as they are: summing them nets revenue and open balance, as e-conomic's own totals do.
  "Overdue" is the caller's rule on ``due_date``; the fake also shows an open credit note past its due
  date under ``/invoices/overdue``.
* **Employees** (``GET /employees``, pages of 1,000) map a customer's ``salesPerson`` to an email.

Unknown resources: ``booked_invoice`` answers None for an unknown number; ``customer_invoices_since``
raises ``NotFoundError`` for an unknown customer (the number may be stale: a renumbered customer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from crmsync.connectors.base import NotFoundError, VendorError
from crmsync.connectors.economic_client import EconomicClient
from crmsync.connectors.economic_mapping import _as_number

FACTS_PAGE_SIZE = 1000
"""e-conomic's maximum page size: the fewest calls per invoice."""

_CENT = Decimal("0.01")


class BookedInvoice(BaseModel):
    """One booked invoice (or credit note: negative amounts) as the facts need it; amounts in base currency."""

    model_config = ConfigDict(frozen=True)

    number: int
    customer_number: int
    date: dt.date
    due_date: dt.date | None
    currency: str
    net_amount_base: Decimal
    gross_amount_base: Decimal
    remainder_base: Decimal
    sales_person: int | None


class Employee(BaseModel):
    """An e-conomic employee (a customer's ``salesPerson``)."""

    model_config = ConfigDict(frozen=True)

    number: int
    name: str | None
    email: str | None
    barred: bool


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def _base(data: dict[str, Any], key: str) -> Decimal:
    """``<key>InBaseCurrency``, else ``<key>`` at the invoice's exchange rate (per 100 units)."""
    base = _decimal(data.get(f"{key}InBaseCurrency"))
    if base is not None:
        return base
    amount = _decimal(data.get(key)) or Decimal(0)
    rate = _decimal(data.get("exchangeRate"))
    return amount if rate is None else (amount * rate / 100).quantize(_CENT)


def booked_invoice_from(data: dict[str, Any]) -> BookedInvoice:
    """A legacy booked-invoice body (any of the booked/paid/unpaid/overdue collections) as ``BookedInvoice``."""
    references = data.get("references") or {}
    sales_person = (references.get("salesPerson") or {}).get("employeeNumber")
    due = data.get("dueDate")
    return BookedInvoice(
        number=int(data["bookedInvoiceNumber"]),
        customer_number=int((data.get("customer") or {})["customerNumber"]),
        date=date.fromisoformat(str(data["date"])[:10]),
        due_date=date.fromisoformat(str(due)[:10]) if due else None,
        currency=str(data.get("currency") or ""),
        net_amount_base=_base(data, "netAmount"),
        gross_amount_base=_base(data, "grossAmount"),
        remainder_base=_base(data, "remainder"),
        sales_person=int(sales_person) if sales_person is not None else None,
    )


def employee_from(data: dict[str, Any]) -> Employee:
    return Employee(
        number=int(data["employeeNumber"]),
        name=data.get("name") or None,
        email=data.get("email") or None,
        barred=bool(data.get("barred", False)),
    )


def _and(*parts: str | None) -> str | None:
    present = [p for p in parts if p]
    if not present:
        return None
    return "$and:".join(f"({p})" if "$or:" in p else p for p in present)


class EconomicFacts(EconomicClient):
    """``booked_invoices_since``, ``unpaid_invoices``, ``customer_invoices_since``, ``booked_invoice``,
    ``employees`` of ``EconomicConnector`` (every call through the connection's budget and pacer)."""

    def booked_invoices_since(self, since: date) -> Iterator[BookedInvoice]:
        """Every booked invoice dated ``since`` or later, oldest number first (pages of 1,000)."""
        for data in self._keyset_pages("/invoices/booked", f"date$gte:{since.isoformat()}"):
            yield booked_invoice_from(data)

    def unpaid_invoices(self, before: date | None = None) -> Iterator[BookedInvoice]:
        """Every booked invoice with something left to pay (credit notes: negative), pages of 1,000;
        with ``before``: only those dated earlier (the refresh reads the window's invoices already, so
        no invoice is read twice)."""
        where = f"date$lt:{before.isoformat()}" if before else None
        for data in self._keyset_pages("/invoices/unpaid", where):
            yield booked_invoice_from(data)

    def customer_invoices_since(self, customer_number: int, since: date) -> list[BookedInvoice]:
        """One customer's invoices dated ``since`` or later plus its older unpaid ones (2 calls).

        Raises ``NotFoundError`` when e-conomic has no such customer."""
        number = _as_number(str(customer_number), "customer_number")
        day = since.isoformat()
        recent = self._keyset_pages(f"/customers/{number}/invoices/booked", f"date$gte:{day}")
        older_open = self._keyset_pages(
            "/invoices/unpaid", f"customer.customerNumber$eq:{number}$and:date$lt:{day}"
        )
        invoices = {row.number: row for row in map(booked_invoice_from, [*recent, *older_open])}
        return [invoices[n] for n in sorted(invoices)]

    def booked_invoice(self, number: int) -> BookedInvoice | None:
        """One booked invoice (e.g. the ``[INVOICENO]`` of an "Invoice booked" webhook); None if unknown."""
        invoice = _as_number(str(number), "number")
        try:
            data = self._call("GET", f"{self.rest_base_url}/invoices/booked/{invoice}").json()
        except NotFoundError:
            return None
        return booked_invoice_from(data)

    def employees(self) -> list[Employee]:
        """All employees (barred ones included, marked), pages of 1,000."""
        return [employee_from(data) for data in self._keyset_pages("/employees", None, key="employeeNumber")]

    def _keyset_pages(
        self, path: str, query: str | None, *, key: str = "bookedInvoiceNumber"
    ) -> Iterator[dict[str, Any]]:
        """Walk a legacy collection in pages of 1,000 by keyset: each next page asks for ``key`` after the
        last row seen, sorted by ``key``; stops when a page has no ``nextPage``."""
        after: int | None = None
        while True:
            params: dict[str, Any] = {"skippages": 0, "pagesize": FACTS_PAGE_SIZE, "sort": key}
            page_filter = _and(query, f"{key}$gt:{after}" if after is not None else None)
            if page_filter:
                params["filter"] = page_filter
            data = self._call("GET", f"{self.rest_base_url}{path}", params=params).json()
            if not isinstance(data, dict):
                raise VendorError(f"e-conomic answered {path} with no collection")
            collection = data.get("collection") or []
            yield from collection
            if not collection or "nextPage" not in (data.get("pagination") or {}):
                return
            after = int(collection[-1][key])
