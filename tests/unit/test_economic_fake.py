"""The e-conomic fake answers like e-conomic: official schemas, recorded responses, documented semantics.

Schemas and recordings come from the reference set kept in the repo (``tests.reference``: ``vendor-specs``
in this repository); a missing set is an error, never a skip.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from werkzeug.wrappers import Request, Response

from local.fakes.economic import (
    CUSTOMERS_API_PREFIX,
    EconomicFake,
    EconomicFaults,
    WebhookDelivery,
    generate_customers,
)
from tests.reference import reference_dir

REFERENCE = reference_dir("economic")


TOKENS = {"X-AppSecretToken": "test-app-secret", "X-AgreementGrantToken": "test-grant-token"}
BASE = "http://economic.test"
API = CUSTOMERS_API_PREFIX
PUBLIC = "https://restapi.e-conomic.com"
T0 = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)

MINIMAL = {
    "name": "Horsens Kommune",
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 5},
    "vatZone": {"vatZoneNumber": 1},
}


# ------------------------------------------------------------------------------------------ helpers


def _lenient_json(path: Path) -> Any:
    """e-conomic's schema files may carry a BOM and trailing commas; JSON proper allows neither."""
    text = path.read_text(encoding="utf-8-sig")
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


@cache
def legacy_schema(name: str) -> dict[str, Any]:
    return _lenient_json(REFERENCE / "legacy-schemas" / name)  # type: ignore[no-any-return]


def assert_legacy_valid(instance: Any, schema_name: str) -> None:
    errors = sorted(jsonschema.Draft3Validator(legacy_schema(schema_name)).iter_errors(instance), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@cache
def _openapi_registry() -> Registry:
    spec = json.loads((REFERENCE / "openapi" / "openapi-Customers.json").read_text(encoding="utf-8"))
    return Registry().with_resource(
        "urn:customers", Resource.from_contents(spec, default_specification=DRAFT4)
    )


def assert_openapi_valid(instance: Any, component: str) -> None:
    """Validate against ``#/components/schemas/<component>`` (OpenAPI 3.0: ``nullable`` honoured)."""
    schema = {"$ref": f"urn:customers#/components/schemas/{component}"}
    errors = list(OAS30Validator(schema, registry=_openapi_registry()).iter_errors(instance))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def example(name: str) -> Any:
    return json.loads((REFERENCE / "examples" / name).read_text(encoding="utf-8"))


def numbers(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [c["customerNumber"] for c in response.json()["collection"]]


@pytest.fixture
def fake() -> Iterator[EconomicFake]:
    fake = EconomicFake()
    fake.clock.freeze(T0)
    yield fake
    fake.shutdown()


def client_for(fake: EconomicFake, headers: dict[str, str] | None = TOKENS) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=BASE, headers=headers)


@pytest.fixture
def client(fake: EconomicFake) -> Iterator[httpx.Client]:
    with client_for(fake) as client:
        yield client


# ------------------------------------------------------------------------------------------ legacy shapes


def test_collection_page_matches_schema_and_the_recorded_demo_page() -> None:
    recorded = example("pogoe-economic-net/customers.collection.json")
    fake = EconomicFake(link_base=PUBLIC)
    fake.seed(5, contacts_per_customer=0)
    with client_for(fake) as client:
        body = client.get("/customers?pagesize=2").json()
    assert_legacy_valid(body, "customers.get.schema.json")
    assert body["pagination"] == recorded["pagination"]
    assert body["metaData"] == recorded["metaData"]
    assert body["self"] == recorded["self"]
    assert [c["customerNumber"] for c in body["collection"]] == [1, 2]


def test_paging_reproduces_the_recorded_four_page_walk() -> None:
    recorded = example("traels-it-economic-rest/DERIVED_customers_pages_0-3_pagination_only.json")
    fake = EconomicFake(link_base=PUBLIC)
    fake.seed(3684, contacts_per_customer=0)
    with client_for(fake) as client:
        for page in recorded:
            skip = page["pagination"]["skipPages"]
            body = client.get(f"/customers?skippages={skip}&pagesize=1000").json()
            assert len(body["collection"]) == page["collectionLength"]
            assert body["pagination"] == page["pagination"]
            assert body["metaData"] == page["metaData"]
            assert body["self"] == page["self"]


def test_default_page_size_page_limit_and_paging_past_the_end(
    fake: EconomicFake, client: httpx.Client
) -> None:
    fake.seed(45, contacts_per_customer=0)
    first = client.get("/customers").json()
    assert len(first["collection"]) == 20
    assert first["pagination"]["pageSize"] == 20
    assert first["pagination"]["nextPage"].endswith("/customers?skippages=1&pagesize=20")

    too_big = client.get("/customers?pagesize=1001")
    assert too_big.status_code == 400
    error = too_big.json()
    assert error["errorCode"] == "E04810"
    assert error["httpStatusCode"] == 400
    assert error["logId"] == too_big.headers["X-RequestId"]
    assert {"message", "developerHint", "logTime"} <= set(error)

    beyond = client.get("/customers?skippages=9&pagesize=20").json()
    assert beyond["collection"] == []
    assert beyond["pagination"]["results"] == 45
    assert "nextPage" not in beyond["pagination"]


def test_single_customer_matches_schema_and_the_recorded_customer(client: httpx.Client) -> None:
    recorded = example("traels-it-economic-rest/customer.json")
    body = {
        **MINIMAL,
        "country": "Danmark",
        "email": "post@horsens.dk",
        "barred": True,
        "address": "Rådhustorvet 4",
        "city": "Horsens",
        "zip": "8700",
        "telephoneAndFaxNumber": "7629 2929",
        "layout": {"layoutNumber": 16},
    }
    created = client.post("/customers", json=body)
    assert created.status_code == 201
    customer = client.get(f"/customers/{created.json()['customerNumber']}").json()
    assert_legacy_valid(customer, "customers.customerNumber.get.schema.json")
    missing = set(recorded) - set(customer)
    assert not missing
    for key, value in recorded.items():
        if isinstance(value, dict):
            assert set(customer[key]) == set(value), key
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            assert isinstance(customer[key], (int, float)) and not isinstance(customer[key], bool), key
        else:
            assert type(customer[key]) is type(value), key
    assert set(example("traels-it-economic-rest/create_customer.json")) <= set(created.json())


def test_contacts_collection_matches_schema_and_the_recorded_filter_page() -> None:
    recorded = example("traels-it-economic-rest/customer_contact_filter.json")
    fake = EconomicFake(link_base=PUBLIC)
    number = fake.add_customer(MINIMAL, fire_webhook=False)
    for i in range(13):
        fake.add_contact(number, name="Torsten Test" if i < 10 else f"Other {i}", fire_webhook=False)
    with client_for(fake) as client:
        body = client.get(
            f"/customers/{number}/contacts?skippages=0&pagesize=1000&filter=name$like:Torsten"
        ).json()
    assert_legacy_valid(body, "customers.customerNumber.contacts.get.schema.json")
    assert body["pagination"] == recorded["pagination"]
    assert body["self"] == recorded["self"]
    assert "metaData" not in body
    assert set(body["collection"][0]) >= set(recorded["collection"][0])


# ------------------------------------------------------------------------------------------ filter and sort


@pytest.fixture
def catalogue(fake: EconomicFake) -> EconomicFake:
    def add(name: str, city: str, **extra: Any) -> int:
        return fake.add_customer(MINIMAL, name=name, city=city, fire_webhook=False, **extra)

    add("Joe", "Newport", ean="5798000012345")  # 1
    add("Joe", "Aarhus C", customerGroup=2)  # 2
    add("Nordvest Tømrer ApS", "Aarhus C", barred=True)  # 3
    add("A$B Consult", "Vejle")  # 4
    add("Nordic Trading A/S", "Portsmouth")  # 5
    return fake


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("customerNumber$eq:2", [2]),
        ("customerNumber$ne:2", [1, 3, 4, 5]),
        ("customerNumber$gt:3", [4, 5]),
        ("customerNumber$gte:3", [3, 4, 5]),
        ("customerNumber$lt:2", [1]),
        ("customerNumber$lte:2", [1, 2]),
        ("customerNumber$in:[1,3,99]", [1, 3]),
        ("customerNumber$nin:[1,3]", [2, 4, 5]),
        ("name$like:*ApS", [3]),
        ("name$like:NORD", [3, 5]),
        ("city$eq:aarhus c", [2, 3]),
        ("name$eq:Joe$and:(city$like:*port$or:customerNumber$lt:2)", [1]),
        ("name$eq:Joe$or:city$eq:Vejle$and:customerNumber$gt:3", [1, 2, 4]),
        ("ean$eq:$null:", [2, 3, 4, 5]),
        ("ean$ne:$null:", [1]),
        ("barred$eq:true", [3]),
        ("customerGroup.customerGroupNumber$eq:2", [2]),
        ("name$eq:A$$B Consult", [4]),
    ],
)
def test_filter_operators(
    catalogue: EconomicFake, client: httpx.Client, query: str, expected: list[int]
) -> None:
    assert numbers(client.get("/customers", params={"filter": query})) == expected


