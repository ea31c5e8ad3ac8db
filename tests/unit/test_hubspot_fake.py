"""The HubSpot fake against HubSpot's own OpenAPI specs and fact sheet (vendor-specs/crm-apis.md A).

Every response checked here is validated against the named component schema of the official spec, and
the connector's request bodies are validated the same way, so fake and connector cannot drift together.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from crmsync.connectors.base import WriteItem
from crmsync.connectors.http import RetryPolicy
from crmsync.connectors.hubspot import HubSpotConnector
from crmsync.models import ObjectType
from local.fakes.hubspot import Faults, HubSpotFake, SpecValidator, sign_v3

TOKEN = "pat-na1-test"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SDK_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
TARGET = "https://hooks.crmsync.test/webhooks/hubspot/t1"


class Clock:
    """Injected time; ``step`` makes every reading advance it (to see per-attempt timestamps move)."""

    def __init__(self, start: float = 1_700_000_000.0, step: float = 0.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def spec() -> SpecValidator:
    return SpecValidator()


def make(**kw: Any) -> tuple[HubSpotFake, httpx.Client]:
    kw.setdefault("rate_limit_per_10s", None)
    kw.setdefault("search_rate_limit_per_s", None)
    fake = HubSpotFake(TOKEN, **kw)
    client = httpx.Client(
        transport=httpx.WSGITransport(app=fake.app),
        base_url="https://api.hubapi.com",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    return fake, client


@pytest.fixture
def fake_api() -> tuple[HubSpotFake, httpx.Client]:
    return make()


def search_body(filters: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filterGroups": [{"filters": filters}] if filters else [],
        "sorts": [],
        "properties": ["name", "city"],
        "limit": 100,
        "after": "0",
    }
    body.update(kw)
    return body


# ------------------------------------------------------------------------------------------ signatures


def test_sign_v3_matches_the_sdk_vector():
    # hubspot-api-python tests/spec/utils/test_signature.py: the body is the literal Python-repr string
    body = "{'example_field':'example_value'}"
    assert sign_v3(SDK_SECRET, "POST", "https://www.example.com/webhook_uri", body, 15000000) == (
        "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    )
    assert (
        sign_v3(
            SDK_SECRET,
            "POST",
            "https://www.example.com/webhook_uri",
            '{"example_field":"example_value"}',
            15000000,
        )
        != "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    )


# ------------------------------------------------------------------------------------------ objects


def test_create_and_get_follow_the_spec_shapes(fake_api, spec):
    _, api = fake_api
    body = {
        "properties": {"name": "Acme A/S", "website": "acme.dk", "numberofemployees": "12"},
        "associations": [],
    }
    assert not spec.errors("companies", "SimplePublicObjectInputForCreate", body)
    created = api.post("/crm/v3/objects/companies", json=body)
    assert created.status_code == 201
    obj = created.json()
    spec.validate("companies", "SimplePublicObject", obj)
    assert obj["id"].isdigit() and obj["properties"]["hs_object_id"] == obj["id"]
    assert all(isinstance(v, str) for v in obj["properties"].values())  # every property value is a string
    assert ISO_MS.match(obj["createdAt"]) and obj["properties"]["createdate"] == obj["createdAt"]
    assert ISO_MS.match(obj["properties"]["hs_lastmodifieddate"])

    got = api.get(f"/crm/v3/objects/companies/{obj['id']}")
    spec.validate("companies", "SimplePublicObjectWithAssociations", got.json())
    # default properties when none are asked for: name, domain (+ createdate, hs_lastmodifieddate, hs_object_id)
    assert set(got.json()["properties"]) == {"name", "createdate", "hs_lastmodifieddate", "hs_object_id"}

    contact = api.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "a@acme.dk"}, "associations": []}
    )
    assert contact.json()["id"] == obj["id"]  # id spaces of companies and contacts are independent
    assert "lastmodifieddate" in contact.json()["properties"]
    assert "hs_lastmodifieddate" not in contact.json()["properties"]


def test_patch_overwrites_clears_and_rejects_unknown_properties(fake_api, spec):
    fake, api = fake_api
    cid = fake.create("companies", {"name": "Acme", "city": "Aarhus", "phone": "1"})
    before = fake.record("companies", cid)
    patched = api.patch(
        f"/crm/v3/objects/companies/{cid}", json={"properties": {"city": "Odense", "phone": ""}}
    )
    assert patched.status_code == 200
    spec.validate("companies", "SimplePublicObject", patched.json())
    after = fake.record("companies", cid)
    assert after["properties"]["city"] == "Odense" and "phone" not in after["properties"]
    assert after["properties"]["name"] == "Acme"
    assert after["updatedAt"] >= before["updatedAt"]

    bad = api.patch(f"/crm/v3/objects/companies/{cid}", json={"properties": {"missing": "x"}})
    assert bad.status_code == 400
    spec.validate("companies", "Error", bad.json())
    assert bad.json()["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in bad.json()["message"] and '"missing"' in bad.json()["message"]

    read_only = api.patch(f"/crm/v3/objects/companies/{cid}", json={"properties": {"hs_object_id": "7"}})
    assert read_only.status_code == 400 and "READ_ONLY_VALUE" in read_only.json()["message"]


def test_contact_needs_a_name_or_email_and_duplicate_email_is_409(fake_api, spec):
    _, api = fake_api
    nothing = api.post("/crm/v3/objects/contacts", json={"properties": {"phone": "1"}, "associations": []})
    assert nothing.status_code == 400
    first = api.post(
        "/crm/v3/objects/contacts", json={"properties": {"email": "jo@x.dk"}, "associations": []}
    )
    dup = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "JO@x.dk"}, "associations": []})
    assert dup.status_code == 409
    spec.validate("contacts", "Error", dup.json())
    assert dup.json()["category"] == "CONFLICT"
    assert dup.json()["message"] == f"Contact already exists. Existing ID: {first.json()['id']}"
    by_email = api.get("/crm/v3/objects/contacts/jo@x.dk", params={"idProperty": "email"})
    assert by_email.status_code == 200 and by_email.json()["id"] == first.json()["id"]


def test_lifecyclestage_only_moves_forward_unless_cleared(fake_api):
    fake, api = fake_api
    cid = fake.create("companies", {"name": "Acme", "lifecyclestage": "lead"})

    def patch(stage: str) -> httpx.Response:
        return api.patch(f"/crm/v3/objects/companies/{cid}", json={"properties": {"lifecyclestage": stage}})

    assert patch("customer").status_code == 200
    back = patch("lead")
    assert back.status_code == 400 and back.json()["category"] == "VALIDATION_ERROR"
    assert fake.record("companies", cid)["properties"]["lifecyclestage"] == "customer"
    assert patch("").status_code == 200
    assert patch("lead").status_code == 200
    assert patch("notastage").status_code == 400


def test_list_pages_with_after_cursor(fake_api, spec):
    fake, api = fake_api
    ids = fake.seed("companies", ({"name": f"C{i}"} for i in range(25)))
    seen: list[str] = []
    after = None
    calls = 0
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        page = api.get("/crm/v3/objects/companies", params=params).json()
        spec.validate("companies", "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging", page)
        seen += [r["id"] for r in page["results"]]
        calls += 1
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == ids and calls == 3
    assert len(api.get("/crm/v3/objects/companies").json()["results"]) == 10  # default limit
    fake.seed("companies", ({"name": f"D{i}"} for i in range(100)))
    assert len(api.get("/crm/v3/objects/companies", params={"limit": 500}).json()["results"]) == 100


# ------------------------------------------------------------------------------------------ batch


def test_batch_update_reports_partial_failure_as_207(fake_api, spec):
    fake, api = fake_api
    a = fake.create("contacts", {"email": "a@x.dk"})
    b = fake.create("contacts", {"email": "b@x.dk"})
    body = {
        "inputs": [
            {"id": a, "properties": {"jobtitle": "CFO"}, "objectWriteTraceId": "t-a"},
            {"id": "999", "properties": {"jobtitle": "CEO"}, "objectWriteTraceId": "t-missing"},
            {"id": b, "properties": {"email": "a@x.dk"}, "objectWriteTraceId": "t-clash"},
        ]
    }
    spec.validate("contacts", "BatchInputSimplePublicObjectBatchInput", body)
    response = api.post("/crm/v3/objects/contacts/batch/update", json=body)
    assert response.status_code == 207
    data = response.json()
    spec.validate("contacts", "BatchResponseSimplePublicObjectWithErrors", data)
    assert [r["id"] for r in data["results"]] == [a] and data["numErrors"] == 2
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in data["errors"]}
    assert by_trace["t-missing"]["category"] == "OBJECT_NOT_FOUND"
    assert by_trace["t-clash"]["category"] == "CONFLICT"
    ok = api.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [body["inputs"][0]]})
    assert ok.status_code == 200
    spec.validate("contacts", "BatchResponseSimplePublicObject", ok.json())
    dup = api.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [body["inputs"][0]] * 2})
    assert dup.status_code == 400
    too_many = {"inputs": [{"id": str(i), "properties": {}} for i in range(101)]}
    assert api.post("/crm/v3/objects/contacts/batch/update", json=too_many).status_code == 400


def test_unique_properties_and_batch_upsert(fake_api, spec):
    fake, api = fake_api
    prop = {
        "name": "ext_id",
        "label": "External id",
        "type": "string",
        "fieldType": "text",
        "groupName": "companyinformation",
        "hasUniqueValue": True,
    }
    spec.validate("properties", "PropertyCreate", prop)
    created = api.post("/crm/v3/properties/companies", json=prop)
    assert created.status_code == 201
    spec.validate("properties", "Property", created.json())
    again = api.post("/crm/v3/properties/companies", json=prop)
    assert again.status_code == 409 and again.json()["category"] == "CONFLICT"

    upsert = {"inputs": [{"id": "E-1", "idProperty": "ext_id", "properties": {"name": "One"}}]}
    spec.validate("companies", "BatchInputSimplePublicObjectBatchInputUpsert", upsert)
    first = api.post("/crm/v3/objects/companies/batch/upsert", json=upsert)
    assert first.status_code == 200
    spec.validate("companies", "BatchResponseSimplePublicUpsertObject", first.json())
    assert first.json()["results"][0]["new"] is True
    upsert["inputs"][0]["properties"] = {"name": "One renamed"}
    second = api.post("/crm/v3/objects/companies/batch/upsert", json=upsert).json()
    assert (
        second["results"][0]["new"] is False
        and second["results"][0]["id"] == first.json()["results"][0]["id"]
    )
    assert [r["properties"]["name"] for r in fake.records("companies")] == ["One renamed"]

    other = fake.create("companies", {"name": "Two"})
    clash = api.patch(f"/crm/v3/objects/companies/{other}", json={"properties": {"ext_id": "e-1"}})
    assert clash.status_code == 409 and clash.json()["category"] == "CONFLICT"
    not_unique = {"inputs": [{"id": "x", "idProperty": "name", "properties": {}}]}
    assert api.post("/crm/v3/objects/companies/batch/upsert", json=not_unique).status_code == 400


def test_batch_create_with_inline_associations_and_v4_reads(fake_api, spec):
    fake, api = fake_api
    company = fake.create("companies", {"name": "Acme"})
    body = {
        "inputs": [
            {
                "properties": {"email": "p@acme.dk"},
                "associations": [
                    {
                        "to": {"id": company},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                    }
                ],
            }
        ]
    }
    spec.validate("contacts", "BatchInputSimplePublicObjectBatchInputForCreate", body)
    created = api.post("/crm/v3/objects/contacts/batch/create", json=body)
    assert created.status_code == 201
    spec.validate("contacts", "BatchResponseSimplePublicObject", created.json())
    contact = created.json()["results"][0]["id"]

    read_body = {"inputs": [{"id": contact}]}
    spec.validate("associations", "BatchInputPublicFetchAssociationsBatchRequest", read_body)
    read = api.post("/crm/v4/associations/contacts/companies/batch/read", json=read_body)
    spec.validate("associations", "BatchResponsePublicAssociationMultiWithLabel", read.json())
    types = {t["typeId"] for t in read.json()["results"][0]["to"][0]["associationTypes"]}
    assert types == {279, 1}  # the first company becomes the primary one

    got = api.get(f"/crm/v3/objects/contacts/{contact}", params={"associations": "companies"}).json()
    spec.validate("contacts", "SimplePublicObjectWithAssociations", got)
    assert {"id": company, "type": "contact_to_company"} in got["associations"]["companies"]["results"]

    listed = api.get(f"/crm/v4/objects/companies/{company}/associations/contacts").json()
    spec.validate("associations", "CollectionResponseMultiAssociatedObjectWithLabelForwardPaging", listed)
    assert [r["toObjectId"] for r in listed["results"]] == [contact]

    archive = {"inputs": [{"from": {"id": contact}, "to": [{"id": company}]}]}
    spec.validate("associations", "BatchInputPublicAssociationMultiArchive", archive)
    assert api.post("/crm/v4/associations/contacts/companies/batch/archive", json=archive).status_code == 204
    none = api.post("/crm/v4/associations/contacts/companies/batch/read", json=read_body)
    assert none.status_code == 207 and none.json()["results"] == []
    spec.validate("associations", "BatchResponsePublicAssociationMultiWithLabelWithErrors", none.json())

    put = api.put(f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}")
    assert put.status_code == 200
    spec.validate("associations", "BatchResponsePublicDefaultAssociation", put.json())
    assert {r["associationSpec"]["associationTypeId"] for r in put.json()["results"]} == {279, 280}
    bad = {
        "inputs": [
            {
                "properties": {"email": "q@acme.dk"},
                "associations": [
                    {
                        "to": {"id": "424242"},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                    }
                ],
            }
        ]
    }
    partial = api.post("/crm/v3/objects/contacts/batch/create", json=bad)
    assert partial.status_code == 207 and not partial.json()["results"]
    assert len(fake.records("contacts")) == 1  # a failed association creates nothing


# ------------------------------------------------------------------------------------------ search


def test_search_filters_sorts_and_totals(fake_api, spec):
    fake, api = fake_api
    fake.seed(
        "companies",
        [
            {"name": "Alpha Trading", "city": "Aarhus", "numberofemployees": "5"},
            {"name": "Beta Shipping", "city": "Odense", "numberofemployees": "50"},
            {"name": "Gamma", "city": "Aarhus", "numberofemployees": "500"},
            {"name": "Delta Trading"},
        ],
    )

    def names(body: dict[str, Any]) -> list[str]:
        assert not spec.errors("companies", "PublicObjectSearchRequest", body)
        response = api.post("/crm/v3/objects/companies/search", json=body)
        assert response.status_code == 200, response.text
        spec.validate("companies", "CollectionResponseWithTotalSimplePublicObject", response.json())
        assert "X-HubSpot-RateLimit-Remaining" not in response.headers  # search sends no rate headers
        return [r["properties"]["name"] for r in response.json()["results"]]

    assert names(search_body([{"propertyName": "city", "operator": "EQ", "value": "AARHUS"}])) == [
        "Alpha Trading",
        "Gamma",
    ]
    both = search_body(
        [
            {"propertyName": "city", "operator": "EQ", "value": "aarhus"},
            {"propertyName": "numberofemployees", "operator": "GT", "value": "10"},
        ]
    )
    assert names(both) == ["Gamma"]  # AND within a group
    either = search_body(
        filterGroups=[
            {"filters": [{"propertyName": "city", "operator": "EQ", "value": "odense"}]},
            {"filters": [{"propertyName": "name", "operator": "EQ", "value": "gamma"}]},
        ]
    )
    assert names(either) == ["Beta Shipping", "Gamma"]  # OR across groups
    assert names(
        search_body(
            [{"propertyName": "numberofemployees", "operator": "BETWEEN", "value": "5", "highValue": "50"}]
        )
    ) == ["Alpha Trading", "Beta Shipping"]
    assert names(search_body([{"propertyName": "city", "operator": "NOT_HAS_PROPERTY"}])) == ["Delta Trading"]
    assert names(search_body([{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "trad*"}])) == [
        "Alpha Trading",
        "Delta Trading",
    ]
    # documented: IN on string properties needs lowercase values
    assert names(search_body([{"propertyName": "city", "operator": "IN", "values": ["Aarhus"]}])) == []
    assert names(search_body([{"propertyName": "city", "operator": "IN", "values": ["aarhus"]}])) == [
        "Alpha Trading",
        "Gamma",
    ]
    desc = search_body(sorts=[{"propertyName": "numberofemployees", "direction": "DESCENDING"}], limit=2)
    response = api.post("/crm/v3/objects/companies/search", json=desc).json()
    assert [r["properties"]["name"] for r in response["results"]] == ["Gamma", "Beta Shipping"]
    assert response["total"] == 4 and response["paging"]["next"]["after"] == "2"


def test_search_validation_limits(fake_api):
    _, api = fake_api

    def status(body: dict[str, Any]) -> int:
        return api.post("/crm/v3/objects/companies/search", json=body).status_code

    one = {"propertyName": "name", "operator": "HAS_PROPERTY"}
    assert status(search_body([one])) == 200
    assert status(search_body([one], limit=201)) == 400
    assert status(search_body(filterGroups=[{"filters": [one]}] * 6)) == 400
    assert status(search_body([one] * 7)) == 400
    assert (
        status(search_body(filterGroups=[{"filters": [one] * 6}] * 3 + [{"filters": [one]}])) == 400
    )  # 19 > 18
    assert status(search_body(sorts=[{"propertyName": "name"}, {"propertyName": "city"}])) == 400
    assert status(search_body(after="abc")) == 400
    assert status(search_body([{"propertyName": "nope", "operator": "EQ", "value": "x"}])) == 400


def test_search_cannot_page_past_10000(spec):
    fake, api = make()
    fake.seed("companies", ({"name": f"C{i}"} for i in range(10_050)))
    body = search_body(limit=200, after="9800", properties=["name"])
    page = api.post("/crm/v3/objects/companies/search", json=body)
    assert page.status_code == 200
    assert page.json()["total"] == 10_050 and page.json()["paging"]["next"]["after"] == "10000"
    past = api.post("/crm/v3/objects/companies/search", json={**body, "after": "10000"})
    assert past.status_code == 400
    spec.validate("companies", "Error", past.json())
    assert past.json()["category"] == "VALIDATION_ERROR" and "10000" in past.json()["message"]


# ------------------------------------------------------------------------------------------ auth and limits


def test_auth_errors_follow_the_error_schema(spec):
    fake, api = make()
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        response = api.get("/crm/v3/objects/companies", headers=headers)
        assert response.status_code == 401
        spec.validate("companies", "Error", response.json())
        assert response.json()["category"] == "INVALID_AUTHENTICATION"
        uuid.UUID(response.json()["correlationId"])
    missing = api.get("/crm/v3/objects/companies/424242")
    assert missing.status_code == 404
    spec.validate("companies", "Error", missing.json())
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert fake.stats()["unauthorized"] == 2 and fake.stats()["total"] == 1


def test_ten_second_rolling_limit_headers_and_429_body():
    clock = Clock()
    fake, api = make(rate_limit_per_10s=3, daily_limit=1000, clock=clock)
    remaining = []
    for _ in range(3):
        response = api.get("/crm/v3/objects/companies")
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert response.headers["X-HubSpot-RateLimit-Daily"] == "1000"
        remaining.append(
            (
                response.headers["X-HubSpot-RateLimit-Remaining"],
                response.headers["X-HubSpot-RateLimit-Daily-Remaining"],
            )
        )
    assert remaining == [("2", "999"), ("1", "998"), ("0", "997")]
    clock.advance(4)
    limited = api.get("/crm/v3/objects/companies")
    assert limited.status_code == 429
    body = limited.json()
    assert set(body) == {"status", "message", "errorType", "correlationId", "policyName", "requestId"}
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["status"], body["errorType"], body["policyName"]) == (
        "error",
        "RATE_LIMIT",
        "TEN_SECONDLY_ROLLING",
    )
    assert "Retry-After" not in limited.headers  # HubSpot documents none: the default sends none
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    fake.send_retry_after = True  # the option: a Retry-After in seconds, until the oldest call leaves
    assert api.get("/crm/v3/objects/companies").headers["Retry-After"] == "6"
    clock.advance(6.01)
    assert api.get("/crm/v3/objects/companies").status_code == 200
    assert fake.stats()["rate_limited"] == 2


def test_daily_limit_and_search_secondly_limit():
    clock = Clock()
    _, api = make(daily_limit=2, search_rate_limit_per_s=5, clock=clock, send_retry_after=False)
    assert [api.get("/crm/v3/objects/contacts").status_code for _ in range(3)] == [200, 200, 429]
    daily = api.get("/crm/v3/objects/contacts")
    assert daily.json()["policyName"] == "DAILY" and "Retry-After" not in daily.headers
    statuses = [api.post("/crm/v3/objects/contacts/search", json=search_body()).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = api.post("/crm/v3/objects/contacts/search", json=search_body())
    assert limited.json()["message"] == "You have reached your secondly limit."
    assert not [h for h in limited.headers if h.lower().startswith("x-hubspot-ratelimit")]
    clock.advance(1.01)
    assert api.post("/crm/v3/objects/contacts/search", json=search_body()).status_code == 200


def test_search_shows_writes_only_after_the_indexing_lag():
    clock = Clock()
    fake, api = make(clock=clock)  # default lag: 2 s

    def found() -> dict[str, str | None]:
        body = api.post("/crm/v3/objects/companies/search", json=search_body()).json()
        return {r["id"]: r["properties"]["city"] for r in body["results"]}

    [seeded] = fake.seed("companies", [{"name": "Seeded", "city": "Aarhus"}])
    assert found() == {seeded: "Aarhus"}  # fixtures count as indexed
    created = api.post("/crm/v3/objects/companies", json={"properties": {"name": "New", "city": "Vejle"}})
    new_id = created.json()["id"]
    assert api.get(f"/crm/v3/objects/companies/{new_id}").status_code == 200  # reads are never stale
    assert found() == {seeded: "Aarhus"}  # not indexed yet
    clock.advance(2.0)
    assert found() == {seeded: "Aarhus", new_id: "Vejle"}
    api.patch(f"/crm/v3/objects/companies/{new_id}", json={"properties": {"city": "Kolding"}})
    clock.advance(1.0)
    api.patch(f"/crm/v3/objects/companies/{new_id}", json={"properties": {"city": "Odense"}})
    assert found()[new_id] == "Vejle"  # the old indexed state, old values
    clock.advance(1.0)
    assert found()[new_id] == "Kolding"
    clock.advance(1.0)
    assert found()[new_id] == "Odense"
    assert api.delete(f"/crm/v3/objects/companies/{seeded}").status_code == 204
    assert seeded in found()  # still found until the deletion is indexed
    clock.advance(2.0)
    assert seeded not in found()
    fake.search_index_lag_s = 0  # the option: search sees every write at once
    api.patch(f"/crm/v3/objects/companies/{new_id}", json={"properties": {"city": "Ribe"}})
    assert found() == {new_id: "Ribe"}
    with pytest.raises(ValueError):
        HubSpotFake(TOKEN, search_index_lag_s=-1)


def test_merge_answers_with_a_new_id_and_old_ids_resolve_to_it():
    fake, api = make(search_index_lag_s=0)  # the default, as HubSpot
    assert fake.merge_new_id
    primary = fake.create("companies", {"name": "Keep", "domain": "keep.dk"})
    other = fake.create("companies", {"name": "Dup", "city": "Vejle"})
    contact = fake.create("contacts", {"email": "p@keep.dk"})
    fake.associate(contact, other)
    merged = api.post(
        "/crm/v3/objects/companies/merge", json={"primaryObjectId": primary, "objectIdToMerge": other}
    )
    assert merged.status_code == 200
    new_id = merged.json()["id"]
    assert new_id not in (primary, other)
    assert merged.json()["properties"]["name"] == "Keep"
    for old in (primary, other):  # both old ids read as the merged record, under its new id
        body = api.get(f"/crm/v3/objects/companies/{old}", params={"properties": "city"}).json()
        assert (body["id"], body["properties"]["city"]) == (new_id, "Vejle")
    assert [r["id"] for r in fake.records("companies")] == [new_id]
    links = api.get(f"/crm/v4/objects/contacts/{contact}/associations/companies").json()["results"]
    assert [str(r["toObjectId"]) for r in links] == [new_id]
    assert fake.record("contacts", contact)["properties"]["associatedcompanyid"] == new_id
    [event] = [e for e in fake.events if e["subscriptionType"] == "company.merge"]
    assert (event["objectId"], event["primaryObjectId"], event["mergedObjectIds"], event["newObjectId"]) == (
        int(primary),
        int(primary),
        [int(other)],
        int(new_id),
    )
    keep, api = make(merge_new_id=False)  # the option: the primary keeps its id
    a, b = keep.create("companies", {"name": "A"}), keep.create("companies", {"name": "B"})
    kept = api.post("/crm/v3/objects/companies/merge", json={"primaryObjectId": a, "objectIdToMerge": b})
    assert kept.json()["id"] == a


def test_injected_faults_are_seeded_and_counted():
    fake, api = make(faults=Faults(rate_5xx=1.0))
    assert api.get("/crm/v3/objects/companies").status_code in (500, 502, 503, 504)
    fake, api = make(faults=Faults(rate_429=1.0))
    limited = api.get("/crm/v3/objects/companies")
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING" and "Retry-After" not in limited.headers
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    fake, api = make(faults=Faults(rate_429=1.0, rate_429_interval_ms=200), send_retry_after=True)
    limited = api.get("/crm/v3/objects/companies")
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "200"
    assert limited.headers["Retry-After"] == "1"  # whole seconds, at least 1
    fake, api = make(faults=Faults(rate_5xx_after_commit=1.0))
    response = api.post("/crm/v3/objects/companies", json={"properties": {"name": "X"}, "associations": []})
    assert response.status_code == 504 and len(fake.records("companies")) == 1  # written, then "timed out"
    assert fake.stats()["faults"] == 1


COMPANY = {"properties": {"name": "Chaos A/S"}, "associations": []}


def statuses(api: httpx.Client, n: int) -> list[int]:
    return [api.get("/crm/v3/objects/companies").status_code for _ in range(n)]


def test_rate_timeout_half_is_seeded_and_counted():
    def run(seed: int, **kw: Any) -> tuple[list[int], dict[str, Any]]:
        fake, api = make(faults=Faults(rate_timeout=0.5, timeout_s=0.0, seed=seed), **kw)
        api.post("/crm/v3/objects/companies", json=COMPANY)
        result = statuses(api, 200), fake.stats()
        assert fake.spec_violations == []  # the answers that are not faults still follow the spec
        return result

    first, stats = run(11, strict_spec=True)
    timeouts = first.count(504)
    assert set(first) == {200, 504} and 70 <= timeouts <= 130
    assert stats["timeouts"] == stats["faults"] >= timeouts
    assert stats["reads"] == 200 - timeouts  # a timed-out call never reached the handler
    assert run(11)[0] == first  # same seed, same calls time out
    assert run(12)[0] != first


def test_random_latency_is_seeded_and_counted():
    fake, api = make(faults=Faults(latency_max_s=0.01, seed=3))
    started = time.monotonic()
    assert statuses(api, 30) == [200] * 30
    elapsed = time.monotonic() - started
    stats = fake.stats()
    assert stats["slow_replies"] == 30 and 0 < stats["added_latency_s"] <= 0.3
    assert elapsed >= stats["added_latency_s"]
    again, api = make(faults=Faults(latency_max_s=0.01, seed=3))
    statuses(api, 30)
    assert again.stats()["added_latency_s"] == stats["added_latency_s"]
    # random latency has its own RNG stream: switching it on does not move the other faults
    _, api = make(faults=Faults(rate_5xx=0.3, seed=5))
    _, slow_api = make(faults=Faults(rate_5xx=0.3, latency_max_s=0.001, seed=5))
    assert statuses(api, 40) == statuses(slow_api, 40)


def test_faults_switch_at_runtime_and_reseed():
    fake, api = make()
    statuses(api, 7)  # draws nothing: faults are off
    fake.faults = Faults(rate_5xx=0.5, seed=4)
    switched_on = statuses(api, 40)
    _, fresh_api = make(faults=Faults(rate_5xx=0.5, seed=4))
    assert switched_on == statuses(fresh_api, 40) and set(switched_on) != {200}
    assert fake.set_faults(rate_5xx=0.0, rate_429=1.0).rate_429 == 1.0  # change single fields
    assert api.get("/crm/v3/objects/companies").status_code == 429
    fake.set_faults(Faults())  # off for the final comparison
    assert statuses(api, 20) == [200] * 20
    # the HTTP control surface does the same (no auth, not counted)
    control = api.put("/_fake/faults", json={"rate_timeout": 1.0, "timeout_s": 0.0, "seed": 9})
    assert control.status_code == 200 and fake.faults == Faults(rate_timeout=1.0, timeout_s=0.0, seed=9)
    assert api.get("/crm/v3/objects/companies").status_code == 504
    assert api.put("/_fake/faults", json={"rate_429": 2}).status_code == 400
    assert api.put("/_fake/faults", json={}).json() == api.get("/_fake/faults").json()
    assert fake.faults == Faults()
    with pytest.raises(ValueError):
        Faults(rate_timeout=-0.1)


def test_faults_off_change_nothing():
    def run(**kw: Any) -> tuple[list[Any], dict[str, Any]]:
        fake, api = make(**kw)
        out = [api.post("/crm/v3/objects/companies", json=COMPANY).json()["id"] for _ in range(5)]
        out += statuses(api, 20)
        stats = fake.stats()
        return out, {k: stats[k] for k in ("faults", "timeouts", "timeouts_after_commit", "slow_replies")}

    baseline = run()
    assert baseline[1] == {"faults": 0, "timeouts": 0, "timeouts_after_commit": 0, "slow_replies": 0}
    assert run(faults=Faults(seed=99)) == baseline
    assert run(faults=Faults(timeout_s=0.0, latency_max_s=0.0, webhook_reorder=False)) == baseline


# ------------------------------------------------------------------------------------------ properties


def test_properties_api(fake_api, spec):
    fake, api = fake_api
    listed = api.get("/crm/v3/properties/contacts")
    spec.validate("properties", "CollectionResponsePropertyNoPaging", listed.json())
    names = {p["name"] for p in listed.json()["results"]}
    assert {"firstname", "lastname", "email", "jobtitle", "lifecyclestage", "hs_additional_emails"} <= names
    one = api.get("/crm/v3/properties/companies/name")
    spec.validate("properties", "Property", one.json())
    assert api.get("/crm/v3/properties/companies/nope").status_code == 404
    bad_type = {
        "name": "x_flag",
        "label": "X",
        "type": "boolean",
        "fieldType": "booleancheckbox",
        "groupName": "companyinformation",
    }
    assert api.post("/crm/v3/properties/companies", json=bad_type).status_code == 400
    no_group = {**bad_type, "type": "bool", "groupName": "crmsync"}
    assert api.post("/crm/v3/properties/companies", json=no_group).status_code == 400
    group = api.post("/crm/v3/properties/companies/groups", json={"name": "crmsync", "label": "crmsync"})
    assert group.status_code == 201
    spec.validate("properties", "PropertyGroup", group.json())
    spec.validate(
        "properties", "PropertyGroup", api.get("/crm/v3/properties/companies/groups/crmsync").json()
    )
    assert api.post("/crm/v3/properties/companies", json=no_group).status_code == 201
    flag = fake.create("companies", {"name": "A"})
    assert (
        api.patch(f"/crm/v3/objects/companies/{flag}", json={"properties": {"x_flag": "maybe"}}).status_code
        == 400
    )
    assert (
        api.patch(f"/crm/v3/objects/companies/{flag}", json={"properties": {"x_flag": "true"}}).status_code
        == 200
    )


# ------------------------------------------------------------------------------------------ webhooks


class Receiver:
    """A webhook endpoint (WSGI) that records deliveries and can fail the first N of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict[str, str], str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append((dict(request.headers), request.get_data(as_text=True)))
            status = 500 if len(self.received) <= self.fail_first else 204
        return Response(status=status)(environ, start_response)


