"""Deletes are tombstones unless allowed (then approved or guarded), merges re-point, reused numbers are new.

The module shares one local stack (``tests/e2e/conftest.py``); every test gets its own vendor account
and tenant, seeded the same way, so no test sees another's data. Every test runs once per CRM (HubSpot,
Dynamics 365: ``crm_kind``), acting on the CRM in canonical field names (``local.crm_side``). A merge
differs by CRM only in the survivor's id: HubSpot gives the merged company a new id, Dynamics keeps the
target's (the subordinate stays, deactivated, with ``masterid``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.crm_side import CrmRow, DynamicsSide
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER = ObjectType.CUSTOMER


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """Four e-conomic customers with a contact each, transferred to the CRM (automatic mode), settled."""

    def seed(account: VendorAccount) -> None:
        account.economic.seed(4, contacts_per_customer=1, seed=21)

    t = add_seeded_tenant(stack, "delco", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    yield t
    retire(t)


def api(tenant: Tenant, method: str, path: str, json: dict | None = None) -> Any:
    return tenant.api(method, path, json)


def set_config(tenant: Tenant, **changes: Any) -> None:
    config = api(tenant, "GET", "/config").json()
    config.update(changes)
    response = api(tenant, "PUT", "/config", config)
    assert response.status_code == 200, response.text


def linked(tenant: Tenant, index: int) -> tuple[int, str, str]:
    number = tenant.economic.customer_numbers()[index]
    record_id = tenant.stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    assert record_id is not None
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None
    return number, record.links[tenant.crm.connection_id], record_id


def live_companies(tenant: Tenant) -> dict[str, CrmRow]:
    """The CRM's companies (accounts) that are not deleted, by id."""
    return {row.id: row for row in tenant.crm.rows(CUSTOMER)}


def test_a_delete_is_a_tombstone_and_the_other_side_is_never_written_again(stack: LocalStack, tenant: Tenant):
    number, company_id, record_id = linked(tenant, 0)
    tenant.economic.delete_customer(number)
    stack.run_until_idle()
    assert company_id in live_companies(tenant), (
        "the CRM keeps the company (deletes never propagate by default)"
    )
    record = stack.store.get_record(tenant.id, record_id)
    assert record is not None and record.bases[ECONOMIC_CONNECTION].deleted
    eco_writes = tenant.economic.stats()["writes"]
    tenant.crm.edit(CUSTOMER, company_id, {"phone": "+45 99 88 77 66"})
    stack.run_until_idle()
    seen = stack.store.get_record(tenant.id, record_id)
    assert seen is not None and seen.fields.get("phone") == "+45 99 88 77 66", "crmsync saw the CRM's edit"
    assert tenant.economic.stats()["writes"] == eco_writes, "nothing is written to a deleted customer"
    assert api(tenant, "GET", "/parked").json()["items"] == []
    assert api(tenant, "GET", "/deletes").json()["items"] == []


