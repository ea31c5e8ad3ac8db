"""The HubSpot fake's notes, owners, company hierarchy and property batch create, against HubSpot's own
OpenAPI specs (vendor-specs/hubspot: crm-notes-v3, crm-owners-v3, crm-associations-v4, crm-properties-v3)
and the facts in reference/next/hubspot-accounting-facts-and-journal.md (sections 2 and 4).

Every request and response here is checked against the operation's schema in the spec (``check``), and
the fakes run with ``strict_spec`` so nothing they answer drifts from it unseen.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from local.fakes.hubspot import HubSpotFake, SpecValidator

TOKEN = "pat-na1-journal"
NOTE_TO_COMPANY = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}]


@pytest.fixture(scope="module")
def spec() -> SpecValidator:
    return SpecValidator()


class Api:
    """A strict fake and a client; ``call`` validates the request and the answer against the spec."""

    def __init__(self, spec: SpecValidator, **kw: Any) -> None:
        kw.setdefault("rate_limit_per_10s", None)
        kw.setdefault("search_rate_limit_per_s", None)
        self.spec = spec
        self.fake = HubSpotFake(TOKEN, strict_spec=True, **kw)
        self.client = httpx.Client(
            transport=httpx.WSGITransport(app=self.fake.app),
            base_url="https://api.hubapi.com",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        if body is not None:
            assert self.spec.request_errors(method, path, body) == []
        response = self.client.request(method, path, json=body, params=params or None)
        payload = response.json() if response.content else None
        if payload is not None:
            assert self.spec.response_errors(method, path, response.status_code, payload) == []
        return response

    def note(
        self, company_id: str, body: str = "e-conomic: invoice 1042 booked", **props: str
    ) -> dict[str, Any]:
        return {
            "properties": {"hs_timestamp": "2024-01-15T10:30:00.000Z", "hs_note_body": body, **props},
            "associations": [{"to": {"id": company_id}, "types": NOTE_TO_COMPANY}],
        }


@pytest.fixture
def api(spec: SpecValidator) -> Any:
    harness = Api(spec)
    yield harness
    assert harness.fake.spec_violations == []


# -- notes ---------------------------------------------------------------------------------------------


def test_note_create_is_associated_and_fires_no_company_webhook(api):
    company = api.fake.create("companies", {"name": "Acme"})
    before = api.fake.record("companies", company)
    events = len(api.fake.events)
    r = api.call("POST", "/crm/v3/objects/notes", api.note(company, "<b>booked</b>"))
    assert r.status_code == 201
    note = r.json()
    assert note["properties"]["hs_note_body"] == "<b>booked</b>"
    assert note["properties"]["hs_timestamp"] == "2024-01-15T10:30:00.000Z"
    assert [n["id"] for n in api.fake.company_notes(company)] == [note["id"]]
    assert len(api.fake.events) == events  # an engagement, not a company change
    assert api.fake.record("companies", company)["updatedAt"] == before["updatedAt"]

    got = api.call(
        "GET", f"/crm/v3/objects/notes/{note['id']}", associations="companies", properties="hs_note_body"
    )
    assert got.status_code == 200
    assert got.json()["associations"]["companies"]["results"][0]["id"] == company
    assert api.call("GET", "/crm/v3/objects/notes/424242").status_code == 404


def test_note_rules_timestamp_required_body_limit_and_target(api):
    company = api.fake.create("companies", {"name": "Acme"})
    no_time = api.note(company)
    del no_time["properties"]["hs_timestamp"]
    r = api.call("POST", "/crm/v3/objects/notes", no_time)
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    assert "hs_timestamp" in r.json()["message"]

    assert api.call("POST", "/crm/v3/objects/notes", api.note(company, "x" * 65_536)).status_code == 201
    r = api.call("POST", "/crm/v3/objects/notes", api.note(company, "x" * 65_537))
    assert r.status_code == 400 and "65536" in r.json()["message"]

    r = api.call("POST", "/crm/v3/objects/notes", api.note("999"))
    assert r.status_code == 400
    assert r.json()["subCategory"] == "crm.associations.INVALID_OBJECT_IDS"
    assert r.json()["context"] == {"toObjectId": ["999"]}

    wrong = api.note(company)
    wrong["associations"][0]["types"] = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]
    assert api.call("POST", "/crm/v3/objects/notes", wrong).status_code == 400
    assert len(api.fake.company_notes(company)) == 1


def test_note_owner_must_exist_once_the_portal_has_owners(api):
    company = api.fake.create("companies", {"name": "Acme"})
    owner = api.fake.add_owner("anna@acme.dk", "Anna", "Berg")
    assert (
        api.call("POST", "/crm/v3/objects/notes", api.note(company, hubspot_owner_id=owner)).status_code
        == 201
    )
    r = api.call("POST", "/crm/v3/objects/notes", api.note(company, hubspot_owner_id="1"))
    assert r.status_code == 400 and "owner" in r.json()["message"]


def test_note_batch_create_limit_trace_ids_and_whole_batch_refusal(api):
    company = api.fake.create("companies", {"name": "Acme"})
    inputs = [{**api.note(company, f"entry {i}"), "objectWriteTraceId": str(i)} for i in range(100)]
    r = api.call("POST", "/crm/v3/objects/notes/batch/create", {"inputs": inputs})
    assert r.status_code == 201
    assert sorted(int(n["objectWriteTraceId"]) for n in r.json()["results"]) == list(range(100))
    assert len(api.fake.company_notes(company)) == 100

    too_many = [api.note(company)] * 101
    r = api.call("POST", "/crm/v3/objects/notes/batch/create", {"inputs": too_many})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"

    mixed = [api.note(company, "fine"), api.note("999", "to nowhere")]
    r = api.call("POST", "/crm/v3/objects/notes/batch/create", {"inputs": mixed})
    assert r.status_code == 400  # validated before anything is written
    assert len(api.fake.company_notes(company)) == 100


def test_company_notes_read_through_v4_associations(api, spec):
    company = api.fake.create("companies", {"name": "Acme"})
    other = api.fake.create("companies", {"name": "Other"})
    ids = [
        api.call("POST", "/crm/v3/objects/notes", api.note(company, f"n{i}")).json()["id"] for i in range(3)
    ]
    r = api.call("GET", f"/crm/v4/objects/companies/{company}/associations/notes")
    assert [t["toObjectId"] for t in r.json()["results"]] == ids
    assert {s["typeId"] for t in r.json()["results"] for s in t["associationTypes"]} == {189}
    r = api.call("POST", "/crm/v4/associations/notes/companies/batch/read", {"inputs": [{"id": ids[0]}]})
    assert r.json()["results"][0]["to"][0] == {
        "toObjectId": company,
        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 190}],
    }
    r = api.call("POST", "/crm/v4/associations/companies/notes/batch/read", {"inputs": [{"id": other}]})
    assert r.status_code == 207 and r.json()["results"] == []


# -- owners --------------------------------------------------------------------------------------------


def test_owners_paging_filters_and_shape(api):
    ids = [api.fake.add_owner(f"user{i}@acme.dk", f"First{i}", f"Last{i}") for i in range(5)]
    queue = api.fake.add_owner(None, None, None, owner_type="QUEUE")
    gone = api.fake.add_owner("gone@acme.dk", "Gone", "User")
    api.fake.archive_owner(gone)
    seen: list[str] = []
    after: str | None = None
    while True:
        r = api.call("GET", "/crm/v3/owners", **({"limit": 2} | ({"after": after} if after else {})))
        seen += [o["id"] for o in r.json()["results"]]
        after = (r.json().get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == [*ids, queue]
    first = api.call("GET", "/crm/v3/owners", email="USER0@acme.dk").json()["results"]
    assert [(o["id"], o["firstName"], o["lastName"], o["type"]) for o in first] == [
        (ids[0], "First0", "Last0", "PERSON")
    ]
    assert isinstance(first[0]["userId"], int)
    archived = api.call("GET", "/crm/v3/owners", archived="true").json()["results"]
    assert [o["id"] for o in archived] == [gone] and archived[0]["archived"] is True
    assert api.call("GET", f"/crm/v3/owners/{ids[1]}").json()["email"] == "user1@acme.dk"
    assert api.call("GET", "/crm/v3/owners/1").status_code == 404


# -- company hierarchy ---------------------------------------------------------------------------------


def test_parent_and_child_read_as_one_list_told_apart_by_type(spec):
    api = Api(spec, subscriptions=[("company.associationChange", None)])
    parent = api.fake.create("companies", {"name": "Group"})
    child = api.fake.create("companies", {"name": "Subsidiary"})
    sibling = api.fake.create("companies", {"name": "Partner"})
    api.fake.set_parent_company(child, parent)
    kinds = {(e["fromObjectId"], e["associationType"]) for e in api.fake.events}
    assert (int(parent), "PARENT_COMPANY_TO_CHILD_COMPANY") in kinds
    assert (int(child), "CHILD_COMPANY_TO_PARENT_COMPANY") in kinds
    assert api.fake.events[-1]["changeSource"] == "CRM_UI"

    r = api.call(
        "PUT",
        f"/crm/v4/objects/companies/{parent}/associations/companies/{sibling}",
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 450}],
    )
    assert r.status_code == 201 and r.json()["labels"] == []

    listed = api.call("GET", f"/crm/v4/objects/companies/{parent}/associations/companies").json()["results"]
    types = {t["toObjectId"]: {s["typeId"] for s in t["associationTypes"]} for t in listed}
    assert types == {child: {13, 450}, sibling: {450}}
    r = api.call("POST", "/crm/v4/associations/companies/companies/batch/read", {"inputs": [{"id": child}]})
    (result,) = r.json()["results"]
    assert result["to"] == [
        {
            "toObjectId": parent,
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 14, "label": "Parent Company"},
                {"category": "HUBSPOT_DEFINED", "typeId": 450},
            ],
        }
    ]
    assert api.fake.spec_violations == []


def test_put_writes_parent_both_ways_replaces_and_refuses_loops(api):
    a, b, c = (api.fake.create("companies", {"name": n}) for n in "ABC")
    r = api.call(
        "PUT",
        f"/crm/v4/objects/companies/{a}/associations/companies/{b}",
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 13}],
    )
    assert r.status_code == 201 and r.json()["labels"] == ["Child Company"]
    assert api.fake.parent_company(b) == a
    r = api.call(
        "PUT",
        f"/crm/v4/objects/companies/{b}/associations/companies/{c}",
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 14}],
    )
    assert r.status_code == 201 and api.fake.parent_company(b) == c  # at most one parent: replaced
    loop = api.call(
        "PUT",
        f"/crm/v4/objects/companies/{b}/associations/companies/{c}",
        [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 13}],
    )
    assert loop.status_code == 400
    assert (
        api.call(
            "PUT",
            f"/crm/v4/objects/companies/{a}/associations/companies/{a}",
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 13}],
        ).status_code
        == 400
    )
    assert api.call("DELETE", f"/crm/v4/objects/companies/{c}/associations/companies/{b}").status_code == 204
    assert api.fake.parent_company(b) is None
    listed = api.call("GET", f"/crm/v4/objects/companies/{b}/associations/companies").json()["results"]
    assert [t["toObjectId"] for t in listed] == [a]  # the old parent link stays unlabeled


def test_archiving_a_company_drops_its_hierarchy(api):
    parent, child = api.fake.create("companies", {"name": "P"}), api.fake.create("companies", {"name": "C"})
    api.fake.set_parent_company(child, parent)
    api.fake.delete("companies", parent)
    assert api.fake.parent_company(child) is None
    r = api.call("POST", "/crm/v4/associations/companies/companies/batch/read", {"inputs": [{"id": child}]})
    assert r.status_code == 207 and r.json()["results"] == []
    with pytest.raises(KeyError):
        api.fake.set_parent_company(child, "999")


# -- properties batch create ---------------------------------------------------------------------------


def test_property_batch_create_reports_clashes_per_input(api):
    api.call("POST", "/crm/v3/properties/companies/groups", {"name": "crmsync", "label": "crmsync"})
    inputs = [
        {
            "name": "crmsync_open_balance",
            "label": "Open balance",
            "type": "number",
            "fieldType": "number",
            "groupName": "crmsync",
        },
        {"name": "name", "label": "Name", "type": "string", "fieldType": "text", "groupName": "crmsync"},
    ]
    r = api.call("POST", "/crm/v3/properties/companies/batch/create", {"inputs": inputs})
    assert r.status_code == 207
    assert [p["name"] for p in r.json()["results"]] == ["crmsync_open_balance"]
    assert r.json()["errors"][0]["category"] == "CONFLICT"
    assert r.json()["errors"][0]["context"]["name"] == ["name"]
    r = api.call("POST", "/crm/v3/properties/companies/batch/create", {"inputs": inputs[:1]})
    assert r.status_code == 207
    ok = api.call(
        "POST",
        "/crm/v3/properties/companies/batch/create",
        {"inputs": [{**inputs[0], "name": "crmsync_last_invoice_date", "type": "date", "fieldType": "date"}]},
    )
    assert ok.status_code == 201
    assert ok.json()["results"][0]["modificationMetadata"]["readOnlyValue"] is False
