"""HubSpotConnector against the in-process HubSpot fake (strict OpenAPI checking on every call)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Response

from crmsync.connectors.base import (
    AuthError,
    ConflictError,
    Connector,
    NotFoundError,
    RateLimitedError,
    TransientError,
    VendorRefusedError,
    WriteItem,
)
from crmsync.connectors.http import RetryPolicy
from crmsync.connectors.hubspot import HubSpotConnector, hubspot_error, split_name
from crmsync.models import ObjectType, Side
from local.fakes.hubspot import Faults, HubSpotFake, iso_ms

TOKEN = "pat-na1-integration"
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A fake, a connector wired to it in-process, and a sleep recorder that moves the fake's clock."""

    def __init__(self, app: Any = None, **kw: Any) -> None:
        kw.setdefault("rate_limit_per_10s", None)
        kw.setdefault("search_rate_limit_per_s", None)
        kw.setdefault("strict_spec", True)  # always validate against the official specs
        self.clock = Clock()
        self.fake = HubSpotFake(TOKEN, clock=self.clock, **kw)
        self.sleeps: list[float] = []
        transport = httpx.WSGITransport(app=app(self.fake.app) if app else self.fake.app)
        self.client = httpx.Client(transport=transport)
        self.hs = self.connector()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds

    def connector(self, token: str = TOKEN) -> HubSpotConnector:
        return HubSpotConnector("hs-1", token, client=self.client, retry=RetryPolicy(sleep=self.sleep))

    def bodies(self, template: str) -> list[Any]:
        return [e["json"] for e in self.fake.request_log if f"{e['method']} {e['template']}" == template]

    def tick(self, ms: int = 1) -> None:
        self.clock.now += ms / 1000


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    assert harness.fake.spec_violations == []


def company(h: Harness, record_id: str, **fields: Any) -> str:
    result = h.hs.write(CUSTOMER, [WriteItem(record_id=record_id, fields={"name": record_id, **fields})])[0]
    assert result.ok, result.error
    assert result.external_id is not None
    return result.external_id


# ------------------------------------------------------------------------------------------ contract


def test_is_a_crm_connector_with_the_documented_fields(h):
    assert isinstance(h.hs, Connector) and h.hs.side is Side.CRM
    assert "barred" in h.hs.supported_fields(CUSTOMER) and "customer_number" in h.hs.supported_fields(
        CUSTOMER
    )
    assert {"external_number", "account_manager"} <= h.hs.supported_fields(CUSTOMER)
    assert h.hs.supported_fields(CONTACT) == {"name", "email", "phone", "title", "lifecycle_stage"}
    assert split_name("Anna Marie  Jensen") == ("Anna Marie", "Jensen")
    assert split_name("Cher") == ("Cher", "") and split_name(None) == ("", "")