def test_filter_on_last_updated_and_sort(fake: EconomicFake, client: httpx.Client) -> None:
    for i in range(3):
        fake.add_customer(MINIMAL, name=f"Customer {i}", fire_webhook=False)
        fake.clock.advance(10)
    fake.update_customer(1, city="Odense")  # now the newest
    assert numbers(client.get("/customers", params={"filter": "lastUpdated$gte:2026-03-02T09:30:25Z"})) == [
        1,
        2,
        3,
    ]
    assert numbers(client.get("/customers", params={"filter": "lastUpdated$lt:2026-03-02T09:30:35Z"})) == [2]
    assert numbers(client.get("/customers", params={"sort": "lastUpdated"})) == [2, 3, 1]
    assert numbers(client.get("/customers", params={"sort": "-name"})) == [3, 2, 1]
    assert numbers(client.get("/customers")) == [1, 2, 3]
    offset = client.get("/customers", params={"filter": "lastUpdated$gte:2026-03-02T09:30:25+00:00"})
    assert offset.status_code == 400


def test_unknown_filter_field_and_unsortable_field_are_400(client: httpx.Client) -> None:
    unknown = client.get("/customers", params={"filter": "bogusProp$eq:1"})
    assert unknown.status_code == 400
    body = unknown.json()
    assert body["message"] == "Could not parse query string filter."
    assert body["errors"] == ["Filtering is not allowed on property 'bogusProp'."]
    assert "lastUpdated" in body["allowedFilteringFields"]
    assert "customerGroup.customerGroupNumber" in body["allowedFilteringFields"]
    assert client.get("/customers", params={"filter": "name$eq:a)"}).status_code == 400
    unsortable = client.get("/customers", params={"sort": "barred"})
    assert unsortable.status_code == 400
    assert unsortable.json()["message"] == "Could not parse query string sort parameter."


# ------------------------------------------------------------------------------------------ legacy writes


def test_post_creates_with_location_and_assigned_or_given_number(client: httpx.Client) -> None:
    first = client.post("/customers", json=MINIMAL)
    assert first.status_code == 201
    assert first.headers["Location"] == f"{BASE}/customers/1"
    assert_legacy_valid(first.json(), "customers.customerNumber.get.schema.json")
    assert first.json()["self"] == f"{BASE}/customers/1"
    given = client.post("/customers", json={**MINIMAL, "customerNumber": 500})
    assert given.json()["customerNumber"] == 500
    assert client.post("/customers", json=MINIMAL).json()["customerNumber"] == 501
    taken = client.post("/customers", json={**MINIMAL, "customerNumber": 500})
    assert taken.status_code == 400
    assert "customerNumber" in taken.json()["errors"]