def webhook_fake(receiver: Receiver, **kw: Any) -> tuple[HubSpotFake, httpx.Client]:
    client = httpx.Client(transport=httpx.WSGITransport(app=receiver))
    return make(
        target_url=TARGET, client_secret=SDK_SECRET, webhook_client=client, webhook_retry_delay=0.01, **kw
    )


def test_webhook_batches_are_signed_v3_and_under_100_events(spec):
    receiver = Receiver()
    fake, api = webhook_fake(receiver)
    inputs = [{"properties": {"name": f"C{i}", "city": "Aarhus"}, "associations": []} for i in range(40)]
    assert api.post("/crm/v3/objects/companies/batch/create", json={"inputs": inputs}).status_code == 201
    cid = fake.records("companies")[0]["id"]
    before = fake.stats()["total"]
    fake.edit("companies", cid, {"city": "Odense"})
    assert fake.stats()["total"] == before  # a UI edit is not an API call
    assert fake.flush_webhooks(5)
    events = []
    for headers, body in receiver.received:
        timestamp = headers["X-Hubspot-Request-Timestamp"]
        assert headers["X-Hubspot-Signature-V3"] == sign_v3(SDK_SECRET, "POST", TARGET, body, timestamp)
        batch = json.loads(body)
        assert isinstance(batch, list) and 0 < len(batch) < 100
        events += batch
    assert len(events) == 40 * 3 + 1 and len(receiver.received) >= 2
    creation = next(e for e in events if e["subscriptionType"] == "company.creation")
    assert creation["changeFlag"] == "NEW" and creation["changeSource"] == "INTEGRATION"
    for key in ("objectId", "eventId", "subscriptionId", "portalId", "appId", "occurredAt", "attemptNumber"):
        assert isinstance(creation[key], int)
    edit = [e for e in events if e.get("changeSource") == "CRM_UI"]
    assert len(edit) == 1 and edit[0]["subscriptionType"] == "company.propertyChange"
    assert (edit[0]["objectId"], edit[0]["propertyName"], edit[0]["propertyValue"]) == (
        int(cid),
        "city",
        "Odense",
    )