def test_ensure_setup_creates_group_and_properties_once(h):
    h.hs.ensure_setup()
    created = h.fake.calls("POST", "/crm/v3/properties/companies")
    assert created == 11 and h.fake.calls("POST", "/crm/v3/properties/contacts") == 1
    assert h.fake.calls("POST", "/crm/v3/properties/companies/groups") == 1
    props = {
        p["name"]: p
        for p in h.client.get(
            "https://api.hubapi.com/crm/v3/properties/companies", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()["results"]
    }
    assert (
        props["crmsync_record_id"]["hasUniqueValue"] is True
        and props["crmsync_record_id"]["groupName"] == "crmsync"
    )
    assert (props["crmsync_barred"]["type"], props["crmsync_barred"]["fieldType"]) == (
        "bool",
        "booleancheckbox",
    )
    external = props["crmsync_external_number"]
    assert (external["type"], external["fieldType"], external["label"], external["groupName"]) == (
        "string",
        "text",
        "External number",
        "crmsync",
    )
    assert external["hasUniqueValue"] is False
    total = h.fake.stats()["total"]
    h.hs.ensure_setup()
    assert h.fake.stats()["total"] == total  # cached per instance: no call at all
    h.connector().ensure_setup()
    assert h.fake.stats()["total"] == total + 2  # a new instance only lists the two property sets
    assert h.fake.calls("POST", "/crm/v3/properties/companies") == created


def test_ensure_setup_refuses_a_non_unique_record_id_property(h):
    h.client.post(
        "https://api.hubapi.com/crm/v3/properties/contacts",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={
            "name": "crmsync_record_id",
            "label": "x",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    with pytest.raises(VendorRefusedError, match="hasUniqueValue"):
        h.hs.ensure_setup()


# ------------------------------------------------------------------------------------------ writes


def test_create_via_upsert_is_idempotent(h):
    h.hs.ensure_setup()
    first = h.hs.write(
        CUSTOMER, [WriteItem(record_id="rec-1", fields={"name": "Acme", "customer_number": "1001"})]
    )
    again = h.connector().write(CUSTOMER, [WriteItem(record_id="rec-1", fields={"name": "Acme A/S"})])
    assert first[0].ok and again[0].ok and first[0].external_id == again[0].external_id
    records = h.fake.records("companies")
    assert len(records) == 1
    assert records[0]["properties"]["crmsync_record_id"] == "rec-1"
    assert (
        records[0]["properties"]["name"] == "Acme A/S"
        and records[0]["properties"]["crmsync_customer_number"] == "1001"
    )
    assert h.fake.calls("POST", "/crm/v3/objects/companies/batch/create") == 0
    body = h.bodies("POST /crm/v3/objects/companies/batch/upsert")[0]
    assert body["inputs"][0] == {
        "id": "rec-1",
        "idProperty": "crmsync_record_id",
        "objectWriteTraceId": "rec-1",
        "properties": {"name": "Acme", "crmsync_customer_number": "1001"},
    }
    record = first[0].record
    assert record is not None and record.fields == {"name": "Acme", "customer_number": "1001"}
    assert record.modified_at is not None and first[0].request_id


def test_a_create_whose_response_was_lost_is_not_duplicated(h):
    h.hs.ensure_setup()
    h.fake.faults = Faults(rate_5xx_after_commit=1.0)  # every attempt commits, then answers 504
    lost = h.hs.write(CUSTOMER, [WriteItem(record_id="rec-9", fields={"name": "Lost"})])
    assert not lost[0].ok and lost[0].retryable and lost[0].error_code == "INTERNAL_ERROR"
    assert h.fake.calls("POST", "/crm/v3/objects/companies/batch/upsert") == 4  # VendorHttp retried
    h.fake.faults = Faults()
    retried = h.hs.write(CUSTOMER, [WriteItem(record_id="rec-9", fields={"name": "Lost"})])
    assert retried[0].ok and len(h.fake.records("companies")) == 1


def test_contact_created_with_its_company_association(h):
    h.hs.ensure_setup()
    cid = company(h, "acme")
    result = h.hs.write(
        CONTACT,
        [
            WriteItem(
                record_id="p-1",
                fields={"name": "Anna Marie Jensen", "email": "a@acme.dk", "title": "CFO"},
                parent_external_id=cid,
            )
        ],
    )[0]
    assert result.ok and result.record is not None and result.record.parent_external_id == cid
    assert result.record.fields == {"name": "Anna Marie Jensen", "email": "a@acme.dk", "title": "CFO"}
    contact = h.fake.record("contacts", result.external_id)
    assert (
        contact["properties"]["firstname"] == "Anna Marie" and contact["properties"]["lastname"] == "Jensen"
    )
    assert contact["associations"] == {"companies": [cid]}
    assert contact["properties"]["associatedcompanyid"] == cid  # primary
    assert contact["properties"]["crmsync_record_id"] == "p-1"
    (created,) = h.bodies("POST /crm/v3/objects/contacts/batch/create")[0]["inputs"]
    (link,) = created["associations"]
    assert link["to"] == {"id": cid} and {t["associationTypeId"] for t in link["types"]} == {279, 1}
    assert h.fake.calls("POST", "/crm/v3/objects/contacts/batch/create") == 1, "one call: contact + link"
    assert h.fake.calls("POST", "/crm/v4/associations/contacts/companies/batch/create") == 0
    assert h.fake.calls("POST", "/crm/v4/associations/contacts/companies/batch/read") == 0
    got = h.hs.get(CONTACT, result.external_id)
    assert got is not None and got.parent_external_id == cid and got.fields["name"] == "Anna Marie Jensen"
    assert [c.external_id for c in h.hs.contacts_of(cid)] == [result.external_id]


@pytest.mark.parametrize("refusal", ["per-input 207", "whole-batch 409"])
def test_a_repeated_contact_create_updates_the_contact_the_first_one_made(
    h: Harness, monkeypatch: pytest.MonkeyPatch, refusal: str
):
    """A create whose answer was lost is sent again (the push retries, a replay, a redelivery): HubSpot
    refuses the second create (``crmsync_record_id`` is a unique value), so those contacts take the
    upsert path and update the contact the first attempt made. No duplicate, one association."""
    h.hs.ensure_setup()
    cid = company(h, "acme")
    items = [
        WriteItem(
            record_id=f"p-{n}",
            fields={"name": f"Person {n}", "email": f"p{n}@acme.dk"},
            parent_external_id=cid,
        )
        for n in range(3)
    ]
    first = h.hs.write(CONTACT, items[:2])
    if refusal == "whole-batch 409":
        from local.fakes.hubspot import _err

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise _err(409, "CONFLICT", "A contact with the unique value 'p-0' already exists.")

        monkeypatch.setattr(h.fake, "_h_batch_create", refuse)
    again = h.hs.write(
        CONTACT, [it.model_copy(update={"fields": {**it.fields, "title": "CFO"}}) for it in items]
    )
    assert all(r.ok for r in again), [r.error for r in again]
    assert [r.external_id for r in again[:2]] == [r.external_id for r in first]
    assert len(h.fake.records("contacts")) == 3
    for result in again:
        contact = h.fake.record("contacts", str(result.external_id))
        assert contact is not None and contact["properties"]["jobtitle"] == "CFO"
        assert contact["associations"] == {"companies": [cid]}
    assert h.fake.calls("POST", "/crm/v3/objects/contacts/batch/upsert") == 1, (
        "the refused ones, in one batch"
    )


def test_changed_parent_moves_the_primary_association(h):
    h.hs.ensure_setup()
    old, new = company(h, "old"), company(h, "new")
    contact = h.hs.write(
        CONTACT, [WriteItem(record_id="p", fields={"email": "p@x.dk"}, parent_external_id=old)]
    )[0]
    same = h.hs.write(
        CONTACT,
        [
            WriteItem(
                record_id="p", external_id=contact.external_id, fields={"phone": "1"}, parent_external_id=old
            )
        ],
    )[0]
    # created with the link inline; an update that keeps the company links nothing
    assert same.ok and h.fake.calls("POST", "/crm/v4/associations/contacts/companies/batch/create") == 0
    moved = h.hs.write(
        CONTACT,
        [WriteItem(record_id="p", external_id=contact.external_id, fields={}, parent_external_id=new)],
    )[0]
    assert moved.ok
    assert h.fake.record("contacts", contact.external_id)["associations"] == {"companies": [new]}
    got = h.hs.get(CONTACT, contact.external_id)
    assert got is not None and got.parent_external_id == new
    assert h.hs.contacts_of(old) == []


def test_parent_is_the_primary_company_when_there_are_several(h):
    h.hs.ensure_setup()
    first, primary = company(h, "first"), company(h, "primary")
    contact = h.hs.write(
        CONTACT, [WriteItem(record_id="p", fields={"email": "p@x.dk"}, parent_external_id=primary)]
    )
    cid = contact[0].external_id
    h.fake.associate(cid, first)  # a salesperson adds a second, lower-id company; the primary stays
    assert h.fake.record("contacts", cid)["associations"] == {"companies": [first, primary]}
    assert h.hs.get_many(CONTACT, [cid])[cid].parent_external_id == primary
    got = h.hs.get(CONTACT, cid)
    assert got is not None and got.parent_external_id == primary
    assert [r.parent_external_id for r in h.hs.list_all(CONTACT)] == [primary]


def test_link_to_a_missing_company_fails_the_item_but_keeps_the_contact(h):
    h.hs.ensure_setup()
    result = h.hs.write(
        CONTACT, [WriteItem(record_id="p", fields={"email": "p@x.dk"}, parent_external_id="424242")]
    )[0]
    assert not result.ok and result.external_id and "424242" in (result.error or "")
    assert len(h.fake.records("contacts")) == 1


def test_update_sends_only_the_given_fields(h):
    h.hs.ensure_setup()
    cid = company(h, "acme", city="Aarhus", phone="1", barred=True)
    result = h.hs.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="acme",
                external_id=cid,
                fields={"phone": "+45 7020 0000", "city": None, "barred": False},
            )
        ],
    )[0]
    assert result.ok and result.external_id == cid
    body = h.bodies("POST /crm/v3/objects/companies/batch/update")[-1]
    assert body == {
        "inputs": [
            {
                "id": cid,
                "objectWriteTraceId": "acme",
                "properties": {"phone": "+45 7020 0000", "city": "", "crmsync_barred": "false"},
            }
        ]
    }
    props = h.fake.record("companies", cid)["properties"]
    assert props["name"] == "acme" and "city" not in props and props["crmsync_barred"] == "false"
    assert result.record is not None
    assert result.record.fields == {"name": "acme", "phone": "+45 7020 0000", "city": None, "barred": False}
    nothing = h.hs.write(CUSTOMER, [WriteItem(record_id="acme", external_id=cid, fields={"notes": "x"})])[0]
    assert nothing.ok and len(h.bodies("POST /crm/v3/objects/companies/batch/update")) == 1  # nothing to send


