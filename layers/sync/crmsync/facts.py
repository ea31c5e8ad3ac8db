"""Accounting facts per customer: what sales asks the bookkeeper ("has this customer paid?").

Computed here from booked invoices alone (no I/O): the pages the refresh reads in bulk
(``connectors.economic_facts``) or one customer's invoices after an "Invoice booked" webhook.

Decisions (and why):

- **Amounts in the agreement's base currency**, as e-conomic's own totals are: a customer invoiced in
  EUR and DKK still has one open balance. Open balance and overdue are *gross* remainders (what the
  customer owes, VAT included); revenue is *net* (before VAT), as accounts report it. Credit notes are
  negative invoices and count as they are.
- **Overdue** is an unpaid invoice whose due date is before today (e-conomic's ``/invoices/overdue``).
- **Last invoice** looks back as far as the revenue window and the unpaid invoices do: the refresh
  reads booked invoices of the last ``revenue_days`` days and every unpaid one, not the whole history
  (an invoice older than both is not "last" for a sales person's question either).
- **Only changes are written**: a fingerprint of the values written (``values_fingerprint``) is kept per
  record; a refresh writes the customers whose fingerprint moved, so an unchanged day costs reads only.
- **Roll-up** (``roll_up``): a parent account (the CRM's hierarchy, crmsync's ``parent_account``) also
  shows the totals of itself and all its descendants (a cycle is cut where it closes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


class FactsSettings(BaseModel):
    """A tenant's opt-in to accounting facts in the CRM (accounting -> CRM only, read-only there)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="write the facts of linked customers to the CRM")
    revenue_days: int = Field(
        default=365, ge=1, le=3660, description="revenue (net) over this many days up to today"
    )
    refresh_minutes: int = Field(
        default=60,
        ge=15,
        le=10080,
        description="the scheduled bulk refresh runs at most this often (payments have no webhook)",
    )
    roll_up: bool = Field(default=True, description="parents also show the totals of their children")


class Invoice(BaseModel):
    """One booked invoice as the facts need it (amounts in base currency; a credit note is negative)."""

    number: int
    customer_number: int
    date: dt.date
    due_date: dt.date | None = None
    net_amount: Decimal
    gross_amount: Decimal
    remainder: Decimal


class CustomerFacts(BaseModel):
    """The facts of one accounting customer, as written to its CRM company/account."""

    open_balance: Decimal = ZERO
    overdue_amount: Decimal = ZERO
    unpaid_invoices: int = 0
    overdue_invoices: int = 0
    last_invoice_date: date | None = None
    last_invoice_number: int | None = None
    revenue: Decimal = ZERO
    revenue_days: int = 365


class GroupTotals(BaseModel):
    """A parent's totals over itself and its descendants (what a roll-up adds to the parent)."""

    open_balance: Decimal = ZERO
    overdue_amount: Decimal = ZERO
    unpaid_invoices: int = 0
    overdue_invoices: int = 0
    revenue: Decimal = ZERO
    members: int = Field(default=1, description="accounts counted: the parent and its descendants")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def compute(
    booked: Iterable[Invoice],
    unpaid: Iterable[Invoice],
    *,
    today: date,
    revenue_days: int,
    customers: Iterable[int] = (),
) -> dict[int, CustomerFacts]:
    """Facts per customer number from the booked invoices of the window and the unpaid ones.

    ``customers`` get facts even without an invoice (all zero): a customer whose last open invoice was
    paid must have its balance written back to 0. An invoice in both lists counts once per measure.
    """
    since = today - timedelta(days=revenue_days)
    revenue: dict[int, Decimal] = defaultdict(lambda: ZERO)
    last: dict[int, tuple[date, int]] = {}
    seen_booked: set[int] = set()
    for inv in booked:
        if inv.number in seen_booked or inv.date < since or inv.date > today:
            continue
        seen_booked.add(inv.number)
        revenue[inv.customer_number] += inv.net_amount
        _newest(last, inv)
    open_balance: dict[int, Decimal] = defaultdict(lambda: ZERO)
    overdue: dict[int, Decimal] = defaultdict(lambda: ZERO)
    unpaid_n: dict[int, int] = defaultdict(int)
    overdue_n: dict[int, int] = defaultdict(int)
    seen_unpaid: set[int] = set()
    for inv in unpaid:
        if inv.number in seen_unpaid or inv.remainder == 0:
            continue
        seen_unpaid.add(inv.number)
        c = inv.customer_number
        open_balance[c] += inv.remainder
        unpaid_n[c] += 1
        if inv.due_date is not None and inv.due_date < today:
            overdue[c] += inv.remainder
            overdue_n[c] += 1
        _newest(last, inv)
    numbers = set(customers) | set(revenue) | set(open_balance) | set(last)
    out: dict[int, CustomerFacts] = {}
    for c in numbers:
        newest = last.get(c)
        out[c] = CustomerFacts(
            open_balance=_money(open_balance[c]),
            overdue_amount=_money(overdue[c]),
            unpaid_invoices=unpaid_n[c],
            overdue_invoices=overdue_n[c],
            last_invoice_date=newest[0] if newest else None,
            last_invoice_number=newest[1] if newest else None,
            revenue=_money(revenue[c]),
            revenue_days=revenue_days,
        )
    return out