def test_webhook_retries_with_fresh_timestamp_and_attempt_number():
    receiver = Receiver(fail_first=1)
    fake, _ = webhook_fake(receiver, clock=Clock(step=0.25))
    fake.create("contacts", {"email": "x@y.dk"})
    assert fake.flush_webhooks(5)
    assert len(receiver.received) == 2
    (h1, b1), (h2, b2) = receiver.received
    assert int(h2["X-Hubspot-Request-Timestamp"]) > int(h1["X-Hubspot-Request-Timestamp"])
    assert [e["attemptNumber"] for e in json.loads(b1)] == [0, 0]
    assert [e["attemptNumber"] for e in json.loads(b2)] == [1, 1]
    assert h2["X-Hubspot-Signature-V3"] == sign_v3(
        SDK_SECRET, "POST", TARGET, b2, h2["X-Hubspot-Request-Timestamp"]
    )
    assert [d.status for d in fake.deliveries] == [500, 204]


def test_webhook_faults_drop_and_duplicate():
    receiver = Receiver()
    fake, _ = webhook_fake(receiver, faults=Faults(webhook_duplicate_rate=1.0, webhook_reorder=True, seed=3))
    fake.create("companies", {"name": "Dup"})
    assert fake.flush_webhooks(5)
    delivered = [e["eventId"] for _, body in receiver.received for e in json.loads(body)]
    assert len(delivered) == 4 and len(set(delivered)) == 2
    receiver = Receiver()
    fake, _ = webhook_fake(receiver, faults=Faults(webhook_drop_rate=1.0))
    fake.create("companies", {"name": "Gone"})
    assert fake.flush_webhooks(5)
    assert receiver.received == [] and len(fake.events) == 2