def test_a_reused_customer_number_is_a_new_customer_not_the_old_one(stack: LocalStack, tenant: Tenant):
    number, company_id, record_id = linked(tenant, 1)
    old_name = live_companies(tenant)[company_id].fields["name"]
    tenant.economic.delete_customer(number)
    stack.run_until_idle()
    tenant.economic.add_customer(
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
    companies = live_companies(tenant)
    assert companies[company_id].fields["name"] == old_name, "the old company is not overwritten"
    assert not companies[company_id].fields.get("customer_number"), "it lost the reused number"
    carriers = [c for c in companies.values() if c.fields.get("customer_number") == str(number)]
    assert [c.fields["name"] for c in carriers] == ["Helt Ny Kunde ApS"]
    new_rid = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    assert new_rid not in (None, record_id)
    old = stack.store.get_record(tenant.id, record_id)
    assert old is not None and ECONOMIC_CONNECTION in old.blocked, "the old record is not re-created there"


def test_approve_policy_waits_for_a_person(stack: LocalStack, tenant: Tenant):
    set_config(tenant, deletes="approve")
    number, company_id, record_id = linked(tenant, 2)
    other_number, other_company, other_rid = linked(tenant, 3)
    tenant.crm.delete(CUSTOMER, company_id)
    tenant.crm.delete(CUSTOMER, other_company)
    stack.run_until_idle()
    assert tenant.economic.get_customer(number) is not None, "nothing is deleted before approval"
    pending = {p["record_id"]: p for p in api(tenant, "GET", "/deletes").json()["items"]}
    assert set(pending) == {record_id, other_rid}
    assert pending[record_id]["targets"] == {ECONOMIC_CONNECTION: str(number)}

    tenant.economic.book_invoice(other_number)
    approved = api(tenant, "POST", f"/deletes/{record_id}/approve")
    assert approved.status_code == 200 and approved.json()["outcome"] == "propagated"
    assert tenant.economic.get_customer(number) is None
    refused = api(tenant, "POST", f"/deletes/{other_rid}/approve").json()
    assert refused["outcome"] == "refused", "e-conomic keeps a customer with booked invoices"
    (still,) = api(tenant, "GET", "/deletes").json()["items"]
    assert still["record_id"] == other_rid and "booked" in still["reason"].lower()
    rejected = api(tenant, "POST", f"/deletes/{other_rid}/reject")
    assert rejected.status_code == 200
    assert api(tenant, "GET", "/deletes").json()["items"] == []
    assert tenant.economic.get_customer(other_number) is not None
    assert api(tenant, "POST", f"/deletes/{other_rid}/approve").status_code == 404


def test_automatic_deletes_stop_at_the_mass_delete_guard(stack: LocalStack, tenant: Tenant):
    set_config(tenant, deletes="automatic", mass_delete_share=0.0, mass_delete_min=1)
    first, first_company, _ = linked(tenant, 0)
    second, second_company, second_rid = linked(tenant, 1)
    tenant.crm.delete(CUSTOMER, first_company)
    stack.run_until_idle()
    assert tenant.economic.get_customer(first) is None, "within the guard: deleted on the other side"
    tenant.crm.delete(CUSTOMER, second_company)
    stack.run_until_idle()
    assert tenant.economic.get_customer(second) is not None, "over the guard: held"
    (held,) = api(tenant, "GET", "/deletes").json()["items"]
    assert held["record_id"] == second_rid and "mass-delete guard" in held["reason"]


def merge(tenant: Tenant, primary: str, secondary: str) -> str:
    """A person merges two companies (HubSpot: the merge API its UI uses; Dynamics: the UI's merge, which
    moves the subordinate's contacts and deactivates it); the survivor's id."""
    from crmsync import runtime

    if isinstance(tenant.crm, DynamicsSide):
        return tenant.crm.merge(CUSTOMER, primary, secondary)
    ctx = runtime.context()
    connector = ctx.connectors.get(ctx.config(tenant.id), HUBSPOT_CONNECTION)
    return connector.merge(ObjectType.CUSTOMER, primary, secondary)


def test_merge_into_a_linked_company_keeps_both_customers_and_re_creates_nothing(
    stack: LocalStack, tenant: Tenant
):
    crm = tenant.crm.connection_id
    _, company_id, record_id = linked(tenant, 0)
    customers = len(tenant.economic.customer_numbers())
    duplicate = tenant.crm.create(CUSTOMER, {"name": "Dublet ApS"})
    stack.run_until_idle()  # automatic mode: the duplicate became a customer too
    dup_rid = stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, duplicate)
    assert dup_rid is not None and len(tenant.economic.customer_numbers()) == customers + 1
    new_id = merge(tenant, company_id, duplicate)
    if tenant.crm.kind == "hubspot":
        assert new_id not in (company_id, duplicate), "HubSpot answers a merge with a new id"
    else:
        assert new_id == company_id, "Dynamics keeps the target's id"
    stack.run_until_idle()
    assert len(tenant.economic.customer_numbers()) == customers + 1, "nothing created or deleted"
    assert stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, duplicate) is None
    if new_id != company_id:
        assert stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, company_id) is None
    assert stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, new_id) == record_id
    dup = stack.store.get_record(tenant.id, dup_rid)
    assert dup is not None and crm in dup.blocked, "the merged-away record is not re-created"
    assert len(live_companies(tenant)) == 4


def test_merge_into_a_crm_only_company_moves_the_link_to_the_survivor(stack: LocalStack, tenant: Tenant):
    crm = tenant.crm.connection_id
    stack.set_mode(tenant.id, SyncMode.MANUAL)
    number, company_id, record_id = linked(tenant, 1)
    survivor = tenant.crm.create(CUSTOMER, {"name": "Overlevende ApS"})
    stack.run_until_idle()  # manual mode: a CRM-only record
    customers = len(tenant.economic.customer_numbers())
    new_id = merge(tenant, survivor, company_id)
    stack.run_until_idle()
    assert stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, company_id) is None
    if new_id == survivor:  # Dynamics: the CRM-only record and the customer's record are linked
        joined_rid = stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, survivor)
        joined = stack.store.get_record(tenant.id, joined_rid) if joined_rid else None
        assert joined is not None and joined.links.get(ECONOMIC_CONNECTION) == str(number)
    else:
        assert stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, new_id) == record_id
        assert stack.store.find_link(tenant.id, crm, ObjectType.CUSTOMER, survivor) is None
    assert len(tenant.economic.customer_numbers()) == customers
    survivor_row = live_companies(tenant)[new_id]
    assert survivor_row.fields["customer_number"] == str(number), (
        "the survivor is now that customer's company"
    )