def test_external_number_and_account_manager_round_trip(h):
    """crmsync_external_number (custom) and hubspot_owner_id (standard), created, read, changed, cleared."""
    h.hs.ensure_setup()
    [created] = h.hs.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="r1",
                fields={"name": "Acme", "external_number": "CRM-1001", "account_manager": "75"},
            )
        ],
    )
    assert created.ok and created.record is not None
    assert (created.record.fields["external_number"], created.record.fields["account_manager"]) == (
        "CRM-1001",
        "75",
    )
    cid = created.external_id
    props = h.fake.record("companies", cid)["properties"]
    assert (props["crmsync_external_number"], props["hubspot_owner_id"]) == ("CRM-1001", "75")
    got = h.hs.get(CUSTOMER, cid)
    assert got is not None
    assert (got.fields["external_number"], got.fields["account_manager"]) == ("CRM-1001", "75")
    assert h.hs.get_many(CUSTOMER, [cid])[cid].fields["account_manager"] == "75"
    assert [r.fields["external_number"] for r in h.hs.list_all(CUSTOMER)] == ["CRM-1001"]

    [changed] = h.hs.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="r1",
                external_id=cid,
                fields={"external_number": "CRM-2002", "account_manager": "76"},
            )
        ],
    )
    assert changed.ok and changed.record is not None
    assert changed.record.fields == {"name": "Acme", "external_number": "CRM-2002", "account_manager": "76"}
    body = h.bodies("POST /crm/v3/objects/companies/batch/update")[-1]
    assert body["inputs"][0]["properties"] == {
        "crmsync_external_number": "CRM-2002",
        "hubspot_owner_id": "76",
    }

    [cleared] = h.hs.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="r1", external_id=cid, fields={"external_number": None, "account_manager": None}
            )
        ],
    )
    assert cleared.ok and cleared.record is not None
    assert cleared.record.fields == {"name": "Acme", "external_number": None, "account_manager": None}
    props = h.fake.record("companies", cid)["properties"]
    assert "crmsync_external_number" not in props and "hubspot_owner_id" not in props
    got = h.hs.get(CUSTOMER, cid)
    assert got is not None and got.fields["external_number"] is None and got.fields["account_manager"] is None
    assert got.fields["name"] == "Acme"