def delivered_ids(receiver: Receiver) -> list[int]:
    return [e["eventId"] for _, body in receiver.received for e in json.loads(body)]


def test_webhook_drop_duplicate_and_reorder_are_seeded_and_counted():
    inputs = [{"properties": {"name": f"C{i}"}, "associations": []} for i in range(60)]

    def run(seed: int) -> tuple[HubSpotFake, list[int]]:
        receiver = Receiver()
        faults = Faults(webhook_drop_rate=0.3, webhook_duplicate_rate=0.3, webhook_reorder=True, seed=seed)
        fake, api = webhook_fake(receiver, faults=faults)
        api.post("/crm/v3/objects/companies/batch/create", json={"inputs": inputs})  # 120 events
        assert fake.flush_webhooks(5)
        return fake, delivered_ids(receiver)

    fake, delivered = run(2)
    hooks = fake.stats()["webhooks"]
    produced = [e["eventId"] for e in fake.events]
    assert len(produced) == 120 and hooks["events"] == 120
    assert 15 <= hooks["dropped"] <= 60 and 10 <= hooks["duplicated"] <= 50
    assert len(delivered) == 120 - hooks["dropped"] + hooks["duplicated"]
    assert len(set(delivered)) == 120 - hooks["dropped"]  # a dropped event never arrives, not even late
    assert delivered != sorted(delivered) and hooks["reordered"] == 2  # batches of 99 + the rest
    assert hooks["given_up"] == 0 and hooks["pending"] == 0
    assert run(2)[1] == delivered  # same seed: same drops, duplicates and order
    assert run(3)[1] != delivered