def test_post_validation_errors_are_annotated(client: httpx.Client) -> None:
    missing = client.post("/customers", json={"name": "No refs"})
    assert missing.status_code == 400
    body = missing.json()
    assert body["message"] == "Validation error."
    assert set(body["errors"]) == {"currency", "customerGroup", "paymentTerms", "vatZone"}
    assert body["errors"]["currency"]["errors"][0]["errorCode"]

    null = client.post("/customers", json={**MINIMAL, "city": None}).json()
    assert null["errors"]["city"]["errors"][0]["message"] == "Expected String but got Null."

    bad_refs = client.post(
        "/customers",
        json={**MINIMAL, "customerGroup": {"customerGroupNumber": 99}, "vatZone": {}, "currency": "ZUL"},
    ).json()["errors"]
    assert bad_refs["customerGroup"]["errors"][0] | {"developerHint": ""} == {
        "errorCode": "E06000",
        "message": "customerGroup does not exist.",
        "value": 99,
        "developerHint": "",
    }
    assert bad_refs["vatZone"]["errors"][0]["errorCode"] == "E04500"
    assert bad_refs["currency"]["errors"][0]["errorCode"] == "E06000"
    zero = client.post("/customers", json={**MINIMAL, "customerNumber": 0}).json()
    assert "customerNumber" in zero["errors"]
    by_self = client.post(
        "/customers", json={**MINIMAL, "customerGroup": {"self": f"{PUBLIC}/customer-groups/2"}}
    )
    assert by_self.json()["customerGroup"]["customerGroupNumber"] == 2


def test_idempotency_key_replays_create_and_delete(fake: EconomicFake, client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "create-1"}
    first = client.post("/customers", json=MINIMAL, headers=headers)
    again = client.post("/customers", json=MINIMAL, headers=headers)
    assert first.status_code == again.status_code == 201
    assert "X-ResultFromCache" not in first.headers
    assert again.headers["X-ResultFromCache"] == "true"
    assert again.json()["customerNumber"] == first.json()["customerNumber"]
    assert again.headers["Location"] == first.headers["Location"]
    assert fake.customer_numbers() == [1]
    assert (
        client.post("/customers", json=MINIMAL, headers={"Idempotency-Key": "create-2"}).json()[
            "customerNumber"
        ]
        == 2
    )

    delete = {"Idempotency-Key": "delete-1"}
    assert client.delete("/customers/1", headers=delete).status_code == 204
    replayed = client.delete("/customers/1", headers=delete)
    assert replayed.status_code == 204
    assert replayed.headers["X-ResultFromCache"] == "true"
    assert client.delete("/customers/1").status_code == 404


def test_put_is_a_full_replace_ignores_read_only_and_upserts(
    fake: EconomicFake, client: httpx.Client
) -> None:
    number = fake.add_customer(
        MINIMAL,
        city="Horsens",
        email="a@b.dk",
        barred=True,
        mobilePhone="12345678",
        iban="DK5000400440116243",
    )
    before = fake.get_customer(number, view="api")
    fake.clock.advance(5)
    replaced = client.put(f"/customers/{number}", json={**MINIMAL, "name": "Renamed", "balance": 999.99})
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["name"] == "Renamed"
    for cleared in ("city", "email", "barred", "mobilePhone"):
        assert cleared not in body
    assert body["balance"] == 0
    assert body["lastUpdated"] == "2026-03-02T09:30:20Z"
    after = fake.get_customer(number, view="api")
    assert before is not None and after is not None
    assert after["objectVersion"] != before["objectVersion"]
    assert after["iban"] == "DK5000400440116243"  # not a legacy property: a legacy PUT cannot clear it
    assert client.put(f"/customers/{number}", json={**MINIMAL, "city": None}).status_code == 400

    upsert = client.put("/customers/777", json=MINIMAL)
    assert upsert.status_code == 201
    assert upsert.headers["Location"] == f"{BASE}/customers/777"


def test_delete_then_404_with_e06000(fake: EconomicFake, client: httpx.Client) -> None:
    number = fake.add_customer(MINIMAL)
    assert client.delete(f"/customers/{number}").status_code == 204
    again = client.delete(f"/customers/{number}")
    assert again.status_code == 404
    assert again.json()["errorCode"] == "E06000"
    missing = client.get(f"/customers/{number}")
    recorded = example("traels-it-economic-rest/404.json")
    assert set(missing.json()) == set(recorded)
    assert missing.json()["message"] == recorded["message"]
    assert missing.json()["developerHint"] == recorded["developerHint"]


# ------------------------------------------------------------------------------------------ cross-cutting


def test_auth_media_type_and_token_bucket() -> None:
    fake = EconomicFake(rate_limit=(3, 60))
    with client_for(fake, headers=None) as anonymous:
        legacy = anonymous.get("/customers")
        assert legacy.status_code == 401
        assert legacy.json()["httpStatusCode"] == 401
        problem = anonymous.get(f"{API}/Customers", headers={**TOKENS, "X-AgreementGrantToken": "wrong"})
        assert problem.status_code == 401
        assert problem.headers["Content-Type"].startswith("application/problem+json")
        assert_openapi_valid(problem.json(), "ProblemDetails")
    fake = EconomicFake(rate_limit=(3, 60))
    with client_for(fake) as client:
        not_json = client.post("/customers", content="name=x", headers={"Content-Type": "text/plain"})
        assert not_json.status_code == 415
        assert client.get("/customers").headers["X-RateLimiting"] == "token-limit-3-per-60-seconds: 2/3"
        assert client.get("/customers").headers["X-CallCost"] == "1"
        throttled = client.get("/customers")
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 20
        assert throttled.headers["X-RateLimiting"] == "token-limit-3-per-60-seconds: 3/3"
        assert throttled.headers["X-RequestId"]
    assert fake.stats()["throttled"] == 1


def test_injected_faults(fake: EconomicFake, client: httpx.Client) -> None:
    fake.inject(503, method="GET")
    assert client.get("/customers").status_code == 503
    assert client.get("/customers").status_code == 200
    fake.inject(504, method="POST", after_commit=True)
    lost = client.post("/customers", json=MINIMAL, headers={"Idempotency-Key": "k"})
    assert lost.status_code == 504
    assert fake.customer_numbers() == [1]  # the write happened although the response was lost
    retried = client.post("/customers", json=MINIMAL, headers={"Idempotency-Key": "k"})
    assert retried.status_code == 201
    assert retried.headers["X-ResultFromCache"] == "true"
    assert fake.customer_numbers() == [1]
    fake.set_faults(EconomicFaults(rate_5xx=1.0))
    assert client.get("/customers").status_code == 503
    fake.set_faults(EconomicFaults(rate_429=1.0, retry_after=3))
    throttled = client.get("/customers")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")


