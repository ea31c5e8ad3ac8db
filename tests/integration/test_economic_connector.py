"""EconomicConnector against the in-process e-conomic fake."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from crmsync.connectors.base import (
    AuthError,
    Connector,
    NotFoundError,
    RateLimitedError,
    SourceRecord,
    VendorRefusedError,
    WriteItem,
    WriteResult,
)
from crmsync.connectors.economic import WRITE_CONCURRENCY, EconomicConnector, EconomicDefaults
from crmsync.connectors.http import RetryPolicy
from crmsync.models import CUSTOMER_FIELDS, ObjectType, Side
from local.fakes.economic import CUSTOMERS_API_PREFIX, EconomicFake
from tests.reference import reference_dir

CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT
BASE = "http://economic.test"
T0 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
DEFAULTS = EconomicDefaults(customer_group=1, payment_terms=5, vat_zone=1, currency="DKK")
REFERENCE = reference_dir("economic")


class Harness:
    """The fake, a connector wired to it in-process, the sleeps it asked for and the requests it sent."""

    def __init__(
        self, fake: EconomicFake, *, tokens: tuple[str, str] = ("test-app-secret", "test-grant-token")
    ):
        self.fake = fake
        self.sleeps: list[float] = []
        self.sent: list[httpx.Request] = []
        self.client = httpx.Client(
            transport=httpx.WSGITransport(app=fake.app),
            base_url=BASE,
            event_hooks={"request": [self.sent.append]},
        )
        self.connector = EconomicConnector(
            "conn-eco-1",
            *tokens,
            DEFAULTS,
            rest_base_url=BASE,
            customers_api_url=f"{BASE}{CUSTOMERS_API_PREFIX}",
            client=self.client,
            retry=RetryPolicy(sleep=self.sleeps.append, rng=random.Random(0)),
        )

    def calls(self, key: str) -> int:
        return int(self.fake.stats()["calls"].get(key, 0))


@pytest.fixture
def fake() -> Iterator[EconomicFake]:
    fake = EconomicFake()
    fake.clock.freeze(T0)
    yield fake
    fake.shutdown()


@pytest.fixture
def h(fake: EconomicFake) -> Iterator[Harness]:
    harness = Harness(fake)
    yield harness
    harness.client.close()


def update(h: Harness, number: str, **fields: Any) -> WriteResult:
    [result] = h.connector.write(CUSTOMER, [WriteItem(record_id="rec-1", external_id=number, fields=fields)])
    return result


def create(h: Harness, record_id: str = "rec-1", **fields: Any) -> str:
    [result] = h.connector.write(CUSTOMER, [WriteItem(record_id=record_id, fields=fields)])
    assert result.ok, result.error
    assert result.external_id is not None
    return result.external_id


# ------------------------------------------------------------------------------------------ basics


def test_is_an_accounting_connector_with_the_canonical_fields(h: Harness) -> None:
    assert isinstance(h.connector, Connector)
    assert h.connector.side is Side.ACCOUNTING
    assert h.connector.supported_fields(CUSTOMER) == frozenset(CUSTOMER_FIELDS) - {
        "lifecycle_stage",
        "parent_account",
    }
    assert h.connector.supported_fields(CONTACT) == {"name", "email", "phone", "notes"}


def test_create_get_update_round_trip(h: Harness) -> None:
    [created] = h.connector.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="rec-1",
                fields={
                    "name": "Nordvest Tømrer ApS",
                    "email": "info@nordvest.dk",
                    "city": "Aalborg",
                    "zip": "",
                },
            )
        ],
    )
    assert created.ok and created.record is not None
    assert created.request_id and created.request_id.endswith("-CPH")
    number = created.external_id
    assert number == "1"
    assert created.record.modified_at == T0
    expected = {
        "name": "Nordvest Tømrer ApS",
        "customer_number": "1",
        "corporate_id": None,
        "vat_number": None,
        "email": "info@nordvest.dk",
        "phone": None,
        "website": None,
        "address": None,
        "zip": None,
        "city": "Aalborg",
        "country": None,
        "currency": "DKK",
        "customer_group": "1",
        "payment_terms": "5",
        "vat_zone": "1",
        "barred": False,
        "external_number": None,
        "account_manager": None,
    }
    assert created.record.fields == expected
    fetched = h.connector.get(CUSTOMER, number)
    assert fetched is not None and fetched.fields == expected

    changes = {"city": "Aarhus C", "phone": "+45 70 20 30 40", "email": None, "barred": True, "vat_zone": "2"}
    [updated] = h.connector.write(
        CUSTOMER, [WriteItem(record_id="rec-1", external_id=number, fields=changes)]
    )
    assert updated.ok and updated.record is not None
    # written through the Customers API, which cannot see publicEntryNumber: unknown, not empty
    assert updated.record.fields == {
        k: v for k, v in {**expected, **changes}.items() if k != "external_number"
    }
    again = h.connector.get(CUSTOMER, number)
    assert again is not None and again.fields == {**expected, **changes}
    assert h.connector.get(CUSTOMER, "404") is None
    assert h.connector.get(CUSTOMER, "not-a-number") is None


def test_an_update_that_changes_nothing_is_not_sent(h: Harness) -> None:
    number = create(h, name="Same A/S", city="Vejle")
    [result] = h.connector.write(
        CUSTOMER,
        [WriteItem(record_id="rec-1", external_id=number, fields={"city": "Vejle", "name": "Same A/S"})],
    )
    assert result.ok and result.record is not None and result.record.fields["city"] == "Vejle"
    assert h.calls(f"PUT {CUSTOMERS_API_PREFIX}/Customers/{{number}}") == 0
    assert [e.action for e in h.fake.webhook_events] == ["created"]


# ------------------------------------------------------------------------------------------ reading changes


def test_changed_since_pages_through_many_rows_sharing_one_second(h: Harness) -> None:
    h.fake.seed(2500, contacts_per_customer=0)
    h.fake.clock.advance(1)
    for number in (7, 1500, 2499):
        h.fake.update_customer(number, city="Odense C")
    records = list(h.connector.changed_since(CUSTOMER, T0 - timedelta(microseconds=1)))
    seen = [int(r.external_id) for r in records]
    assert sorted(seen) == list(range(1, 2501))
    assert len(seen) == 2500  # none twice either
    assert seen[-3:] == [7, 1500, 2499]
    times = [r.modified_at for r in records]
    assert times == sorted(times)  # type: ignore[type-var]
    assert h.calls("GET /customers") == 3
    later = list(h.connector.changed_since(CUSTOMER, (T0 + timedelta(seconds=1)).replace(tzinfo=None)))
    assert [r.external_id for r in later] == ["7", "1500", "2499"]
    assert all(r.fields["city"] == "Odense C" for r in later)


def _naive_skippages_walk(fake: EconomicFake, edit_on_second_page: int) -> set[int]:
    """Follow pagination.nextPage like most clients do (for contrast with the connector's keyset walk)."""
    done = False

    def bookkeeper(method: str, path: str) -> None:
        nonlocal done
        if not done and path == "/customers" and calls[0] == 1:
            done = True
            fake.clock.advance(1)
            fake.update_customer(edit_on_second_page, city="Kolding")

    calls = [0]
    fake.on_request(bookkeeper)
    seen: set[int] = set()
    headers = {"X-AppSecretToken": "test-app-secret", "X-AgreementGrantToken": "test-grant-token"}
    with httpx.Client(transport=httpx.WSGITransport(app=fake.app), headers=headers) as client:
        url: str | None = (
            f"{BASE}/customers?filter=lastUpdated$gte:2026-03-02T09:30:15Z&sort=lastUpdated&pagesize=1000"
        )
        while url:
            page = client.get(url).json()
            calls[0] += 1
            seen.update(c["customerNumber"] for c in page["collection"])
            url = page["pagination"].get("nextPage")
    return seen


def test_changed_since_misses_nothing_when_a_bookkeeper_edits_during_the_walk(h: Harness) -> None:
    h.fake.seed(2500, contacts_per_customer=0)
    edited = False

    def bookkeeper(method: str, path: str) -> None:
        nonlocal edited
        if not edited and path == "/customers" and h.calls("GET /customers") == 1:
            edited = True
            h.fake.clock.advance(1)
            h.fake.update_customer(5, city="Kolding")

    h.fake.on_request(bookkeeper)
    seen = [int(r.external_id) for r in h.connector.changed_since(CUSTOMER, T0)]
    assert edited
    assert set(seen) == set(range(1, 2501))
    assert seen.count(5) == 2  # once before and once after the edit

    contrast = EconomicFake()
    contrast.clock.freeze(T0)
    contrast.seed(2500, contacts_per_customer=0)
    assert len(set(range(1, 2501)) - _naive_skippages_walk(contrast, 5)) == 1  # the hazard is real


def test_list_all_and_get_many_use_large_pages(h: Harness) -> None:
    h.fake.seed(2100, contacts_per_customer=0)
    assert [int(r.external_id) for r in h.connector.list_all(CUSTOMER)] == list(range(1, 2101))
    assert h.calls("GET /customers") == 3
    h.fake.reset_stats()
    wanted = [str(n) for n in range(1, 901, 2)] + ["99999", "abc"]
    found = h.connector.get_many(CUSTOMER, wanted)
    assert sorted(found, key=int) == [str(n) for n in range(1, 901, 2)]
    assert found["3"].external_id == "3" and found["3"].fields["customer_number"] == "3"
    assert h.calls("GET /customers") == 3  # 451 numbers -> 3 filters of at most 200


# ------------------------------------------------------------------------------------------ safe updates


def test_update_never_clears_fields_crmsync_does_not_own(h: Harness) -> None:
    number = int(create(h, name="Kildegaard VVS ApS", email="info@kildegaard.dk", city="Vejle"))
    h.fake.update_customer(
        number,
        ean="5798000012345",
        mobilePhone="+45 20 30 40 50",
        creditLimit=25000.0,
        layout=19,
        publicEntryNumber="PE-7",
        pNumber="1012345678",
        iban="DK5000400440116243",
        salesPerson=3,
    )
    fields = {"name": "Kildegaard VVS A/S", "city": None, "currency": None, "payment_terms": None}
    [result] = h.connector.write(
        CUSTOMER, [WriteItem(record_id="rec-1", external_id=str(number), fields=fields)]
    )
    assert result.ok, result.error
    legacy = h.fake.get_customer(number)
    api = h.fake.get_customer(number, view="api")
    assert legacy is not None and api is not None
    assert legacy["name"] == "Kildegaard VVS A/S"
    assert "city" not in legacy  # crmsync owns city and cleared it
    assert legacy["currency"] == "DKK" and legacy["paymentTerms"]["paymentTermsNumber"] == 5  # required: kept
    assert legacy["email"] == "info@kildegaard.dk"
    assert legacy["ean"] == "5798000012345"
    assert legacy["mobilePhone"] == "+45 20 30 40 50"
    assert legacy["creditLimit"] == 25000.0
    assert legacy["layout"]["layoutNumber"] == 19
    assert legacy["publicEntryNumber"] == "PE-7"
    assert legacy["pNumber"] == "1012345678"
    assert legacy["salesPerson"]["employeeNumber"] == 3
    assert api["iban"] == "DK5000400440116243"
    assert api["access"] is True  # not barred by the round trip


def test_a_concurrent_bookkeeper_change_is_retried_and_survives(h: Harness) -> None:
    number = int(create(h, name="Møllerup Smedie ApS"))
    put = f"PUT {CUSTOMERS_API_PREFIX}/Customers/{{number}}"

    def bookkeeper(method: str, path: str) -> None:
        if method == "PUT" and h.calls(put) == 0:
            h.fake.update_customer(number, mobilePhone="+45 99 88 77 66", ean="5798000099999")

    h.fake.on_request(bookkeeper)
    [result] = h.connector.write(
        CUSTOMER, [WriteItem(record_id="rec-1", external_id=str(number), fields={"email": "ny@mollerup.dk"})]
    )
    assert result.ok, result.error
    legacy = h.fake.get_customer(number)
    assert legacy is not None
    assert legacy["email"] == "ny@mollerup.dk"
    assert legacy["mobilePhone"] == "+45 99 88 77 66"
    assert legacy["ean"] == "5798000099999"
    assert h.calls(put) == 2
    assert h.calls(f"GET {CUSTOMERS_API_PREFIX}/Customers/{{number}}") == 2
    assert h.fake.stats()["statuses"]["409"] == 1


def test_conflicts_that_never_settle_give_a_retryable_failure(h: Harness) -> None:
    number = int(create(h, name="Busy A/S"))
    h.fake.on_request(lambda method, path: method == "PUT" and h.fake.update_customer(number, city="Herning"))
    [result] = h.connector.write(
        CUSTOMER, [WriteItem(record_id="rec-1", external_id=str(number), fields={"name": "Mine A/S"})]
    )
    assert not result.ok
    assert result.retryable
    assert result.error_code == "Conflict"
    assert result.request_id
    assert h.calls(f"PUT {CUSTOMERS_API_PREFIX}/Customers/{{number}}") == 4
    legacy = h.fake.get_customer(number)
    assert legacy is not None and legacy["name"] == "Busy A/S"


# ------------------------------------------------------- external number, account manager, booked invoices

API_PUT = f"PUT {CUSTOMERS_API_PREFIX}/Customers/{{number}}"
API_GET = f"GET {CUSTOMERS_API_PREFIX}/Customers/{{number}}"
LEGACY_PUT = "PUT /customers/{customerNumber}"


def test_external_number_round_trip(h: Harness) -> None:
    """publicEntryNumber: legacy POST on create, a legacy PUT of it alone on update (see module doc)."""
    number = create(h, name="Fjordhøj Byggeri ApS", external_number="CRM-1001")
    stored = h.fake.get_customer(int(number))
    assert stored is not None and stored["publicEntryNumber"] == "CRM-1001"
    got = h.connector.get(CUSTOMER, number)
    assert got is not None and got.fields["external_number"] == "CRM-1001"
    assert h.connector.get_many(CUSTOMER, [number])[number].fields["external_number"] == "CRM-1001"

    contact = h.fake.add_contact(int(number), name="Mette Holm")
    h.fake.update_customer(
        int(number),
        ean="5798000012345",
        mobilePhone="+45 20 30 40 50",
        creditLimit=25000.0,
        layout=19,
        salesPerson=3,
        pNumber="1012345678",
        barred=True,
        attention=contact,
        iban="DK5000400440116243",
    )
    h.fake.clock.advance(5)
    h.fake.reset_stats()
    changed = update(h, number, external_number="CRM-2002", city="Vejle")
    assert changed.ok, changed.error
    assert changed.record is not None
    assert changed.record.fields["external_number"] == "CRM-2002"
    assert changed.record.fields["city"] == "Vejle"
    assert changed.record.modified_at == T0 + timedelta(seconds=5)  # the legacy PUT answered the entity
    assert (h.calls(API_PUT), h.calls(LEGACY_PUT)) == (1, 1)
    after = h.connector.get(CUSTOMER, number)
    assert after is not None and changed.record.fields == after.fields  # claims exactly what is stored
    legacy = h.fake.get_customer(int(number))
    api = h.fake.get_customer(int(number), view="api")
    assert legacy is not None and api is not None
    assert (legacy["publicEntryNumber"], legacy["city"]) == ("CRM-2002", "Vejle")
    assert legacy["ean"] == "5798000012345" and legacy["mobilePhone"] == "+45 20 30 40 50"
    assert legacy["creditLimit"] == 25000.0 and legacy["pNumber"] == "1012345678"
    assert legacy["layout"]["layoutNumber"] == 19 and legacy["salesPerson"]["employeeNumber"] == 3
    assert legacy["attention"]["customerContactNumber"] == contact
    assert legacy["barred"] is True and api["iban"] == "DK5000400440116243"

    h.fake.reset_stats()
    only = update(h, number, external_number="CRM-3003")
    assert only.ok and only.record is not None and only.record.fields["external_number"] == "CRM-3003"
    assert (h.calls(API_GET), h.calls(API_PUT), h.calls(LEGACY_PUT)) == (0, 0, 1)

    h.fake.reset_stats()
    same = update(h, number, external_number="CRM-3003")
    assert same.ok and same.record is not None and same.record.fields["external_number"] == "CRM-3003"
    assert h.fake.stats()["writes"] == 0  # nothing to change: nothing sent

    cleared = update(h, number, external_number=None)
    assert cleared.ok and cleared.record is not None and cleared.record.fields["external_number"] is None
    legacy = h.fake.get_customer(int(number))
    assert legacy is not None and "publicEntryNumber" not in legacy and legacy["ean"] == "5798000012345"
    got = h.connector.get(CUSTOMER, number)
    assert got is not None and got.fields["external_number"] is None

    h.fake.reset_stats()
    too_long = update(h, number, external_number="X" * 51, city="Odense C")
    assert (too_long.ok, too_long.error_code, too_long.retryable) == (False, "invalid_field", False)
    assert h.fake.stats()["total"] == 0  # refused before anything was written, city included
    [refused] = h.connector.write(
        CUSTOMER, [WriteItem(record_id="r2", fields={"name": "Y", "external_number": "Z" * 51})]
    )
    assert (refused.ok, refused.error_code) == (False, "invalid_field")
    assert h.fake.customer_numbers() == [int(number)]


def test_records_read_through_the_customers_api_leave_external_number_unknown(h: Harness) -> None:
    number = create(h, name="Birkholm Emballage A/S", external_number="OLD-77")
    result = update(h, number, phone="+45 70 10 20 30")
    assert result.ok and result.record is not None
    assert "external_number" not in result.record.fields  # unknown to the Customers API, not empty
    assert result.record.fields["phone"] == "+45 70 10 20 30"
    assert "account_manager" in result.record.fields  # ourRef: the Customers API knows it
    unchanged = update(h, number, phone="+45 70 10 20 30")  # nothing to send: built from the GET
    assert unchanged.ok and unchanged.record is not None
    assert "external_number" not in unchanged.record.fields
    stored = h.fake.get_customer(int(number))
    assert stored is not None and stored["publicEntryNumber"] == "OLD-77"


def test_account_manager_round_trip(h: Harness) -> None:
    """account_manager = legacy salesPerson.employeeNumber = Customers API ourRef, read and written."""
    number = create(h, name="Rask Revision ApS", account_manager="3")
    legacy = h.fake.get_customer(int(number))
    assert legacy is not None and legacy["salesPerson"]["employeeNumber"] == 3
    got = h.connector.get(CUSTOMER, number)
    assert got is not None and got.fields["account_manager"] == "3"

    moved = update(h, number, account_manager="7")
    assert moved.ok and moved.record is not None and moved.record.fields["account_manager"] == "7"
    api = h.fake.get_customer(int(number), view="api")
    legacy = h.fake.get_customer(int(number))
    assert api is not None and api["ourRef"] == 7
    assert legacy is not None and legacy["salesPerson"]["employeeNumber"] == 7
    got = h.connector.get(CUSTOMER, number)
    assert got is not None and got.fields["account_manager"] == "7"

    removed = update(h, number, account_manager=None)
    assert removed.ok and removed.record is not None and removed.record.fields["account_manager"] is None
    legacy = h.fake.get_customer(int(number))
    assert legacy is not None and "salesPerson" not in legacy
    got = h.connector.get(CUSTOMER, number)
    assert got is not None and got.fields["account_manager"] is None

    both = update(h, number, account_manager="12", external_number="EXT-9")
    assert both.ok and both.record is not None
    assert (both.record.fields["account_manager"], both.record.fields["external_number"]) == ("12", "EXT-9")

    bad = update(h, number, account_manager="Jens")
    assert (bad.ok, bad.error_code) == (False, "invalid_field")
    [refused] = h.connector.write(
        CUSTOMER, [WriteItem(record_id="r2", fields={"name": "Z", "account_manager": "0"})]
    )
    assert (refused.ok, refused.error_code) == (False, "invalid_field")


def test_has_booked_invoices(h: Harness) -> None:
    number = create(h, name="Kastrup Logistik ApS")
    other = create(h, "rec-2", name="Never Invoiced ApS")
    assert h.connector.has_booked_invoices(number) is False
    h.fake.book_invoice(int(number), amount=1200)
    h.fake.book_invoice(int(number), amount=-300)
    h.sent.clear()
    assert h.connector.has_booked_invoices(number) is True
    [request] = h.sent
    assert request.url.path == f"/customers/{number}/invoices/booked"
    assert request.url.params["pagesize"] == "1"
    assert h.connector.has_booked_invoices(other) is False
    with pytest.raises(NotFoundError):  # "no such customer" is not "no invoices"
        h.connector.has_booked_invoices("4040")
    with pytest.raises(VendorRefusedError):
        h.connector.has_booked_invoices("abc")


# ---------------------------------------------------------------------------------------- idempotent creates


def test_create_is_idempotent_when_the_response_is_lost(h: Harness) -> None:
    h.fake.inject(504, method="POST", after_commit=True)
    first = create(h, "rec-9", name="Lost Response ApS")
    assert h.fake.customer_numbers() == [int(first)]
    assert h.calls("POST /customers") == 2  # the retry was replayed, not re-created
    assert len(h.sleeps) == 1
    posts = [r for r in h.sent if r.method == "POST"]
    assert len({r.headers["Idempotency-Key"] for r in posts}) == 1

    assert create(h, "rec-9", name="Lost Response ApS") == first  # the engine re-runs the item
    assert h.fake.customer_numbers() == [int(first)]
    assert create(h, "rec-10", name="Someone Else ApS") != first


def test_a_replayed_create_of_a_since_deleted_customer_creates_it_again(h: Harness) -> None:
    number = int(create(h, "rec-3", name="Phoenix ApS"))
    h.fake.delete_customer(number)
    again = create(h, "rec-3", name="Phoenix ApS")
    legacy = h.fake.get_customer(int(again))
    assert legacy is not None and legacy["name"] == "Phoenix ApS"
    assert h.calls("POST /customers") == 3  # original, replay, fresh key


# ---------------------------------------------------------------------------------------- throttling, errors


def test_retry_after_is_honoured(h: Harness) -> None:
    number = create(h, name="Throttled ApS")
    h.fake.inject(429, retry_after=7, method="GET")
    assert h.connector.get(CUSTOMER, number) is not None
    assert h.sleeps == [7.0]


def test_an_empty_token_bucket_ends_in_a_rate_limited_error(fake: EconomicFake) -> None:
    limited = EconomicFake(rate_limit=(2, 60))
    h = Harness(limited)
    h.connector.get(CUSTOMER, "1")
    h.connector.get(CUSTOMER, "1")
    with pytest.raises(RateLimitedError) as raised:
        h.connector.get(CUSTOMER, "1")
    assert raised.value.retry_after is not None and raised.value.retry_after >= 1
    assert len(h.sleeps) == 3
    assert all(1 <= s <= 20 for s in h.sleeps)  # Retry-After, capped by the policy
    assert raised.value.request_id


def test_errors_are_typed_and_carry_the_request_id(h: Harness) -> None:
    with pytest.raises(AuthError):
        Harness(h.fake, tokens=("test-app-secret", "revoked")).connector.ensure_setup()
    h.connector.ensure_setup()

    [bad_group, no_name, missing, renumber] = h.connector.write(
        CUSTOMER,
        [
            WriteItem(record_id="r1", fields={"name": "X ApS", "customer_group": "99"}),
            WriteItem(record_id="r2", fields={"city": "Vejle"}),
            WriteItem(record_id="r3", external_id="4040", fields={"city": "Vejle"}),
            WriteItem(record_id="r4", external_id="1", fields={"customer_number": "2"}),
        ],
    )
    assert (bad_group.ok, bad_group.error_code, bad_group.retryable) == (False, "E06000", False)
    assert bad_group.error and "customerGroup" in bad_group.error
    assert bad_group.request_id and bad_group.request_id.endswith("-CPH")
    assert (no_name.ok, no_name.error_code) == (False, "missing_name")
    assert (missing.ok, missing.error_code, missing.external_id) == (False, "NotFound", "4040")
    assert not renumber.ok
    assert h.fake.customer_numbers() == []


def test_an_auth_failure_stops_the_batch() -> None:
    h = Harness(EconomicFake(), tokens=("wrong", "wrong"))
    items = [WriteItem(record_id=f"r{i}", fields={"name": f"C{i}"}) for i in range(3)]
    results = h.connector.write(CUSTOMER, items)
    assert [(r.ok, r.error_code) for r in results] == [(False, "AuthError")] * 3
    assert h.fake.stats()["total"] == 1


class SlowInFlightCounter(httpx.BaseTransport):
    """The fake behind a 30 ms round trip, counting how many requests are in flight at once."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(0.03)
            return self.inner.handle_request(request)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_writes_run_a_few_at_a_time_and_answer_in_order(fake: EconomicFake) -> None:
    """No batch endpoint: WRITE_CONCURRENCY writes in flight (the first alone), results in item order."""
    counter = SlowInFlightCounter(httpx.WSGITransport(app=fake.app))
    client = httpx.Client(transport=counter, base_url=BASE)
    connector = EconomicConnector(
        "conn-eco-1",
        "test-app-secret",
        "test-grant-token",
        DEFAULTS,
        rest_base_url=BASE,
        customers_api_url=f"{BASE}{CUSTOMERS_API_PREFIX}",
        client=client,
    )
    items = [WriteItem(record_id=f"r{i}", fields={"name": f"Customer {i} ApS"}) for i in range(12)]
    items[5] = WriteItem(record_id="r5", fields={"city": "no name: refused"})
    results = connector.write(CUSTOMER, items)
    assert [r.record_id for r in results] == [i.record_id for i in items]
    assert [r.ok for r in results] == [i != 5 for i in range(12)]
    created = {r.external_id: r.record for r in results if r.ok}
    assert len(created) == 11, "each create got its own customer"
    assert all(
        rec is not None and rec.fields["name"] == f"Customer {rec_id[1:]} ApS"
        for rec_id, rec in ((r.record_id, r.record) for r in results if r.ok)
    )
    ids = [r.request_id for r in results if r.ok]
    assert len(set(ids)) == len(ids), "each result carries its own response's request id"
    assert counter.peak == WRITE_CONCURRENCY, "writes overlap, never more than the bound"
    client.close()


# ------------------------------------------------------------------------------------------ contacts


def test_contacts_are_read_in_bulk(h: Harness) -> None:
    numbers = h.fake.seed(300, contacts_per_customer=4)
    records = list(h.connector.changed_since(CONTACT, T0))
    assert len(records) == 1200
    assert h.calls(f"GET {CUSTOMERS_API_PREFIX}/Contacts") == 2
    assert {r.parent_external_id for r in records} == {str(n) for n in numbers}
    first = records[0]
    stored = h.fake.get_contact(int(first.external_id))
    assert stored is not None
    assert first.fields == {k: stored.get(k) for k in ("name", "email", "phone", "notes")}
    assert first.version == stored["objectVersion"] and first.modified_at == T0

    of_seven = h.connector.contacts_of("7")
    assert [r.fields["name"] for r in of_seven] == [c["name"] for c in h.fake.contacts_of(7)]
    assert len(of_seven) == 4 and all(r.parent_external_id == "7" for r in of_seven)
    h.fake.reset_stats()
    found = h.connector.get_many(CONTACT, [str(n) for n in range(1, 251)])
    assert len(found) == 250
    assert h.calls(f"GET {CUSTOMERS_API_PREFIX}/Contacts") == 2
    assert len(list(h.connector.list_all(CONTACT))) == 1200


def test_a_deleted_contact_surfaces_as_deleted(h: Harness) -> None:
    [customer] = h.fake.seed(1, contacts_per_customer=2)
    [keep, gone] = [c["number"] for c in h.fake.contacts_of(customer)]
    h.fake.clock.advance(30)
    h.fake.delete_contact(gone)
    changes = list(h.connector.changed_since(CONTACT, T0 + timedelta(seconds=30)))
    assert [(r.external_id, r.deleted) for r in changes] == [(str(gone), True)]
    assert h.connector.get(CONTACT, str(gone)) is None
    assert h.connector.get(CONTACT, str(keep)) is not None
    assert [r.external_id for r in h.connector.contacts_of(str(customer))] == [str(keep)]
    assert [r.external_id for r in h.connector.list_all(CONTACT)] == [str(keep)]
    assert list(h.connector.get_many(CONTACT, [str(keep), str(gone)])) == [str(keep)]


def test_contact_create_and_update(h: Harness) -> None:
    number = create(h, name="Holm Consult ApS")
    item = WriteItem(
        record_id="c-1",
        parent_external_id=number,
        fields={"name": "Sofie Holm", "email": "sofie@holm.dk", "title": "CFO", "notes": None},
    )
    [created] = h.connector.write(CONTACT, [item])
    assert created.ok and created.record is not None
    contact_id = created.external_id
    assert created.record.fields == {
        "name": "Sofie Holm",
        "email": "sofie@holm.dk",
        "phone": None,
        "notes": None,
    }
    assert created.record.parent_external_id == number
    [replayed] = h.connector.write(CONTACT, [item])
    assert replayed.external_id == contact_id
    assert len(h.fake.contacts_of(int(number))) == 1

    h.fake.update_contact(int(contact_id), receiveInvoices=True)  # not a canonical field: must survive
    put = f"PUT {CUSTOMERS_API_PREFIX}/Contacts"
    h.fake.on_request(
        lambda method, path: method == "PUT"
        and h.calls(put) == 0
        and h.fake.update_contact(int(contact_id), notes="ring efter kl. 10")
    )
    [updated] = h.connector.write(
        CONTACT,
        [
            WriteItem(
                record_id="c-1", external_id=contact_id, fields={"phone": "+45 12 34 56 78", "email": None}
            )
        ],
    )
    assert updated.ok, updated.error
    stored = h.fake.get_contact(int(contact_id))
    assert stored is not None
    assert stored["phone"] == "+45 12 34 56 78"
    assert "email" not in stored
    assert stored["notes"] == "ring efter kl. 10"
    assert stored["receiveInvoices"] is True
    assert h.calls(put) == 2

    [orphan] = h.connector.write(CONTACT, [WriteItem(record_id="c-2", fields={"name": "No Parent"})])
    assert (orphan.ok, orphan.error_code) == (False, "missing_parent")


# ------------------------------------------------------------------------------------------ wire format


@cache
def _openapi_registry() -> Registry:
    spec = json.loads((REFERENCE / "openapi" / "openapi-Customers.json").read_text(encoding="utf-8"))
    return Registry().with_resource(
        "urn:customers", Resource.from_contents(spec, default_specification=DRAFT4)
    )


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_null(v) for v in value.values())
    return isinstance(value, list) and any(_has_null(v) for v in value)


def test_a_create_may_get_a_deleted_number_from_the_middle_of_the_range(h: Harness) -> None:
    numbers = [create(h, f"rec-{i}", name=f"C{i}") for i in range(3)]
    h.fake.delete_customer(int(numbers[1]))  # a bookkeeper deletes the middle one
    reused = create(h, "rec-new", name="Newcomer")
    assert reused == numbers[1]  # e-conomic hands the freed number out again
    fresh = h.connector.get(CUSTOMER, reused)
    assert fresh is not None and fresh.fields["name"] == "Newcomer"


def test_clearing_fields_omits_them_and_the_strict_fake_accepts_every_body(h: Harness) -> None:
    """The fake refuses any null on Customers API writes (400), so clearing must omit, never send null."""
    number = create(h, name="Clear A/S", email="a@clear.dk", city="Vejle", zip="7100", account_manager="4")
    contact = h.connector.write(
        CONTACT, [WriteItem(record_id="c", parent_external_id=number, fields={"name": "A", "phone": "1"})]
    )[0]
    h.fake.update_customer(
        int(number), mobilePhone="+45 11 22 33 44", attention=int(str(contact.external_id))
    )
    cleared = dict.fromkeys(("email", "city", "zip", "phone", "website", "corporate_id", "account_manager"))
    assert update(h, number, **cleared).ok
    [contact_update] = h.connector.write(
        CONTACT, [WriteItem(record_id="c", external_id=contact.external_id, fields={"phone": None})]
    )
    assert contact_update.ok, contact_update.error
    stored = h.connector.get(CUSTOMER, number)
    assert stored is not None
    assert {k: stored.fields.get(k) for k in ("email", "city", "zip", "account_manager")} == dict.fromkeys(
        ("email", "city", "zip", "account_manager")
    )
    # every write above was accepted by the null-refusing fake; none carried a null
    for request in h.sent:
        if request.method in ("POST", "PUT"):
            assert not _has_null(json.loads(request.content)), (request.url, request.content)


def test_request_bodies_match_the_official_schemas_and_carry_no_nulls(h: Harness) -> None:
    number = create(
        h,
        name="Schema A/S",
        zip="8700",
        barred=True,
        customer_group="2",
        external_number="EXT-1",
        account_manager="4",
    )
    h.connector.write(
        CUSTOMER,
        [WriteItem(record_id="rec-1", external_id=number, fields={"city": "Horsens", "barred": False})],
    )
    [contact] = h.connector.write(
        CONTACT, [WriteItem(record_id="c", parent_external_id=number, fields={"name": "A", "phone": "1"})]
    )
    h.connector.write(
        CONTACT, [WriteItem(record_id="c", external_id=contact.external_id, fields={"email": "a@b.dk"})]
    )
    contact_number = int(str(contact.external_id))
    h.fake.update_customer(int(number), attention=contact_number, creditLimit=1000.0)
    assert update(h, number, external_number="EXT-2", account_manager=None).ok  # both APIs' PUTs

    def legacy_schema(name: str) -> Any:
        text = (REFERENCE / "legacy-schemas" / name).read_text(encoding="utf-8-sig")
        return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))

    post_schema = legacy_schema("customers.post.schema.json")
    put_schema = legacy_schema("customers.customerNo.put.schema.json")
    read_only = {name for name, prop in put_schema["properties"].items() if prop.get("readOnly")}
    checked = set()
    for request in h.sent:
        if request.method not in ("POST", "PUT"):
            continue
        body = json.loads(request.content)
        assert not _has_null(body), (request.url, body)
        path = request.url.path
        if path == "/customers":
            errors = list(jsonschema.Draft3Validator(post_schema).iter_errors(body))
        elif request.method == "PUT" and not path.startswith(CUSTOMERS_API_PREFIX):
            errors = list(jsonschema.Draft3Validator(put_schema).iter_errors(body))
            writable = set(put_schema["properties"]) - read_only  # no balance, dueAmount, self, links
            assert set(body) <= writable, set(body) - writable
            assert body["attention"]["customerContactNumber"] == contact_number  # sent back as read
            assert (body["publicEntryNumber"], body["creditLimit"]) == ("EXT-2", 1000.0)
        else:
            component = "Customer" if "/Customers" in path else "Contact"
            schema = {"$ref": f"urn:customers#/components/schemas/{component}"}
            errors = list(OAS30Validator(schema, registry=_openapi_registry()).iter_errors(body))
        assert not errors, (path, [e.message for e in errors])
        checked.add((request.method, re.sub(r"/\d+$", "/{n}", path)))
    assert checked == {
        ("POST", "/customers"),
        ("PUT", "/customers/{n}"),
        ("PUT", f"{CUSTOMERS_API_PREFIX}/Customers/{{n}}"),
        ("POST", f"{CUSTOMERS_API_PREFIX}/Contacts"),
        ("PUT", f"{CUSTOMERS_API_PREFIX}/Contacts"),
    }
    stored = h.fake.get_customer(int(number))
    assert stored is not None and "barred" not in stored and stored["city"] == "Horsens"
    assert stored["publicEntryNumber"] == "EXT-2" and "salesPerson" not in stored


def test_source_records_are_plain_canonical_values(h: Harness) -> None:
    h.fake.seed(3, contacts_per_customer=1)
    for record in h.connector.list_all(CUSTOMER):
        assert isinstance(record, SourceRecord)
        assert set(record.fields) == h.connector.supported_fields(CUSTOMER)
        assert set(record.fields) == set(CUSTOMER_FIELDS) - {
            "lifecycle_stage",
            "parent_account",
        }  # CRM-only fields
        assert all(v is None or isinstance(v, (str, bool)) for v in record.fields.values())
        assert record.fields["customer_group"] in ("1", "2") and record.modified_at == T0