def test_failed_webhook_batches_are_given_up_after_the_retries():
    receiver = Receiver(fail_first=100)
    fake, _ = webhook_fake(receiver, webhook_max_attempts=3)
    fake.create("companies", {"name": "Unreachable"})
    assert fake.flush_webhooks(5)
    hooks = fake.stats()["webhooks"]
    assert len(receiver.received) == 3 and hooks["failed_deliveries"] == 3 and hooks["given_up"] == 1
    assert (hooks["dropped"], hooks["duplicated"], hooks["reordered"]) == (0, 0, 0)


def test_webhooks_without_faults_arrive_once_in_order():
    receiver = Receiver()
    fake, api = webhook_fake(receiver, faults=Faults(seed=5))
    inputs = [{"properties": {"name": f"C{i}"}, "associations": []} for i in range(10)]
    api.post("/crm/v3/objects/companies/batch/create", json={"inputs": inputs})
    assert fake.flush_webhooks(5)
    assert delivered_ids(receiver) == [e["eventId"] for e in fake.events]
    hooks = fake.stats()["webhooks"]
    assert (hooks["dropped"], hooks["duplicated"], hooks["reordered"], hooks["given_up"]) == (0, 0, 0, 0)


def test_association_changes_fire_for_both_sides():
    fake, api = make()
    company = fake.create("companies", {"name": "Acme"})
    contact = fake.create("contacts", {"email": "p@acme.dk"})
    fake.events.clear()
    api.put(f"/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}")
    kinds = {(e["associationType"], e["isPrimaryAssociation"]) for e in fake.events}
    assert kinds == {
        ("CONTACT_TO_COMPANY", False),
        ("COMPANY_TO_CONTACT", False),
        ("CONTACT_TO_COMPANY", True),
        ("COMPANY_TO_CONTACT", True),
    }