# ------------------------------------------------------------------------------------------ chaos faults


def get_statuses(client: httpx.Client, n: int, path: str = "/customers/1") -> list[int]:
    return [client.get(path).status_code for _ in range(n)]


def test_rate_timeout_half_is_seeded_and_counted() -> None:
    def run(seed: int) -> tuple[list[int], dict[str, Any]]:
        fake = EconomicFake(faults=EconomicFaults(rate_timeout=0.5, timeout_s=0.0, seed=seed))
        fake.add_customer(MINIMAL, fire_webhook=False)
        with client_for(fake) as client:
            result = get_statuses(client, 200)
            ok = client.get("/customers/1")
            while ok.status_code != 200:
                ok = client.get("/customers/1")
            # the answers that are not faults are untouched
            assert_legacy_valid(ok.json(), "customers.customerNumber.get.schema.json")
        return result, fake.stats()

    first, stats = run(11)
    timeouts = first.count(504)
    assert set(first) == {200, 504} and 70 <= timeouts <= 130
    assert stats["timeouts"] == stats["faults"] >= timeouts
    assert run(11)[0] == first  # same seed, same calls time out
    assert run(12)[0] != first


def test_random_latency_is_seeded_and_counted() -> None:
    fake = EconomicFake(faults=EconomicFaults(latency_max_s=0.01, seed=3))
    fake.add_customer(MINIMAL, fire_webhook=False)
    with client_for(fake) as client:
        started = time.monotonic()
        assert get_statuses(client, 30) == [200] * 30
        elapsed = time.monotonic() - started
    stats = fake.stats()
    assert stats["slow_replies"] == 30 and 0 < stats["added_latency_s"] <= 0.3
    assert elapsed >= stats["added_latency_s"]
    again = EconomicFake(faults=EconomicFaults(latency_max_s=0.01, seed=3))
    with client_for(again) as client:
        get_statuses(client, 30, "/customers")
    assert again.stats()["added_latency_s"] == stats["added_latency_s"]
    # random latency has its own RNG stream: switching it on does not move the other faults
    plain = EconomicFake(faults=EconomicFaults(rate_5xx=0.3, seed=5))
    slow = EconomicFake(faults=EconomicFaults(rate_5xx=0.3, latency_max_s=0.001, seed=5))
    with client_for(plain) as a, client_for(slow) as b:
        assert get_statuses(a, 40, "/customers") == get_statuses(b, 40, "/customers")


def test_faults_switch_at_runtime_and_reseed(fake: EconomicFake, client: httpx.Client) -> None:
    get_statuses(client, 7, "/customers")  # faults off (draws happen, but a new seed restarts them)
    fake.faults = EconomicFaults(rate_5xx=0.5, seed=4)
    switched_on = get_statuses(client, 40, "/customers")
    fresh = EconomicFake(faults=EconomicFaults(rate_5xx=0.5, seed=4))
    with client_for(fresh) as other:
        assert switched_on == get_statuses(other, 40, "/customers")
    assert set(switched_on) == {200, 503}
    assert fake.set_faults(rate_5xx=0.0, rate_429=1.0).rate_429 == 1.0  # change single fields
    assert client.get("/customers").status_code == 429
    fake.set_faults(EconomicFaults())  # off for the final comparison
    assert get_statuses(client, 20, "/customers") == [200] * 20
    # the HTTP control surface does the same (free, not counted)
    control = client.put("/_fake/faults", json={"rate_timeout": 1.0, "timeout_s": 0.0, "seed": 9})
    assert control.status_code == 200
    assert fake.faults == EconomicFaults(rate_timeout=1.0, timeout_s=0.0, seed=9)
    assert client.get("/customers").status_code == 504
    assert client.put("/_fake/faults", json={"rate_429": 2}).status_code == 400
    assert client.put("/_fake/faults", json={}).json() == client.get("/_fake/faults").json()
    assert fake.faults == EconomicFaults()
    with pytest.raises(ValueError):
        EconomicFaults(webhook_delay_s=-1)


def test_faults_off_change_nothing() -> None:
    def run(faults: EconomicFaults | None) -> tuple[list[Any], dict[str, Any]]:
        fake = EconomicFake(faults=faults)
        fake.clock.freeze(T0)
        seen: list[str] = []
        fake.webhook_url, fake.webhook_sink = (
            "http://hook/?n=[NEWNUMBER]",
            lambda d: seen.append(d.url) or 200,
        )
        with client_for(fake) as client:
            out = [client.post("/customers", json=MINIMAL).json()["customerNumber"] for _ in range(5)]
            out += get_statuses(client, 20)
        assert fake.flush_webhooks()
        stats = fake.stats()
        keys = ("faults", "timeouts", "timeouts_after_commit", "slow_replies", "statuses")
        hooks = stats["webhooks"]
        return out + seen, {**{k: stats[k] for k in keys}, **hooks}

    baseline = run(None)
    assert baseline[1]["faults"] == baseline[1]["slow_replies"] == baseline[1]["timeouts"] == 0
    assert (baseline[1]["dropped"], baseline[1]["duplicated"], baseline[1]["reordered"]) == (0, 0, 0)
    assert baseline[1]["delayed"] == baseline[1]["failed"] == 0 and baseline[1]["delivered"] == 5
    assert run(EconomicFaults(seed=99)) == baseline
    assert run(EconomicFaults(timeout_s=0.0, latency_max_s=0.0, webhook_reorder=False)) == baseline


# ------------------------------------------------------------------------------------------ Customers API