def _newest(last: dict[int, tuple[date, int]], inv: Invoice) -> None:
    key = (inv.date, inv.number)
    if inv.customer_number not in last or key > last[inv.customer_number]:
        last[inv.customer_number] = key


def roll_up(
    facts: Mapping[str, CustomerFacts], parent_of: Mapping[str, str | None]
) -> dict[str, GroupTotals]:
    """Totals per parent record over itself and every descendant (by crmsync record id).

    Only records that have children get totals. A record's ancestors are followed up the hierarchy
    until the top or until an ancestor repeats (a cycle someone made in the CRM counts each once).
    """
    totals: dict[str, GroupTotals] = {}
    for record_id, own in facts.items():
        seen = {record_id}
        parent = parent_of.get(record_id)
        while parent and parent not in seen:
            seen.add(parent)
            group = totals.setdefault(parent, _own_totals(facts.get(parent)))
            group.open_balance += own.open_balance
            group.overdue_amount += own.overdue_amount
            group.unpaid_invoices += own.unpaid_invoices
            group.overdue_invoices += own.overdue_invoices
            group.revenue += own.revenue
            group.members += 1
            parent = parent_of.get(parent)
    return totals


def _own_totals(own: CustomerFacts | None) -> GroupTotals:
    if own is None:
        return GroupTotals()
    return GroupTotals(
        open_balance=own.open_balance,
        overdue_amount=own.overdue_amount,
        unpaid_invoices=own.unpaid_invoices,
        overdue_invoices=own.overdue_invoices,
        revenue=own.revenue,
    )


FACT_NAMES: tuple[str, ...] = (
    "open_balance",
    "overdue_amount",
    "unpaid_invoices",
    "overdue_invoices",
    "last_invoice_date",
    "last_invoice_number",
    "revenue",
)
GROUP_NAMES: tuple[str, ...] = ("group_open_balance", "group_overdue_amount", "group_revenue")
AMOUNT_FACTS = frozenset({"open_balance", "overdue_amount", "revenue", *GROUP_NAMES})
"""Facts that are money (base currency, 2 decimals); the date fact is ``last_invoice_date``; the rest
are whole numbers. How CRMs type their columns / properties (``connectors.*_facts``)."""
DATE_FACTS = frozenset({"last_invoice_date"})
WHOLE_NUMBER_FACTS = frozenset(FACT_NAMES) - AMOUNT_FACTS - DATE_FACTS


def fact_values(facts: CustomerFacts, group: GroupTotals | None) -> dict[str, str | None]:
    """The values a CRM gets, as text (numbers with 2 decimals, dates ISO); group totals when any."""
    values: dict[str, str | None] = {
        "open_balance": str(facts.open_balance),
        "overdue_amount": str(facts.overdue_amount),
        "unpaid_invoices": str(facts.unpaid_invoices),
        "overdue_invoices": str(facts.overdue_invoices),
        "last_invoice_date": facts.last_invoice_date.isoformat() if facts.last_invoice_date else None,
        "last_invoice_number": str(facts.last_invoice_number) if facts.last_invoice_number else None,
        "revenue": str(facts.revenue),
    }
    values["group_open_balance"] = str(_money(group.open_balance)) if group else None
    values["group_overdue_amount"] = str(_money(group.overdue_amount)) if group else None
    values["group_revenue"] = str(_money(group.revenue)) if group else None
    return values


def values_fingerprint(values: Mapping[str, str | None]) -> str:
    """The fingerprint of what is written (facts and group totals together)."""
    text = "|".join(f"{k}={values.get(k) or ''}" for k in (*FACT_NAMES, *GROUP_NAMES))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
