"""Deletes are tombstones unless allowed (then approved or guarded), merges re-point, reused numbers are new."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "delco"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(4, contacts_per_customer=1, seed=21)
        local.token = local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)  # type: ignore[attr-defined]
        local.run_pull()
        local.run_until_idle()
        yield local


def api(stack: LocalStack, method: str, path: str, json: dict | None = None) -> Any:
    return stack.http.request(
        method, f"/tenants/{TENANT}{path}", json=json, headers={"Authorization": f"Bearer {stack.token}"}
    )


def set_config(stack: LocalStack, **changes: Any) -> None:
    config = api(stack, "GET", "/config").json()
    config.update(changes)
    response = api(stack, "PUT", "/config", config)
    assert response.status_code == 200, response.text


def linked(stack: LocalStack, index: int) -> tuple[int, str, str]:
    number = stack.economic.customer_numbers()[index]
    record_id = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    assert record_id is not None
    record = stack.store.get_record(TENANT, record_id)
    assert record is not None
    return number, record.links[HUBSPOT_CONNECTION], record_id


def live_companies(stack: LocalStack) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in stack.hubspot.records("companies")}


def test_a_delete_is_a_tombstone_and_the_other_side_is_never_written_again(stack: LocalStack):
    number, company_id, record_id = linked(stack, 0)
    stack.economic.delete_customer(number)
    stack.run_until_idle()
    assert company_id in live_companies(stack), (
        "HubSpot keeps the company (deletes never propagate by default)"
    )
    record = stack.store.get_record(TENANT, record_id)
    assert record is not None and record.bases[ECONOMIC_CONNECTION].deleted
    eco_writes = stack.economic.stats()["writes"]
    stack.hubspot.edit("companies", company_id, {"phone": "+45 99 88 77 66"})
    stack.run_until_idle()
    assert stack.economic.stats()["writes"] == eco_writes, "nothing is written to a deleted customer"
    assert api(stack, "GET", "/parked").json()["items"] == []
    assert api(stack, "GET", "/deletes").json()["items"] == []


def test_a_reused_customer_number_is_a_new_customer_not_the_old_one(stack: LocalStack):
    number, company_id, record_id = linked(stack, 1)
    old_name = live_companies(stack)[company_id]["properties"]["name"]
    stack.economic.delete_customer(number)
    stack.run_until_idle()
    stack.economic.add_customer(
        {
            "customerNumber": number,
            "name": "Helt Ny Kunde ApS",
            "currency": "DKK",
            "customerGroup": {"customerGroupNumber": 1},
            "paymentTerms": {"paymentTermsNumber": 1},
            "vatZone": {"vatZoneNumber": 1},
        }
    )
    stack.run_until_idle()
    companies = live_companies(stack)
    assert companies[company_id]["properties"]["name"] == old_name, "the old company is not overwritten"
    assert not companies[company_id]["properties"].get("crmsync_customer_number"), "it lost the reused number"
    carriers = [
        c for c in companies.values() if c["properties"].get("crmsync_customer_number") == str(number)
    ]
    assert [c["properties"]["name"] for c in carriers] == ["Helt Ny Kunde ApS"]
    new_rid = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    assert new_rid not in (None, record_id)
    old = stack.store.get_record(TENANT, record_id)
    assert old is not None and ECONOMIC_CONNECTION in old.blocked, "the old record is not re-created there"


def test_approve_policy_waits_for_a_person(stack: LocalStack):
    set_config(stack, deletes="approve")
    number, company_id, record_id = linked(stack, 2)
    other_number, other_company, other_rid = linked(stack, 3)
    stack.hubspot.delete("companies", company_id)
    stack.hubspot.delete("companies", other_company)
    stack.run_until_idle()
    assert stack.economic.get_customer(number) is not None, "nothing is deleted before approval"
    pending = {p["record_id"]: p for p in api(stack, "GET", "/deletes").json()["items"]}
    assert set(pending) == {record_id, other_rid}
    assert pending[record_id]["targets"] == {ECONOMIC_CONNECTION: str(number)}

    stack.economic.book_invoice(other_number)
    approved = api(stack, "POST", f"/deletes/{record_id}/approve")
    assert approved.status_code == 200 and approved.json()["outcome"] == "propagated"
    assert stack.economic.get_customer(number) is None
    refused = api(stack, "POST", f"/deletes/{other_rid}/approve").json()
    assert refused["outcome"] == "refused", "e-conomic keeps a customer with booked invoices"
    (still,) = api(stack, "GET", "/deletes").json()["items"]
    assert still["record_id"] == other_rid and "booked" in still["reason"].lower()
    rejected = api(stack, "POST", f"/deletes/{other_rid}/reject")
    assert rejected.status_code == 200
    assert api(stack, "GET", "/deletes").json()["items"] == []
    assert stack.economic.get_customer(other_number) is not None
    assert api(stack, "POST", f"/deletes/{other_rid}/approve").status_code == 404


def test_automatic_deletes_stop_at_the_mass_delete_guard(stack: LocalStack):
    set_config(stack, deletes="automatic", mass_delete_share=0.0, mass_delete_min=1)
    first, first_company, _ = linked(stack, 0)
    second, second_company, second_rid = linked(stack, 1)
    stack.hubspot.delete("companies", first_company)
    stack.run_until_idle()
    assert stack.economic.get_customer(first) is None, "within the guard: deleted on the other side"
    stack.hubspot.delete("companies", second_company)
    stack.run_until_idle()
    assert stack.economic.get_customer(second) is not None, "over the guard: held"
    (held,) = api(stack, "GET", "/deletes").json()["items"]
    assert held["record_id"] == second_rid and "mass-delete guard" in held["reason"]


def merge(primary: str, secondary: str) -> str:
    """A person merges two companies in HubSpot (the merge API the UI uses); the merged company's id."""
    from crmsync import runtime

    ctx = runtime.context()
    connector = ctx.connectors.get(ctx.config(TENANT), HUBSPOT_CONNECTION)
    return connector.merge(ObjectType.CUSTOMER, primary, secondary)