def test_api_customer_is_the_same_customer_under_other_names(
    fake: EconomicFake, client: httpx.Client
) -> None:
    number = fake.add_customer(
        MINIMAL,
        address="Vestergade 1",
        zip="8000",
        city="Aarhus C",
        telephoneAndFaxNumber="+45 11 22 33 44",
        website="www.x.dk",
        corporateIdentificationNumber="12345674",
        vatNumber="DK12345674",
        layout=19,
        creditLimit=50000.0,
    )
    body = client.get(f"{API}/Customers/{number}").json()
    assert_openapi_valid(body, "Customer")
    assert body | {"objectVersion": ""} == {
        "customerNumber": number,
        "customerGroupNumber": 1,
        "zone": 1,
        "currency": "DKK",
        "access": True,
        "name": "Horsens Kommune",
        "address1": "Vestergade 1",
        "postCode": "8000",
        "city": "Aarhus C",
        "phone": "+45 11 22 33 44",
        "cvrNo": "12345674",
        "layoutGroup": 19,
        "paymentTermId": 5,
        "homepage": "www.x.dk",
        "vatNo": "DK12345674",
        "creditMaximum": 50000.0,
        "objectVersion": "",
    }
    fake.update_customer(number, barred=True)
    assert "access" not in client.get(f"{API}/Customers/{number}").json()
    assert client.get(f"{API}/Customers/999").status_code == 404


def test_api_cursor_paging_and_filter(fake: EconomicFake, client: httpx.Client) -> None:
    fake.seed(1500, contacts_per_customer=0)
    first = client.get(f"{API}/Customers").json()
    assert_openapi_valid(first, "CustomerCursorResults")
    assert len(first["items"]) == 1000
    assert first["cursor"] == "1001"
    second = client.get(f"{API}/Customers", params={"cursor": first["cursor"]}).json()
    assert [c["customerNumber"] for c in second["items"]] == list(range(1001, 1501))
    assert "cursor" not in second
    some = client.get(f"{API}/Customers", params={"filter": "customerNumber$in:[3,1499]"}).json()
    assert [c["customerNumber"] for c in some["items"]] == [3, 1499]
    refused = client.get(f"{API}/Customers", params={"filter": "name$eq:x"})
    assert refused.status_code == 400
    assert_openapi_valid(refused.json(), "ProblemDetails")


def test_api_create_and_optimistic_full_replace(fake: EconomicFake, client: httpx.Client) -> None:
    request = {
        "name": "Fjord Transport AS",
        "currency": "NOK",
        "customerGroupNumber": 2,
        "paymentTermId": 1,
        "zone": 3,
        "access": True,
        "email": "post@fjord.no",
        "iban": "NO9386011117947",
    }
    assert_openapi_valid(request, "Customer")
    created = client.post(f"{API}/Customers", json=request)
    assert created.status_code == 201
    assert_openapi_valid(created.json(), "CustomerCreatedResult")
    number = created.json()["customerNumber"]
    assert created.headers["Location"] == f"{BASE}{API}/Customers/{number}"
    fake.update_customer(number, publicEntryNumber="PE-1")  # legacy-only property

    current = client.get(f"{API}/Customers/{number}").json()
    fake.clock.advance(3)
    fake.update_customer(number, mobilePhone="+47 99 88 77 66")  # a bookkeeper gets there first
    conflict = client.put(f"{API}/Customers/{number}", json={**current, "name": "Lost update"})
    assert conflict.status_code == 409
    assert_openapi_valid(conflict.json(), "ProblemDetails")
    no_version = {k: v for k, v in current.items() if k != "objectVersion"}
    assert client.put(f"{API}/Customers/{number}", json=no_version).status_code == 400

    fresh = client.get(f"{API}/Customers/{number}").json()
    replacement = {k: v for k, v in fresh.items() if k not in ("email", "iban")}
    fake.clock.advance(4)
    assert (
        client.put(f"{API}/Customers/{number}", json={**replacement, "name": "Fjord AS"}).status_code == 204
    )
    after = client.get(f"{API}/Customers/{number}").json()
    assert after["name"] == "Fjord AS"
    assert "email" not in after and "iban" not in after
    assert after["mobilePhone"] == "+47 99 88 77 66"
    legacy = client.get(f"/customers/{number}").json()
    assert legacy["name"] == "Fjord AS"
    assert legacy["publicEntryNumber"] == "PE-1"  # unknown to the Customers API: its PUT cannot clear it
    assert legacy["lastUpdated"] == "2026-03-02T09:30:22Z"
    assert client.delete(f"{API}/Customers/{number}").status_code == 204
    assert client.get(f"/customers/{number}").status_code == 404


def test_api_refuses_null_values_on_post_and_put(fake: EconomicFake, client: httpx.Client) -> None:
    """ "We do not generally accept null as a value" (Customers API, Nulling): omit it to clear it."""
    request = {"name": "Null A/S", "currency": "DKK", "customerGroupNumber": 1, "paymentTermId": 1, "zone": 1}
    refused = client.post(f"{API}/Customers", json={**request, "email": None})
    assert refused.status_code == 400
    assert_openapi_valid(refused.json(), "ProblemDetails")
    assert [(e["property"], e["message"]) for e in refused.json()["errors"]] == [
        ("email", "Null is not allowed.")
    ]
    number = client.post(f"{API}/Customers", json={**request, "email": "a@null.dk"}).json()["customerNumber"]
    current = client.get(f"{API}/Customers/{number}").json()
    for prop in ("email", "iban", "layoutGroup", "cvrNo"):  # nullable in the schema, refused on write
        put = client.put(f"{API}/Customers/{number}", json={**current, prop: None})
        assert put.status_code == 400, prop
        assert put.json()["errors"][0]["property"] == prop
    contact = client.post(f"{API}/Contacts", json={"customerNumber": number, "name": "N", "phone": None})
    assert contact.status_code == 400 and contact.json()["errors"][0]["property"] == "phone"
    assert client.get(f"{API}/Customers/{number}").json()["email"] == "a@null.dk"  # nothing was written


