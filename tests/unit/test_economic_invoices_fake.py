"""The e-conomic fake's booked invoices, invoice totals and employees answer like e-conomic.

Responses are validated against e-conomic's official JSON schemas (draft-03) in ``vendor-specs``
(``invoices.*``/``employees.*``, provenance in ``vendor-specs/economic/PROVENANCE.md``); paid/unpaid/
overdue are derived from ``remainder`` and ``dueDate`` against the fake clock's day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest

from local.fakes.economic import EconomicFake, WebhookDelivery
from tests.reference import reference_dir

REFERENCE = reference_dir("economic")
TOKENS = {"X-AppSecretToken": "test-app-secret", "X-AgreementGrantToken": "test-grant-token"}
PUBLIC = "https://restapi.e-conomic.com"
T0 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)  # "today" is 2026-03-02


@cache
def legacy_schema(name: str) -> dict[str, Any]:
    text = (REFERENCE / "legacy-schemas" / name).read_text(encoding="utf-8-sig")
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))  # type: ignore[no-any-return]


def assert_valid(instance: Any, schema_name: str) -> None:
    errors = sorted(jsonschema.Draft3Validator(legacy_schema(schema_name)).iter_errors(instance), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def numbers(body: dict[str, Any]) -> list[int]:
    return [i["bookedInvoiceNumber"] for i in body["collection"]]


@pytest.fixture
def fake() -> Iterator[EconomicFake]:
    fake = EconomicFake(link_base=PUBLIC)
    fake.clock.freeze(T0)
    yield fake
    fake.shutdown()


@pytest.fixture
def client(fake: EconomicFake) -> Iterator[httpx.Client]:
    transport = httpx.WSGITransport(app=fake.app)
    with httpx.Client(transport=transport, base_url="http://economic.test", headers=TOKENS) as client:
        yield client


@pytest.fixture
def ledger(fake: EconomicFake) -> dict[str, int]:
    """Two customers: an overdue, a partly paid not-due, a paid invoice, an open credit note; one abroad."""
    a = fake.add_customer(name="Aarhus ApS", salesPerson=2, fire_webhook=False)
    b = fake.add_customer(name="Berlin GmbH", currency="EUR", vatZone=2, fire_webhook=False)
    fake.seed_employees(2)
    overdue = fake.book_invoice(a, amount=1000, date="2026-01-10", due_date="2026-01-24")
    partly = fake.book_invoice(a, amount=400, date="2026-02-20", due_date="2026-03-06")
    fake.register_payment(partly, 100)
    paid = fake.book_invoice(a, amount=200, date="2026-02-25", due_date="2026-03-01")
    fake.register_payment(paid)
    credit = fake.book_invoice(a, amount=-80, date="2026-03-01", due_date="2026-03-15")
    euro = fake.book_invoice(b, amount=100, currency="EUR", exchange_rate=745.5, date="2026-02-01")
    return {
        "a": a,
        "b": b,
        "overdue": overdue,
        "partly": partly,
        "paid": paid,
        "credit": credit,
        "euro": euro,
    }


# ------------------------------------------------------------------------------------ collections


def test_booked_collections_match_the_official_schemas(
    fake: EconomicFake, client: httpx.Client, ledger: dict[str, int]
) -> None:
    root = ok(client.get("/invoices"))
    assert_valid(root, "invoices.get.schema.json")
    assert root["notDue"] == f"{PUBLIC}/invoices/not-due"
    for path, schema in [
        ("/invoices/booked", "invoices.booked.get.schema.json"),
        ("/invoices/paid", "invoices.paid.get.schema.json"),
        ("/invoices/unpaid", "invoices.unpaid.get.schema.json"),
        ("/invoices/overdue", "invoices.overdue.get.schema.json"),
        ("/invoices/not-due", "invoices.not-due.get.schema.json"),
        (
            f"/customers/{ledger['a']}/invoices/booked",
            "customers.customerNumber.invoices.booked.get.schema.json",
        ),
    ]:
        assert_valid(ok(client.get(path)), schema)
    one = ok(client.get(f"/invoices/booked/{ledger['partly']}"))
    assert_valid(one, "invoices.booked.bookedInvoiceNumber.get.schema.json")
    assert (one["date"], one["dueDate"], one["currency"]) == ("2026-02-20", "2026-03-06", "DKK")
    assert (one["netAmount"], one["vatAmount"], one["grossAmount"]) == (400.0, 100.0, 500.0)
    assert (one["remainder"], one["remainderInBaseCurrency"]) == (400.0, 400.0)
    assert one["references"]["salesPerson"]["employeeNumber"] == 2
    assert one["self"] == f"{PUBLIC}/invoices/booked/{ledger['partly']}"
    assert fake.get_booked_invoice(ledger["partly"]) == one
    euro = ok(client.get(f"/invoices/booked/{ledger['euro']}"))
    assert (euro["currency"], euro["exchangeRate"], euro["netAmount"]) == ("EUR", 745.5, 100.0)
    assert (euro["netAmountInBaseCurrency"], euro["grossAmountInBaseCurrency"]) == (
        745.5,
        745.5,
    )  # no VAT abroad
    missing = client.get("/invoices/booked/999")
    assert missing.status_code == 404 and missing.json()["httpStatusCode"] == 404


def test_paid_unpaid_overdue_and_not_due_follow_remainder_and_due_date(
    fake: EconomicFake, client: httpx.Client, ledger: dict[str, int]
) -> None:
    assert numbers(ok(client.get("/invoices/paid"))) == [ledger["paid"]]
    assert numbers(ok(client.get("/invoices/unpaid"))) == [
        ledger[k] for k in ("overdue", "partly", "credit", "euro")
    ]
    euro_due = fake.get_booked_invoice(ledger["euro"])
    assert euro_due is not None and euro_due["dueDate"] == "2026-02-15"  # 14 days by default: overdue
    assert numbers(ok(client.get("/invoices/overdue"))) == [ledger["overdue"], ledger["euro"]]
    assert numbers(ok(client.get("/invoices/not-due"))) == [ledger["partly"], ledger["credit"]]
    credit = ok(client.get(f"/invoices/booked/{ledger['credit']}"))
    assert (credit["netAmount"], credit["grossAmount"], credit["remainder"]) == (-80.0, -100.0, -100.0)

    fake.clock.freeze(datetime(2026, 3, 10, tzinfo=UTC))  # time passes: the partly paid one is due now
    assert numbers(ok(client.get("/invoices/overdue"))) == [ledger[k] for k in ("overdue", "partly", "euro")]
    assert fake.register_payment(ledger["overdue"]) == 0.0
    assert ledger["overdue"] in numbers(ok(client.get("/invoices/paid")))
    assert ledger["overdue"] not in numbers(ok(client.get("/invoices/overdue")))
    customer = fake.get_customer(ledger["a"])
    assert customer is not None and customer["balance"] == 300.0  # 500 - 100 paid, minus the 100 credit
    with pytest.raises(ValueError, match="does not fit"):
        fake.register_payment(ledger["partly"], 1000)
    with pytest.raises(ValueError, match="does not fit"):
        fake.register_payment(ledger["credit"], 10)  # a credit note is settled by a negative payment
    assert fake.register_payment(ledger["credit"], -100) == 0.0
    with pytest.raises(KeyError):
        fake.register_payment(999)


def test_paging_and_filters_on_booked_invoices(fake: EconomicFake, client: httpx.Client) -> None:
    customers = [fake.add_customer(name=f"Customer {i}", fire_webhook=False) for i in range(3)]
    fake.seed_booked_invoices(2500, start="2025-03-02", days=365, seed=7)
    first = ok(client.get("/invoices/booked"))
    assert len(first["collection"]) == 20 and first["pagination"]["pageSize"] == 20  # default page size
    assert first["pagination"]["results"] == 2500
    big = ok(client.get("/invoices/booked?pagesize=1000&skippages=2"))
    assert len(big["collection"]) == 500 and "nextPage" not in big["pagination"]
    assert_valid(big, "invoices.booked.get.schema.json")
    too_big = client.get("/invoices/booked?pagesize=1001")
    assert too_big.status_code == 400 and too_big.json()["errorCode"] == "E04810"

    one = customers[1]
    mine = ok(client.get(f"/invoices/booked?pagesize=1000&filter=customer.customerNumber$eq:{one}"))
    assert {i["customer"]["customerNumber"] for i in mine["collection"]} == {one}
    assert mine["pagination"]["results"] == len(mine["collection"]) > 0
    window = "date$gte:2025-09-01$and:date$lte:2025-09-30"
    september = ok(client.get("/invoices/booked", params={"filter": window, "pagesize": 1000}))
    assert september["collection"] and all(
        "2025-09-01" <= i["date"] <= "2025-09-30" for i in september["collection"]
    )
    both = ok(
        client.get(
            "/invoices/unpaid",
            params={"filter": f"customer.customerNumber$eq:{one}$and:date$gte:2025-09-01", "pagesize": 1000},
        )
    )
    assert all(
        i["customer"]["customerNumber"] == one and i["date"] >= "2025-09-01" and i["remainder"] != 0
        for i in both["collection"]
    )
    keyset = ok(client.get("/invoices/unpaid?filter=bookedInvoiceNumber$gt:2400&sort=bookedInvoiceNumber"))
    assert all(n > 2400 for n in numbers(keyset))
    assert numbers(keyset) == sorted(numbers(keyset))
    bad = client.get("/invoices/booked?filter=remainder$gt:0")  # not filterable
    assert bad.status_code == 400
    assert fake.stats()["calls"]["GET /invoices/booked"] == 6
    assert fake.stats()["booked_invoices"] == 2500


def test_booked_invoices_are_immutable(
    fake: EconomicFake, client: httpx.Client, ledger: dict[str, int]
) -> None:
    before = ok(client.get(f"/invoices/booked/{ledger['overdue']}"))
    for method in ("PUT", "DELETE", "PATCH"):
        response = client.request(method, f"/invoices/booked/{ledger['overdue']}", json={"netAmount": 1})
        assert response.status_code >= 400
    assert client.post("/invoices/booked", json={"netAmount": 1}).status_code >= 400
    assert ok(client.get(f"/invoices/booked/{ledger['overdue']}")) == before
    with pytest.raises(ValueError, match="booked invoices"):
        fake.delete_customer(ledger["a"])


# ------------------------------------------------------------------------------------ totals


def test_totals_by_state_customer_and_grouping(client: httpx.Client, ledger: dict[str, int]) -> None:
    booked = ok(client.get("/invoices/totals/booked"))
    assert_valid(booked, "invoices.totals.booked.get.schema.json")
    assert booked["invoiceCount"] == 5
    assert booked["netAmountInBaseCurrency"] == 1000 + 400 + 200 - 80 + 745.5
    assert (booked["minDate"], booked["maxDate"]) == ("2026-01-10", "2026-03-01")
    assert booked["unpaid"].endswith("/invoices/totals/booked/unpaid")

    paid = ok(client.get("/invoices/totals/booked/paid"))
    assert_valid(paid, "invoices.totals.booked.paid.get.schema.json")
    assert (paid["invoiceCount"], paid["netAmountInBaseCurrency"]) == (1, 200.0)
    unpaid = ok(client.get("/invoices/totals/booked/unpaid"))
    assert_valid(unpaid, "invoices.totals.booked.unpaid.get.schema.json")
    assert unpaid["invoiceCount"] == 4
    assert unpaid["grossRemainderInBaseCurrency"] == 1250 + 400 - 100 + 745.5
    overdue = ok(client.get("/invoices/totals/booked/unpaid/overdue"))
    assert_valid(overdue, "invoices.totals.booked.unpaid.overdue.get.schema.json")
    assert (overdue["invoiceCount"], overdue["grossRemainderInBaseCurrency"]) == (2, 1250 + 745.5)
    not_overdue = ok(client.get("/invoices/totals/booked/unpaid/not-overdue"))
    assert_valid(not_overdue, "invoices.totals.booked.unpaid.not-overdue.get.schema.json")
    assert (not_overdue["invoiceCount"], not_overdue["grossRemainderInBaseCurrency"]) == (2, 300.0)

    a = ledger["a"]
    mine = ok(client.get(f"/invoices/totals/booked/customers/{a}/unpaid/overdue"))
    assert_valid(mine, "invoices.totals.booked.unpaid.overdue.get.schema.json")
    assert (mine["invoiceCount"], mine["grossRemainderInBaseCurrency"], mine["minDate"]) == (
        1,
        1250.0,
        "2026-01-10",
    )
    nothing = ok(client.get("/invoices/totals/booked/customers/999"))
    assert nothing["invoiceCount"] == 0 and "minDate" not in nothing

    grouped = ok(client.get("/invoices/totals/booked/unpaid/customers"))
    assert_valid(grouped, "invoices.totals.drafts.customers.get.schema.json")  # the published grouping shape
    by_customer = {g["customer"]["customerNumber"]: g for g in grouped["customers"]}
    assert set(by_customer) == {a, ledger["b"]}
    assert by_customer[a]["invoiceCount"] == 3
    assert by_customer[a]["grossRemainderInBaseCurrency"] == 1250 + 400 - 100
    assert by_customer[ledger["b"]]["netAmountInBaseCurrency"] == 745.5
    assert by_customer[a]["self"].endswith(f"/invoices/totals/booked/unpaid/customers/{a}")
    employees = ok(client.get("/invoices/totals/booked/unpaid/overdue/employees"))
    assert [(g["employee"]["employeeNumber"], g["invoiceCount"]) for g in employees["employees"]] == [(2, 1)]
    for path in (
        "/invoices/totals/booked/overdue",
        "/invoices/totals/booked/customers/1/customers/2",
        "/invoices/totals/booked/x",
    ):
        assert client.get(path).status_code == 404, path


# ------------------------------------------------------------------------------------ employees


def test_employees_match_the_schemas_and_filter(fake: EconomicFake, client: httpx.Client) -> None:
    fake.seed_employees(3)
    barred = fake.add_employee(name="Gone", email="gone@example.dk", phone="+45 1234", barred=True)
    body = ok(client.get("/employees"))
    assert_valid(body, "employees.get.schema.json")
    assert [(e["employeeNumber"], e.get("email")) for e in body["collection"]][:2] == [
        (1, "employee1@example.dk"),
        (2, "employee2@example.dk"),
    ]
    one = ok(client.get(f"/employees/{barred}"))
    assert_valid(one, "employees.employeeNumber.get.schema.json")
    assert (one["name"], one["barred"], one["employeeGroup"]["employeeGroupNumber"]) == ("Gone", True, 1)
    active = ok(client.get("/employees?filter=barred$eq:false"))
    assert [e["employeeNumber"] for e in active["collection"]] == [1, 2, 3]
    assert client.get("/employees/99").status_code == 404
    with pytest.raises(ValueError):
        fake.add_employee(barred)


# ------------------------------------------------------------------------------------ webhooks, limits, control


def test_booking_fires_invoice_booked_and_a_payment_fires_nothing(fake: EconomicFake) -> None:
    delivered: list[WebhookDelivery] = []
    fake.webhook_sink = lambda delivery: delivered.append(delivery) or 200
    fake.set_webhook("https://crm.example/customer?n=[NEWNUMBER]")
    fake.set_invoice_webhook("https://crm.example/invoice?n=[INVOICENO]", '{"invoice": [INVOICENO]}')
    customer = fake.add_customer(name="Aarhus ApS", fire_webhook=False)
    number = fake.book_invoice(customer, amount=100)
    assert fake.flush_webhooks()
    assert [(d.url, d.body) for d in delivered] == [
        (f"https://crm.example/invoice?n={number}", f'{{"invoice": {number}}}')
    ]
    assert fake.stats()["webhooks"]["invoice_events"] == 1 and fake.stats()["webhooks"]["events"] == 0
    fake.register_payment(number)
    fake.seed_booked_invoices(50)
    fake.book_invoice(customer, amount=5, fire_webhook=False)
    assert fake.flush_webhooks()
    assert len(delivered) == 1 and len(fake.invoice_webhook_events) == 1


def test_invoice_calls_are_counted_and_rate_limited() -> None:
    fake = EconomicFake(rate_limit=(3, 60.0))
    try:
        with httpx.Client(
            transport=httpx.WSGITransport(app=fake.app), base_url="http://e.test", headers=TOKENS
        ) as c:
            statuses = [
                c.get(p).status_code
                for p in ("/invoices/booked", "/invoices/unpaid", "/employees", "/invoices/totals/booked")
            ]
        assert statuses == [200, 200, 200, 429]
        calls = fake.stats()["calls"]
        assert calls["GET /invoices/booked"] == 1 and calls["GET /employees"] == 1
        assert calls["GET /invoices/totals/booked"] == 1 and fake.stats()["throttled"] == 1
    finally:
        fake.shutdown()


def test_http_test_control_books_pays_and_seeds(fake: EconomicFake, client: httpx.Client) -> None:
    customer = fake.add_customer(name="Aarhus ApS", fire_webhook=False)
    booked = client.post(
        "/_fake/invoices", json={"customerNumber": customer, "netAmount": 200, "dueDate": "2026-03-20"}
    )
    assert booked.status_code == 201 and booked.json()["remainder"] == 250.0
    number = booked.json()["bookedInvoiceNumber"]
    paid = client.post(f"/_fake/invoices/{number}/payments", json={"amount": 50})
    assert paid.json() == {"remainder": 200.0}
    assert len(client.post("/_fake/invoices/seed", json={"count": 10}).json()["bookedInvoiceNumbers"]) == 10
    assert client.post("/_fake/employees", json={"count": 2}).json() == {"employeeNumbers": [1, 2]}
    hook = client.put("/_fake/invoice-webhook", json={"url": "https://x.example/[INVOICENO]"})
    assert hook.json()["url"] == "https://x.example/[INVOICENO]"
    assert fake.stats()["total"] == 0  # test control is free