# ------------------------------------------------------------------------------------------ connector bodies


def test_connector_request_bodies_validate_against_the_spec(spec):
    fake, _ = make(strict_spec=True, search_index_lag_s=0)
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    hs = HubSpotConnector("c1", TOKEN, client=client, retry=RetryPolicy(sleep=lambda _: None))
    hs.ensure_setup()
    company = hs.write(
        ObjectType.CUSTOMER, [WriteItem(record_id="r1", fields={"name": "Acme", "barred": True})]
    )
    cid = company[0].external_id
    contact = hs.write(
        ObjectType.CONTACT,
        [WriteItem(record_id="p1", fields={"name": "Jo Doe", "email": "j@a.dk"}, parent_external_id=cid)],
    )
    other = hs.write(ObjectType.CUSTOMER, [WriteItem(record_id="r2", fields={"name": "Beta"})])
    hs.write(
        ObjectType.CONTACT,
        [
            WriteItem(
                record_id="p1",
                external_id=contact[0].external_id,
                fields={"title": "CFO"},
                parent_external_id=other[0].external_id,
            )
        ],
    )
    from datetime import UTC, datetime

    assert len(list(hs.changed_since(ObjectType.CONTACT, datetime(2020, 1, 1, tzinfo=UTC)))) == 1
    assert hs.get_many(ObjectType.CUSTOMER, [cid, "404"]).keys() == {cid}
    assert len(hs.contacts_of(other[0].external_id)) == 1
    components = {
        "/crm/v3/objects/companies/batch/upsert": (
            "companies",
            "BatchInputSimplePublicObjectBatchInputUpsert",
        ),
        "/crm/v3/objects/contacts/batch/update": ("contacts", "BatchInputSimplePublicObjectBatchInput"),
        "/crm/v3/objects/contacts/search": ("contacts", "PublicObjectSearchRequest"),
        "/crm/v3/objects/companies/batch/read": ("companies", "BatchReadInputSimplePublicObjectId"),
        "/crm/v3/properties/companies": ("properties", "PropertyCreate"),
        "/crm/v3/properties/companies/groups": ("properties", "PropertyGroupCreate"),
        "/crm/v4/associations/contacts/companies/batch/create": (
            "associations",
            "BatchInputPublicAssociationMultiPost",
        ),
        "/crm/v4/associations/contacts/companies/batch/read": (
            "associations",
            "BatchInputPublicFetchAssociationsBatchRequest",
        ),
        "/crm/v4/associations/contacts/companies/batch/archive": (
            "associations",
            "BatchInputPublicAssociationMultiArchive",
        ),
    }
    checked = set()
    for entry in fake.request_log:
        if entry["path"] in components and entry["json"] is not None:
            spec.validate(*components[entry["path"]], entry["json"])
            checked.add(entry["path"])
    assert checked == set(components)
    assert fake.spec_violations == []


def test_strict_mode_reports_bodies_that_break_the_spec():
    fake, api = make(strict_spec=True)
    api.post("/crm/v3/objects/companies/search", json={"filterGroups": [], "sorts": [42], "limit": 1})
    assert any("PublicObjectSearchRequest" in v for v in fake.spec_violations)