def test_api_contacts_lifecycle(fake: EconomicFake, client: httpx.Client) -> None:
    customer = fake.add_customer(MINIMAL)
    other = fake.add_customer(MINIMAL, name="Other")
    created = client.post(
        f"{API}/Contacts", json={"customerNumber": customer, "name": "Mette Holm", "phone": "1"}
    )
    assert created.status_code == 201
    assert_openapi_valid(created.json(), "CreatedResult")
    number = created.json()["number"]
    client.post(f"{API}/Contacts", json={"customerNumber": other, "name": "Lars"})
    contact = client.get(f"{API}/Contacts/{number}").json()
    assert_openapi_valid(contact, "Contact")
    assert contact["lastUpdated"] == "2026-03-02T09:30:15Z"
    assert contact["userInterfaceNumber"] == 1

    update = {"number": number, "customerNumber": customer, "name": "Mette Holm", "email": "mh@x.dk"}
    stale = client.put(f"{API}/Contacts", json={**update, "objectVersion": "AAAAAAAAAAA="})
    assert stale.status_code == 409
    assert_openapi_valid(stale.json(), "ProblemDetails")
    fake.clock.advance(60)
    ok = client.put(f"{API}/Contacts", json={**update, "objectVersion": contact["objectVersion"]})
    assert ok.status_code == 204
    changed = client.get(f"{API}/Contacts/{number}").json()
    assert changed["email"] == "mh@x.dk" and "phone" not in changed  # full replace
    assert changed["objectVersion"] != contact["objectVersion"]

    by_customer = client.get(f"{API}/Contacts", params={"filter": f"customerNumber$eq:{customer}"}).json()
    assert_openapi_valid(by_customer, "ContactCursorResults")
    assert [c["number"] for c in by_customer["items"]] == [number]
    recent = client.get(f"{API}/Contacts", params={"filter": "lastUpdated$gte:2026-03-02T09:31:00Z"}).json()
    assert [c["number"] for c in recent["items"]] == [number]
    assert client.get(f"{API}/Contacts", params={"filter": "phone$eq:1"}).status_code == 400

    assert client.delete(f"{API}/Contacts/{number}").status_code == 204
    assert client.delete(f"{API}/Contacts/{number}").status_code == 404
    assert client.get(f"{API}/Contacts/{number}").json()["isDeleted"] is True
    live = client.get(f"{API}/Contacts", params={"filter": "isDeleted$eq:false"}).json()
    assert number not in [c["number"] for c in live["items"]]
    legacy = client.get(f"/customers/{customer}/contacts").json()
    assert_legacy_valid(legacy, "customers.customerNumber.contacts.get.schema.json")
    assert legacy["collection"][0]["deleted"] is True


# ------------------------------------------------------------------------------------------ booked invoices


def test_booked_invoices_collection_matches_schema_and_pages() -> None:
    fake = EconomicFake(link_base=PUBLIC)
    fake.clock.freeze(T0)
    number = fake.add_customer(
        MINIMAL, city="Horsens", salesPerson=3, layout=16, corporateIdentificationNumber="29189978"
    )
    other = fake.add_customer(MINIMAL, name="Without Invoices", vatZone=2)
    first = fake.book_invoice(number, amount=1000)
    fake.book_invoice(other, amount=200, currency="EUR")
    fake.book_invoice(number, amount=-250, date="2026-03-05")  # a credit note
    schema = "customers.customerNumber.invoices.booked.get.schema.json"
    with client_for(fake) as client:
        link = client.get(f"/customers/{number}").json()["invoices"]["booked"]
        assert link == f"{PUBLIC}/customers/{number}/invoices/booked"
        page = client.get(f"/customers/{number}/invoices/booked?pagesize=1")
        assert page.status_code == 200
        body = page.json()
        assert_legacy_valid(body, schema)
        assert body["self"] == f"{PUBLIC}/customers/{number}/invoices/booked?pagesize=1"
        assert "metaData" not in body
        assert body["pagination"]["results"] == 2 and body["pagination"]["pageSize"] == 1
        assert body["pagination"]["nextPage"].endswith(
            f"/customers/{number}/invoices/booked?pagesize=1&skippages=1"
        )
        [invoice] = body["collection"]
        assert invoice["bookedInvoiceNumber"] == first
        assert (invoice["date"], invoice["currency"]) == ("2026-03-02", "DKK")
        assert (invoice["netAmount"], invoice["vatAmount"], invoice["grossAmount"]) == (1000.0, 250.0, 1250.0)
        assert invoice["customer"] == {"customerNumber": number, "self": f"{PUBLIC}/customers/{number}"}
        assert invoice["recipient"]["name"] == "Horsens Kommune"
        assert invoice["references"]["salesPerson"]["employeeNumber"] == 3
        assert invoice["self"] == f"{PUBLIC}/invoices/booked/{first}"

        second = client.get(body["pagination"]["nextPage"]).json()
        assert_legacy_valid(second, schema)
        assert [i["grossAmount"] for i in second["collection"]] == [-312.5]
        assert "nextPage" not in second["pagination"]
        credit = client.get(f"/customers/{number}/invoices/booked?filter=date$gt:2026-03-02").json()
        assert [i["netAmount"] for i in credit["collection"]] == [-250.0]
        assert credit["pagination"]["resultsWithoutFilter"] == 2
        newest_first = client.get(f"/customers/{number}/invoices/booked?sort=-bookedInvoiceNumber").json()
        assert [i["bookedInvoiceNumber"] for i in newest_first["collection"]] == [3, 1]

        abroad = client.get(f"/customers/{other}/invoices/booked").json()
        assert_legacy_valid(abroad, schema)
        assert [(i["currency"], i["vatAmount"]) for i in abroad["collection"]] == [("EUR", 0.0)]
        none = fake.add_customer(MINIMAL, name="Never Invoiced")
        empty = client.get(f"/customers/{none}/invoices/booked?pagesize=1").json()
        assert_legacy_valid(empty, schema)
        assert empty["collection"] == [] and empty["pagination"]["results"] == 0

        missing = client.get("/customers/999/invoices/booked")
        assert missing.status_code == 404
        assert set(missing.json()) == set(example("traels-it-economic-rest/404.json"))
        assert client.get("/customers/999/contacts").status_code == 404  # like the other sub-resources
        assert client.get(f"/customers/{number}/invoices/booked?sort=netAmount").status_code == 400
    customer = fake.get_customer(number)
    assert customer is not None and customer["balance"] == 937.5  # 1250 - 312.5
    with pytest.raises(KeyError):
        fake.book_invoice(999)
    with pytest.raises(ValueError, match="currency"):
        fake.book_invoice(number, currency="XYZ")


