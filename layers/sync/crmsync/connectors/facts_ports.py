"""What the accounting facts need from connectors: an accounting side that reads invoices in bulk, a CRM
side that shows values on its companies. Checked with ``isinstance`` (a connector without them: facts
are skipped for that tenant, with the reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Protocol, runtime_checkable

from crmsync.connectors.economic_facts import BookedInvoice

__all__ = ["BookedInvoice", "FactsReader", "FactsWriter"]


@runtime_checkable
class FactsReader(Protocol):
    """Booked invoices in bulk (pages, never a call per customer), and one customer's after a booking."""

    def booked_invoices_since(self, since: date) -> Iterator[BookedInvoice]: ...

    def unpaid_invoices(self, before: date | None = None) -> Iterator[BookedInvoice]: ...

    def customer_invoices_since(self, customer_number: int, since: date) -> list[BookedInvoice]: ...

    def booked_invoice(self, number: int) -> BookedInvoice | None: ...


@runtime_checkable
class FactsWriter(Protocol):
    """Facts on the CRM's companies (read-only there: crmsync writes them, nobody edits them)."""

    def ensure_facts_setup(self) -> None:
        """Create what the facts are written to when it is missing (HubSpot: the properties)."""
        ...

    def write_facts(self, values: dict[str, dict[str, str | None]]) -> dict[str, str | None]:
        """Company external id -> fact name -> value (``crmsync.facts.fact_values``), up to 100 at a
        time; answers per id None (written) or the CRM's reason for refusing it."""
        ...