def test_partial_failure_yields_one_result_per_item(h):
    h.hs.ensure_setup()
    items = [WriteItem(record_id=f"p{i}", fields={"name": f"P {i}", "email": f"p{i}@x.dk"}) for i in range(3)]
    ids = [r.external_id for r in h.hs.write(CONTACT, items)]
    updates = [
        WriteItem(record_id="p0", external_id=ids[0], fields={"title": "CEO"}),
        WriteItem(record_id="gone", external_id="424242", fields={"title": "CTO"}),
        WriteItem(
            record_id="p2", external_id=ids[2], fields={"email": "p1@x.dk"}
        ),  # p1's address: unique clash
    ]
    results = h.hs.write(CONTACT, updates)
    assert [r.record_id for r in results] == ["p0", "gone", "p2"]
    assert [r.ok for r in results] == [True, False, False]
    assert (results[1].error_code, results[1].retryable) == ("OBJECT_NOT_FOUND", False)
    assert (results[2].error_code, results[2].retryable) == ("CONFLICT", False)
    assert results[2].external_id == ids[2] and results[0].record is not None
    assert h.fake.calls("POST", "/crm/v3/objects/contacts/batch/update") == 1


def test_writes_are_batched_by_100_and_keep_their_order(h):
    h.hs.ensure_setup()
    items = [WriteItem(record_id=f"r{i:03}", fields={"name": f"C{i}"}) for i in range(250)]
    results = h.hs.write(CUSTOMER, items)
    assert [r.record_id for r in results] == [i.record_id for i in items] and all(r.ok for r in results)
    assert [len(b["inputs"]) for b in h.bodies("POST /crm/v3/objects/companies/batch/upsert")] == [
        100,
        100,
        50,
    ]
    assert len({r.external_id for r in results}) == 250