def test_a_customer_with_booked_invoices_cannot_be_deleted(fake: EconomicFake, client: httpx.Client) -> None:
    number = fake.add_customer(MINIMAL)
    fake.book_invoice(number, amount=500)
    legacy = client.delete(f"/customers/{number}")
    assert legacy.status_code == 400 and legacy.json()["httpStatusCode"] == 400
    problem = client.delete(f"{API}/Customers/{number}")
    assert problem.status_code == 400
    assert_openapi_valid(problem.json(), "ProblemDetails")
    with pytest.raises(ValueError, match="booked invoices"):
        fake.delete_customer(number)
    assert fake.customer_numbers() == [number]

    fake.renumber(number, 70)  # the invoices stay with the customer
    assert client.get("/customers/70/invoices/booked").json()["pagination"]["results"] == 1
    assert client.get(f"/customers/{number}/invoices/booked").status_code == 404
    free = fake.add_customer(MINIMAL, name="Deletable")
    assert client.delete(f"/customers/{free}").status_code == 204


# ------------------------------------------------------------------------------------------ webhooks


class Receiver:
    """A WSGI app that records the webhook requests it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            (request.method, request.full_path, request.get_data(as_text=True), request.mimetype)
        )
        return Response(status=204)(environ, start_response)


def test_a_deleted_number_from_the_middle_of_the_range_is_reused(
    fake: EconomicFake, client: httpx.Client
) -> None:
    numbers = [
        client.post("/customers", json={**MINIMAL, "name": f"C{i}"}).json()["customerNumber"]
        for i in range(5)
    ]
    assert numbers == [1, 2, 3, 4, 5]
    assert client.delete("/customers/2").status_code == 204
    assert client.delete(f"{API}/Customers/4").status_code == 204
    fake.renumber(3, 30)
    reused = [
        client.post("/customers", json={**MINIMAL, "name": f"N{i}"}).json()["customerNumber"]
        for i in range(3)
    ]
    assert reused == [2, 3, 4]  # the lowest freed number first, not only the highest
    api = client.post(
        f"{API}/Customers",
        json={"name": "API", "currency": "DKK", "customerGroupNumber": 1, "paymentTermId": 1, "zone": 1},
    )
    assert api.json()["customerNumber"] == 31  # nothing freed left: highest + 1
    assert client.get("/customers/2").json()["name"] == "N0"
    strict = EconomicFake(reuse_deleted_numbers=False)
    for name in "ABC":
        strict.add_customer(name=name)
    strict.delete_customer(2)
    assert strict.add_customer(name="D") == 4


def test_webhooks_fire_on_every_customer_change_with_old_and_new_numbers(client: httpx.Client) -> None:
    receiver = Receiver()
    hook_client = httpx.Client(transport=httpx.WSGITransport(app=receiver), base_url="http://crmsync.test")
    fake = EconomicFake(
        webhook_url="http://crmsync.test/webhooks/economic/t1/eco?key=SECRET&old=[OLDNUMBER]&new=[NEWNUMBER]",
        webhook_client=hook_client,
    )
    with client_for(fake) as api:
        number = api.post("/customers", json=MINIMAL).json()["customerNumber"]
        version = api.get(f"{API}/Customers/{number}").json()
        api.put(f"{API}/Customers/{number}", json={**version, "city": "Vejle"})
        fake.renumber(number, 42)
        api.post(f"{API}/Contacts", json={"customerNumber": 42, "name": "Sofie"})
        api.delete("/customers/42")
    assert fake.flush_webhooks(5.0)
    assert [(m, p) for m, p, _, _ in receiver.requests] == [
        ("POST", f"/webhooks/economic/t1/eco?key=SECRET&old={old}&new={new}")
        for old, new in [(1, 1), (1, 1), (1, 42), (42, 42), (42, 42)]
    ]
    assert {(body, mimetype) for _, _, body, mimetype in receiver.requests} == {("{}", "application/json")}
    assert [e.action for e in fake.webhook_events] == [
        "created",
        "updated",
        "renumbered",
        "contact",
        "deleted",
    ]
    fake.shutdown()


def test_webhook_body_template_drop_and_duplicate_faults() -> None:
    seen: list[WebhookDelivery] = []
    fake = EconomicFake(
        webhook_url="http://hook/?n=[NEWNUMBER]",
        webhook_body="numbers=[OLDNUMBER]&newnumber=[newnumber]",
        webhook_sink=lambda delivery: seen.append(delivery) or 200,
        faults=EconomicFaults(webhook_duplicate_rate=1.0),
    )
    fake.add_customer(MINIMAL)
    assert fake.flush_webhooks()
    assert [(d.url, d.body, d.duplicate) for d in seen] == [
        ("http://hook/?n=1", "numbers=1&newnumber=1", False),
        ("http://hook/?n=1", "numbers=1&newnumber=1", True),
    ]
    fake.set_faults(EconomicFaults(webhook_drop_rate=1.0))
    fake.update_customer(1, city="Kolding")
    assert fake.flush_webhooks()
    assert len(seen) == 2
    assert fake.webhook_log[-1].dropped
    assert fake.stats()["webhooks"]["dropped"] == 1
    fake.shutdown()


def test_failed_webhook_deliveries_are_retried() -> None:
    statuses = iter([500, 503, 200])
    fake = EconomicFake(
        webhook_url="http://hook/", webhook_sink=lambda _: next(statuses), webhook_retry_delay=0.0
    )
    fake.add_customer(MINIMAL)
    assert fake.flush_webhooks()
    assert (fake.webhook_log[0].attempts, fake.webhook_log[0].status) == (3, 200)
    fake.shutdown()


def test_webhook_reorder_and_delay_deliver_a_seeded_shuffled_batch() -> None:
    def run(seed: int, reorder: bool = True) -> tuple[EconomicFake, list[int], float]:
        arrivals: list[tuple[float, int]] = []
        fake = EconomicFake(
            webhook_url="http://hook/?n=[NEWNUMBER]",
            webhook_sink=lambda d: arrivals.append((time.monotonic(), d.event.new_number)) or 200,
            faults=EconomicFaults(webhook_reorder=reorder, webhook_delay_s=0.2, seed=seed),
        )
        fired = time.monotonic()
        for _ in range(8):  # well within the 0.2 s window: one batch
            fake.add_customer(MINIMAL)
        assert fake.stats()["webhooks"]["pending"] == 8
        assert fake.flush_webhooks()
        fake.shutdown()
        return fake, [n for _, n in arrivals], arrivals[0][0] - fired

    fake, order, waited = run(1)
    assert sorted(order) == list(range(1, 9)) and order != sorted(order)
    assert waited >= 0.19  # held back for webhook_delay_s
    hooks = fake.stats()["webhooks"]
    assert (hooks["reordered"], hooks["delayed"], hooks["delivered"], hooks["pending"]) == (1, 8, 8, 0)
    assert run(1)[1] == order  # same seed, same order
    fake, in_order, _ = run(1, reorder=False)  # a delay alone keeps the order
    assert in_order == list(range(1, 9)) and fake.stats()["webhooks"]["reordered"] == 0


def test_webhook_drop_and_duplicate_rates_are_seeded_and_counted() -> None:
    def run(seed: int) -> tuple[EconomicFake, list[str]]:
        seen: list[str] = []
        fake = EconomicFake(
            webhook_url="http://hook/?n=[NEWNUMBER]",
            webhook_sink=lambda d: seen.append(d.url) or 200,
            faults=EconomicFaults(webhook_drop_rate=0.5, webhook_duplicate_rate=0.5, seed=seed),
        )
        for _ in range(100):
            fake.add_customer(MINIMAL)
        assert fake.flush_webhooks()
        fake.shutdown()
        return fake, seen

    fake, seen = run(4)
    hooks = fake.stats()["webhooks"]
    assert 30 <= hooks["dropped"] <= 70 and 10 <= hooks["duplicated"] <= 45
    assert len(seen) == hooks["delivered"] == 100 - hooks["dropped"] + hooks["duplicated"]
    assert len(set(seen)) == 100 - hooks["dropped"]
    assert run(4)[1] == seen and run(5)[1] != seen


def test_bookkeeper_edits_bump_versions_fire_webhooks_and_are_not_api_calls(
    fake: EconomicFake, client: httpx.Client
) -> None:
    number = fake.add_customer(MINIMAL)
    before = fake.get_customer(number, view="api")
    client.get("/customers")
    calls = fake.stats()["total"]
    fake.clock.advance(61)
    fake.update_customer(number, email="bogholderi@x.dk", ean="5798000012345")
    legacy = fake.get_customer(number)
    after = fake.get_customer(number, view="api")
    assert legacy is not None and before is not None and after is not None
    assert legacy["lastUpdated"] == "2026-03-02T09:31:16Z"
    assert after["objectVersion"] != before["objectVersion"]
    assert [(e.old_number, e.new_number, e.action) for e in fake.webhook_events][-1] == (
        number,
        number,
        "updated",
    )
    assert fake.stats()["total"] == calls == 1


# ------------------------------------------------------------------------------------------ control surface


def test_http_control_surface(fake: EconomicFake, client: httpx.Client) -> None:
    fake.webhook_sink = lambda delivery: 204
    assert client.post("/_fake/seed", json={"customers": 3, "contactsPerCustomer": 1}).status_code == 201
    client.get("/customers/1")
    client.get("/customers/2")
    client.get(f"{API}/Customers/1")
    client.put("/customers/2", json=MINIMAL)
    stats = client.get("/_fake/stats").json()
    assert stats["calls"] == {
        "GET /customers/{customerNumber}": 2,
        f"GET {API}/Customers/{{number}}": 1,
        "PUT /customers/{customerNumber}": 1,
    }
    assert (stats["reads"], stats["writes"], stats["customers"], stats["contacts"]) == (3, 1, 3, 3)
    patched = client.patch("/_fake/customers/1", json={"city": "Esbjerg"}).json()
    assert patched["city"] == "Esbjerg"
    hook = client.put("/_fake/webhook", json={"url": "http://x/?o=[OLDNUMBER]"}).json()
    assert hook["url"] == fake.webhook_url == "http://x/?o=[OLDNUMBER]"
    assert client.post("/_fake/customers/1/renumber", json={"newNumber": 10}).status_code == 204
    assert fake.customer_numbers() == [2, 3, 10]
    assert fake.flush_webhooks()
    assert [d.url for d in fake.webhook_log] == ["http://x/?o=1"]
    assert client.post("/_fake/reset").status_code == 204
    assert client.get("/_fake/stats").json()["customers"] == 0
    assert fake.webhook_log == []


# ------------------------------------------------------------------------------------------ seed data


def _valid_cvr(cvr: str) -> bool:
    weights = (2, 7, 6, 5, 4, 3, 2, 1)
    return (
        len(cvr) == 8
        and cvr.isdigit()
        and sum(int(d) * w for d, w in zip(cvr, weights, strict=True)) % 11 == 0
    )


def test_generated_customers_are_realistic_deterministic_and_valid() -> None:
    customers = generate_customers(300, contacts_per_customer=3, seed=7)
    assert customers == generate_customers(300, contacts_per_customer=3, seed=7)
    assert customers != generate_customers(300, contacts_per_customer=3, seed=8)
    assert [c["customerNumber"] for c in customers] == list(range(1, 301))
    assert len({c["name"] for c in customers}) == 300
    legal_forms = ("A/S", "ApS", "I/S", "K/S", "AB", "HB", "AS", "ASA", "GmbH", "AG", "KG", "B.V.", "N.V.")
    assert sum(c["name"].endswith(legal_forms) for c in customers) > 250
    danish = [c for c in customers if c["country"] == "Danmark"]
    assert 150 < len(danish) < 260
    assert all(_valid_cvr(c["corporateIdentificationNumber"]) for c in danish)
    assert all(c["currency"] == "DKK" and c["vatZone"]["vatZoneNumber"] == 1 for c in danish)
    assert {c["currency"] for c in customers} >= {"DKK", "EUR", "SEK"}
    for customer in customers:
        body = {k: v for k, v in customer.items() if k != "contacts"}
        assert_legacy_valid(body, "customers.post.schema.json")
        assert len(customer["contacts"]) == 3
        assert all(
            "@" in c["email"] and c["name"] and c["phone"].startswith("+") for c in customer["contacts"]
        )
        assert customer["email"].split("@")[1] == customer["contacts"][0]["email"].split("@")[1]
