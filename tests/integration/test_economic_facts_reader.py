"""EconomicConnector's accounting-facts reader against the e-conomic fake: bulk pages, few calls."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from crmsync.connectors.base import NotFoundError
from crmsync.connectors.economic import EconomicConnector, EconomicDefaults
from crmsync.connectors.economic_facts import FACTS_PAGE_SIZE, BookedInvoice, Employee
from crmsync.connectors.http import RetryPolicy
from local.fakes.economic import CUSTOMERS_API_PREFIX, EconomicFake, WebhookDelivery

T0 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
DEFAULTS = EconomicDefaults(customer_group=1, payment_terms=5, vat_zone=1, currency="DKK")
BOOKED = "GET /invoices/booked"
UNPAID = "GET /invoices/unpaid"


class Served:
    """The fake served on localhost and a connector talking to it over real HTTP."""

    def __init__(self, fake: EconomicFake) -> None:
        self.fake = fake
        _, self.url = fake.serve()
        self.sleeps: list[float] = []
        self.client = httpx.Client(timeout=30.0)
        self.connector = EconomicConnector(
            "conn-eco-facts",
            "test-app-secret",
            "test-grant-token",
            DEFAULTS,
            rest_base_url=self.url,
            customers_api_url=f"{self.url}{CUSTOMERS_API_PREFIX}",
            client=self.client,
            retry=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(0)),
        )

    def calls(self, key: str | None = None) -> int:
        stats = self.fake.stats()
        return int(stats["total"] if key is None else stats["calls"].get(key, 0))


@pytest.fixture
def fake() -> Iterator[EconomicFake]:
    fake = EconomicFake()
    fake.clock.freeze(T0)
    yield fake
    fake.shutdown()


@pytest.fixture
def s(fake: EconomicFake) -> Iterator[Served]:
    served = Served(fake)
    yield served
    served.client.close()


def seeded(fake: EconomicFake, invoices: int, customers: int = 50) -> list[int]:
    numbers = [fake.add_customer(name=f"Customer {i} ApS", fire_webhook=False) for i in range(customers)]
    fake.seed_booked_invoices(invoices, start="2025-03-01", days=365, seed=3)
    fake.reset_stats()
    return numbers


def expected(fake: EconomicFake, number: int) -> BookedInvoice:
    body = fake.get_booked_invoice(number)
    assert body is not None
    sales = (body.get("references") or {}).get("salesPerson")
    return BookedInvoice(
        number=number,
        customer_number=body["customer"]["customerNumber"],
        date=date.fromisoformat(body["date"]),
        due_date=date.fromisoformat(body["dueDate"]),
        currency=body["currency"],
        net_amount_base=Decimal(str(body["netAmountInBaseCurrency"])),
        gross_amount_base=Decimal(str(body["grossAmountInBaseCurrency"])),
        remainder_base=Decimal(str(body["remainderInBaseCurrency"])),
        sales_person=sales["employeeNumber"] if sales else None,
    )


def test_2500_booked_invoices_are_read_in_3_calls(s: Served) -> None:
    seeded(s.fake, 2500)
    invoices = list(s.connector.booked_invoices_since(date(2025, 3, 1)))
    assert s.calls(BOOKED) == 3 and s.calls() == 3, "pages of 1000, never a call per customer"
    assert FACTS_PAGE_SIZE == 1000
    assert [i.number for i in invoices] == list(range(1, 2501))
    for number in (1, 777, 2500):
        assert invoices[number - 1] == expected(s.fake, number)
    assert any(i.net_amount_base < 0 for i in invoices), "credit notes stay negative"


def test_booked_invoices_since_filters_on_date(s: Served) -> None:
    seeded(s.fake, 1200)
    since = date(2025, 12, 1)
    invoices = list(s.connector.booked_invoices_since(since))
    assert invoices and all(i.date >= since for i in invoices)
    every = [expected(s.fake, n) for n in range(1, 1201)]
    assert [i.number for i in invoices] == [i.number for i in every if i.date >= since]
    assert s.calls(BOOKED) == 1  # under 1000 in the window: one page


def test_unpaid_invoices_walk_by_keyset_so_a_payment_during_the_walk_skips_nothing(s: Served) -> None:
    seeded(s.fake, 6000)
    open_before = [n for n in range(1, 6001) if expected(s.fake, n).remainder_base != 0]
    assert len(open_before) > 2000
    paid_during_walk = open_before[10]

    def bookkeeper(method: str, path: str) -> None:  # pays an invoice of page 1 while page 2 is asked for
        if path == "/invoices/unpaid" and s.calls(UNPAID) == 1:
            s.fake.register_payment(paid_during_walk)

    s.fake.on_request(bookkeeper)
    unpaid = list(s.connector.unpaid_invoices())
    numbers = [i.number for i in unpaid]
    assert numbers == open_before, "nothing skipped at the page boundary, nothing twice"
    assert all(i.remainder_base != 0 for i in unpaid)
    assert s.calls(UNPAID) == -(-len(open_before) // 1000)
    assert s.calls() == s.calls(UNPAID)


def test_one_customer_after_an_invoice_booked_webhook(s: Served) -> None:
    delivered: list[WebhookDelivery] = []
    s.fake.webhook_sink = lambda delivery: delivered.append(delivery) or 200
    s.fake.set_invoice_webhook("https://crm.example/hooks/economic?invoice=[INVOICENO]")
    customer = s.fake.add_customer(name="Aarhus ApS", salesPerson=4, fire_webhook=False)
    other = s.fake.add_customer(name="Other ApS", fire_webhook=False)
    old_open = s.fake.book_invoice(customer, amount=500, date="2025-06-01", due_date="2025-06-15")
    old_paid = s.fake.book_invoice(customer, amount=700, date="2025-07-01")
    s.fake.register_payment(old_paid)
    recent_paid = s.fake.book_invoice(customer, amount=300, date="2026-01-05")
    s.fake.register_payment(recent_paid)
    s.fake.book_invoice(other, amount=900, date="2026-02-01")
    s.fake.seed_booked_invoices(1500, customers=[other], seed=1)
    new = s.fake.book_invoice(customer, amount=-100, date="2026-03-02")  # a credit note fires too
    assert s.fake.flush_webhooks()
    invoice_no = int(delivered[-1].url.rsplit("=", 1)[1])
    assert invoice_no == new
    s.fake.reset_stats()

    booked = s.connector.booked_invoice(invoice_no)
    assert (
        booked is not None
        and booked.customer_number == customer
        and booked.gross_amount_base == Decimal(-125)
    )
    assert booked.sales_person == 4
    rows = s.connector.customer_invoices_since(customer, date(2025, 12, 3))
    assert [r.number for r in rows] == [old_open, recent_paid, new]
    assert sum(r.remainder_base for r in rows) == Decimal("625.00") - 125
    assert s.calls() == 3, "1 for the invoice, 2 for the customer (window + older unpaid)"
    assert s.connector.booked_invoice(99_999) is None
    with pytest.raises(NotFoundError):
        s.connector.customer_invoices_since(424242, date(2025, 1, 1))


def test_base_currency_amounts_and_employees(s: Served) -> None:
    customer = s.fake.add_customer(name="Berlin GmbH", currency="EUR", vatZone=2, fire_webhook=False)
    number = s.fake.book_invoice(customer, amount=200, exchange_rate=745.5, sales_person=2)
    [invoice] = s.connector.booked_invoices_since(date(2026, 1, 1))
    assert invoice.number == number and invoice.currency == "EUR"
    assert (invoice.net_amount_base, invoice.gross_amount_base, invoice.remainder_base) == (
        Decimal("1491.0"),
        Decimal("1491.0"),
        Decimal("1491.0"),
    )
    assert invoice.due_date == date(2026, 3, 16)
    s.fake.seed_employees(2)
    s.fake.add_employee(name="Former", barred=True)
    s.fake.reset_stats()
    assert s.connector.employees() == [
        Employee(number=1, name="Employee 1", email="employee1@example.dk", barred=False),
        Employee(number=2, name="Employee 2", email="employee2@example.dk", barred=False),
        Employee(number=3, name="Former", email=None, barred=True),
    ]
    assert s.calls("GET /employees") == 1


def test_a_429_is_waited_out_and_costs_one_more_call(s: Served) -> None:
    seeded(s.fake, 1500)
    s.fake.inject(429, retry_after=2, path_contains="/invoices/booked")
    invoices = list(s.connector.booked_invoices_since(date(2025, 1, 1)))
    assert len(invoices) == 1500
    assert s.calls(BOOKED) == 3 and s.fake.stats()["throttled"] == 1
    assert s.sleeps and s.sleeps[0] >= 2