def test_a_batch_rejected_as_a_whole_is_bisected_to_the_bad_item():
    def poison(app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(raw)  # hand the body on to the fake untouched
            if "batch/upsert" in environ["PATH_INFO"] and b"POISON" in raw:
                error = {
                    "status": "error",
                    "message": "bad batch",
                    "category": "VALIDATION_ERROR",
                    "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
                }
                return Response(json.dumps(error), 400, mimetype="application/json")(environ, start_response)
            return app(environ, start_response)

        return wrapped

    h = Harness(app=poison, strict_spec=False)
    h.hs.ensure_setup()
    items = [WriteItem(record_id=f"r{i}", fields={"name": "POISON" if i == 2 else f"C{i}"}) for i in range(4)]
    results = h.hs.write(CUSTOMER, items)
    assert [r.ok for r in results] == [True, True, False, True]
    assert (results[2].error_code, results[2].retryable, results[2].error) == (
        "VALIDATION_ERROR",
        False,
        "bad batch",
    )


def test_auth_errors_propagate_from_writes_and_reads(h):
    bad = h.connector("wrong-token")
    with pytest.raises(AuthError) as err:
        bad.write(CUSTOMER, [WriteItem(record_id="x", fields={"name": "x"})])
    assert err.value.status == 401 and err.value.code == "INVALID_AUTHENTICATION" and err.value.request_id
    with pytest.raises(AuthError):
        bad.get(CUSTOMER, "1")


# ------------------------------------------------------------------------------------------ reads


def test_get_returns_none_for_missing_and_archived_records(h):
    h.hs.ensure_setup()
    cid = company(h, "acme", barred=True, vat_number="DK1234")
    got = h.hs.get(CUSTOMER, cid)
    assert got is not None and got.fields["barred"] is True and got.fields["vat_number"] == "DK1234"
    # the hierarchy travels as the parent company's id (the sync layer makes it ``parent_account``)
    assert got.fields["email"] is None and set(got.fields) == h.hs.supported_fields(CUSTOMER) - {
        "parent_account"
    }
    assert got.parent_external_id is None
    parent = company(h, "group")
    h.fake.set_parent_company(cid, parent)
    child = h.hs.get(CUSTOMER, cid)
    assert child is not None and child.parent_external_id == parent, "hs_parent_company_id, no extra call"
    assert h.hs.get_many(CUSTOMER, [cid])[cid].parent_external_id == parent
    assert h.hs.get(CUSTOMER, "424242") is None
    h.fake.delete("companies", cid)
    assert h.hs.get(CUSTOMER, cid) is None
    assert h.hs.get_many(CUSTOMER, [cid, "424242"]) == {}


def test_get_many_reads_in_batches_with_parents(h):
    h.hs.ensure_setup()
    cid = company(h, "acme")
    items = [
        WriteItem(record_id=f"p{i}", fields={"email": f"p{i}@x.dk"}, parent_external_id=cid)
        for i in range(150)
    ]
    ids = [r.external_id for r in h.hs.write(CONTACT, items)]
    reads_before = h.fake.calls("POST", "/crm/v4/associations/contacts/companies/batch/read")
    found = h.hs.get_many(CONTACT, [*ids, "424242"])
    assert set(found) == set(ids) and {r.parent_external_id for r in found.values()} == {cid}
    assert h.fake.calls("POST", "/crm/v3/objects/contacts/batch/read") == 2
    assert h.fake.calls("POST", "/crm/v4/associations/contacts/companies/batch/read") == reads_before + 2
    assert len(h.hs.contacts_of(cid)) == 150


def test_list_all_follows_paging(h):
    h.hs.ensure_setup()
    cid = company(h, "acme")
    h.fake.seed(
        "contacts", ({"email": f"c{i}@x.dk", "firstname": "C", "lastname": str(i)} for i in range(230))
    )
    first = h.fake.records("contacts")[0]["id"]
    h.fake.associate(first, cid)
    listed = list(h.hs.list_all(CONTACT))
    assert len(listed) == 230 and len({r.external_id for r in listed}) == 230
    assert h.fake.calls("GET", "/crm/v3/objects/contacts") == 3
    assert next(r for r in listed if r.external_id == first).parent_external_id == cid


def search_budget(h: Harness, calls: int) -> None:
    """Fail (instead of hanging) if a scan stops making progress."""
    search = h.hs._search
    used = []

    def bounded(*args: Any, **kw: Any) -> Any:
        used.append(1)
        assert len(used) <= calls, f"changed_since made more than {calls} search calls"
        return search(*args, **kw)

    h.hs._search = bounded  # type: ignore[method-assign]


def seed_modified(h: Harness, count: int, start_ms: int, step_ms: int, prefix: str) -> list[str]:
    rows = (
        {"name": f"{prefix}{i}", "createdate": start_ms, "hs_lastmodifieddate": start_ms + i * step_ms}
        for i in range(count)
    )
    return h.fake.seed("companies", rows)


def test_changed_since_finds_every_record_past_the_10000_cap():
    h = Harness(strict_spec=False)  # 10k-row responses: spec-checked elsewhere, kept fast here
    since = datetime(2026, 1, 1, tzinfo=UTC)
    base = int(since.timestamp() * 1000)
    seed_modified(h, 50, base - 100_000, 1, "old")
    ids = seed_modified(h, 10_250, base, 7, "new")
    search_budget(h, 60)
    found = list(h.hs.changed_since(CUSTOMER, since))
    assert [r.external_id for r in found] == ids  # every one, once, oldest first
    assert all(r.modified_at is not None and r.modified_at >= since for r in found)
    searches = h.bodies("POST /crm/v3/objects/companies/search")
    assert all(int(s["after"]) < 10_000 for s in searches)
    # Pages of 200 with one re-window at the cap: no more searches than the records need (+ re-windows).
    # (A count, not a wall-clock bound: timing belongs in bench/, and shared CI cores make it flaky.)
    assert len(searches) <= -(-10_250 // 200) + 3


def test_changed_since_when_many_records_share_a_timestamp(h):
    since = datetime(2026, 2, 1, tzinfo=UTC)
    base = int(since.timestamp() * 1000)
    seed_modified(h, 10, base - 5_000, 1, "before")
    tied = seed_modified(h, 450, base + 1_000, 0, "tie")
    also_at_since = seed_modified(h, 5, base, 0, "edge")
    later = seed_modified(h, 30, base + 2_000, 1, "later")
    search_budget(h, 20)
    found = [r.external_id for r in h.hs.changed_since(CUSTOMER, since)]
    assert sorted(found, key=int) == sorted([*tied, *also_at_since, *later], key=int)
    assert len(found) == len(set(found)) == 485
    assert found[:5] == also_at_since and found[-30:] == later
    tie_runs = [
        s
        for s in h.bodies("POST /crm/v3/objects/companies/search")
        if any(f["propertyName"] == "hs_object_id" for f in s["filterGroups"][0]["filters"])
    ]
    assert tie_runs  # the shared timestamp was walked by id


def test_changed_since_contacts_use_lastmodifieddate_and_carry_parents(h):
    h.hs.ensure_setup()
    cid = company(h, "acme")
    h.tick(5)
    since = datetime.fromtimestamp(h.clock.now, UTC)
    h.tick(5)
    h.hs.write(CONTACT, [WriteItem(record_id="p", fields={"email": "p@x.dk"}, parent_external_id=cid)])
    assert list(h.hs.changed_since(CONTACT, since)) == []  # search lags behind the write (default 2 s)
    h.tick(2_000)
    found = list(h.hs.changed_since(CONTACT, since))
    assert [r.parent_external_id for r in found] == [cid]
    search = h.bodies("POST /crm/v3/objects/contacts/search")[0]
    assert search["filterGroups"][0]["filters"][0] == {
        "propertyName": "lastmodifieddate",
        "operator": "GTE",
        "value": str(int(since.timestamp() * 1000)),
    }
    assert search["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert search["limit"] == 200
    assert list(h.hs.changed_since(CONTACT, since + timedelta(days=1))) == []


def test_merge_returns_the_new_id_and_old_ids_read_as_the_survivor():
    h = Harness(merge_new_id=True)
    h.hs.ensure_setup()
    primary, duplicate = company(h, "keep"), company(h, "dup", city="Vejle")
    new_id = h.hs.merge(CUSTOMER, primary, duplicate)
    assert new_id not in (primary, duplicate)  # HubSpot may answer the merge with a new id
    for old in (primary, duplicate):
        survivor = h.hs.get(CUSTOMER, old)
        assert survivor is not None
        assert (survivor.external_id, survivor.fields["city"]) == (new_id, "Vejle")
    kept = Harness(merge_new_id=False)  # the option: the primary keeps its id
    kept.hs.ensure_setup()
    a, b = company(kept, "a"), company(kept, "b")
    assert kept.hs.merge(CUSTOMER, a, b) == a


# ------------------------------------------------------------------------------------------ rate limits and errors


def test_429_without_retry_after_waits_the_rate_limit_interval():
    h = Harness(rate_limit_per_10s=3, send_retry_after=False)
    h.hs.ensure_setup()  # 2 GETs + ...: runs into the limit on the way
    assert h.fake.stats()["rate_limited"] >= 1
    assert set(h.sleeps) == {10.0}  # X-HubSpot-RateLimit-Interval-Milliseconds, not a guessed backoff
    assert h.fake.spec_violations == []


def test_fake_sends_no_retry_after_by_default_and_the_connector_backs_off_by_the_interval():
    h = Harness(faults=Faults(rate_429=1.0, rate_429_interval_ms=1500))
    with pytest.raises(RateLimitedError) as caught:
        h.hs.get(CUSTOMER, "1")
    assert h.sleeps == [1.5, 1.5, 1.5]  # every attempt waited the advertised interval, no guessed backoff
    assert caught.value.retry_after == 1.5
    h.fake.set_faults(Faults())
    assert h.hs.get(CUSTOMER, "1") is None
    plain = Harness(faults=Faults(rate_429=1.0))  # the default interval: HubSpot's 10 s window
    with pytest.raises(RateLimitedError):
        plain.hs.get(CUSTOMER, "1")
    assert plain.sleeps == [10.0, 10.0, 10.0]


def test_429_with_retry_after_and_search_secondly_limit():
    h = Harness(rate_limit_per_10s=2, send_retry_after=True, search_rate_limit_per_s=1)
    assert h.hs.get(CUSTOMER, "1") is None
    h.tick(4_000)
    assert h.hs.get(CUSTOMER, "2") is None
    assert h.hs.get(CUSTOMER, "3") is None  # 429 with Retry-After: 6 (the first call leaves the window then)
    assert h.sleeps == [6.0] and h.fake.stats()["rate_limited"] == 1
    h.sleeps.clear()
    h.fake.rate_limit_per_10s = None
    list(h.hs.changed_since(CUSTOMER, datetime(2020, 1, 1, tzinfo=UTC)))
    h.hs.get_many(CUSTOMER, ["1"])
    list(h.hs.changed_since(CUSTOMER, datetime(2020, 1, 1, tzinfo=UTC)))
    assert h.sleeps == [1.0]  # "You have reached your secondly limit." -> 1 s


def test_error_mapping_from_hubspot_bodies():
    def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers or {})

    base = {"status": "error", "message": "m", "correlationId": "c-1"}
    assert isinstance(hubspot_error(response(403, {**base, "category": "MISSING_SCOPES"})), AuthError)
    assert isinstance(hubspot_error(response(404, {**base, "category": "OBJECT_NOT_FOUND"})), NotFoundError)
    invalid = hubspot_error(response(400, {**base, "category": "VALIDATION_ERROR"}))
    assert isinstance(invalid, VendorRefusedError) and not invalid.retryable and invalid.request_id == "c-1"
    conflict = hubspot_error(
        response(409, {**base, "category": "CONFLICT"}, {"X-HubSpot-Correlation-Id": "h-9"})
    )
    assert isinstance(conflict, ConflictError) and not conflict.retryable and conflict.request_id == "h-9"
    for status in (423, 500, 502, 504, 524):
        assert isinstance(hubspot_error(response(status, base)), TransientError)
    rolling = hubspot_error(
        response(
            429,
            {**base, "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
        )
    )
    assert isinstance(rolling, RateLimitedError) and rolling.retry_after == 10.0
    assert rolling.code == "TEN_SECONDLY_ROLLING"
    daily = hubspot_error(
        response(
            429,
            {
                **base,
                "errorType": "RATE_LIMIT",
                "policyName": "DAILY",
                "message": "You have reached your daily limit.",
            },
        )
    )
    assert isinstance(daily, RateLimitedError) and daily.retry_after is None
    secondly = hubspot_error(
        response(429, {"status": "error", "message": "You have reached your secondly limit."})
    )
    assert isinstance(secondly, RateLimitedError) and secondly.retry_after == 1.0
    assert isinstance(hubspot_error(httpx.Response(502, text="<html>bad gateway</html>")), TransientError)


def test_iso_ms_matches_hubspot_precision():
    assert iso_ms(1_705_328_530_456) == "2024-01-15T14:22:10.456Z"