def test_merge_into_a_linked_company_keeps_both_customers_and_re_creates_nothing(stack: LocalStack):
    _, company_id, record_id = linked(stack, 0)
    customers = len(stack.economic.customer_numbers())
    duplicate = stack.hubspot.create("companies", {"name": "Dublet ApS"})
    stack.run_until_idle()  # automatic mode: the duplicate became a customer too
    dup_rid = stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, duplicate)
    assert dup_rid is not None and len(stack.economic.customer_numbers()) == customers + 1
    new_id = merge(company_id, duplicate)
    assert new_id not in (company_id, duplicate), "HubSpot answers a merge with a new id"
    stack.run_until_idle()
    assert len(stack.economic.customer_numbers()) == customers + 1, "nothing created or deleted"
    assert stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, duplicate) is None
    assert stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, company_id) is None
    assert stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, new_id) == record_id
    dup = stack.store.get_record(TENANT, dup_rid)
    assert dup is not None and HUBSPOT_CONNECTION in dup.blocked, "the merged-away record is not re-created"
    assert len(live_companies(stack)) == 4


def test_merge_into_a_crm_only_company_moves_the_link_to_the_survivor(stack: LocalStack):
    stack.set_mode(TENANT, SyncMode.MANUAL)
    number, company_id, record_id = linked(stack, 1)
    survivor = stack.hubspot.create("companies", {"name": "Overlevende ApS"})
    stack.run_until_idle()  # manual mode: a CRM-only record
    customers = len(stack.economic.customer_numbers())
    new_id = merge(survivor, company_id)
    stack.run_until_idle()
    assert stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, new_id) == record_id
    assert stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, survivor) is None
    assert stack.store.find_link(TENANT, HUBSPOT_CONNECTION, ObjectType.CUSTOMER, company_id) is None
    assert len(stack.economic.customer_numbers()) == customers
    props = live_companies(stack)[new_id]["properties"]
    assert props["crmsync_customer_number"] == str(number), "the survivor is now that customer's company"
