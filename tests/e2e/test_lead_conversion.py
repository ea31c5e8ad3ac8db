"""Lead conversion on the local stack: every outcome, and exactly once under repeats and concurrency.

The module shares one local stack (``tests/e2e/conftest.py``); every test gets its own vendor account
and tenant, seeded the same way, so no test sees another's data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire, unique_name

pytestmark = pytest.mark.e2e


@pytest.fixture
def tenant(stack: LocalStack) -> Iterator[Tenant]:
    """Customers 500 (Nordlys Energi ApS) and 999 (the walk-in cash customer) in e-conomic (manual mode)."""

    def seed(account: VendorAccount) -> None:
        account.economic.add_customer(
            {
                "customerNumber": 500,
                "name": "Nordlys Energi ApS",
                "currency": "DKK",
                "city": "Aalborg",
                "zip": "9000",
                "customerGroup": {"customerGroupNumber": 1},
                "paymentTerms": {"paymentTermsNumber": 1},
                "vatZone": {"vatZoneNumber": 1},
            },
            fire_webhook=False,
        )
        account.economic.add_customer(
            {
                "customerNumber": 999,
                "name": "Kontantsalg",
                "currency": "DKK",
                "customerGroup": {"customerGroupNumber": 1},
                "paymentTerms": {"paymentTermsNumber": 1},
                "vatZone": {"vatZoneNumber": 1},
            },
            fire_webhook=False,
        )

    def walk_in(t: Tenant) -> None:
        config = t.stack.store.get_config(t.id)
        t.stack.store.put_config(config.model_copy(update={"walk_in_customer_number": "999"}))

    t = add_seeded_tenant(
        stack, "leadco", mode=SyncMode.MANUAL, seed_vendors=seed, seed_after_provisioning=walk_in
    )
    yield t
    retire(t)


def lead(tenant: Tenant, name: str, email: str, **company: str) -> tuple[str, str]:
    company_id = tenant.hubspot.create("companies", {"name": name, "lifecyclestage": "lead", **company})
    contact_id = tenant.hubspot.create(
        "contacts", {"firstname": "Ida", "lastname": "Holm", "email": email, "lifecyclestage": "lead"}
    )
    tenant.hubspot.associate(contact_id, company_id)
    tenant.stack.run_until_idle()
    return company_id, contact_id


def convert(tenant: Tenant, lead_id: str, body: dict):
    return tenant.api("POST", f"/leads/{lead_id}/convert", body)


def customers(tenant: Tenant) -> list[int]:
    return tenant.economic.customer_numbers()


def test_without_a_choice_it_returns_candidates_and_writes_nothing(stack: LocalStack, tenant: Tenant):
    company, _ = lead(tenant, "Nordlys Energi A/S", "ida@nordlys.example", city="Aalborg", zip="9000")
    writes = tenant.economic.stats()["writes"]
    response = convert(tenant, company, {})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "candidates"
    nordlys = stack.store.find_link(tenant.id, "eco", ObjectType.CUSTOMER, "500")
    assert body["candidates"] and body["candidates"][0]["record_id"] == nordlys
    assert tenant.economic.stats()["writes"] == writes


def test_merge_into_a_candidate_keeps_its_number_and_links_the_person(stack: LocalStack, tenant: Tenant):
    company, contact = lead(tenant, "Nordlys Energi A/S", "ida@nordlys.example", city="Aalborg", zip="9000")
    candidate = convert(tenant, company, {}).json()["candidates"][0]["record_id"]
    response = convert(tenant, company, {"action": "merge_into", "candidate_record_id": candidate})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["outcome"], body["customer_number"]) == ("converted", "merged", "500")
    stack.run_until_idle()
    assert len(customers(tenant)) == 2, "no new customer"
    hs_company = tenant.hubspot.record("companies", company)["properties"]
    assert hs_company["crmsync_customer_number"] == "500"
    assert hs_company["lifecyclestage"] == "customer"
    assert tenant.hubspot.record("contacts", contact)["properties"]["lifecyclestage"] == "customer"
    assert [c["email"] for c in tenant.economic.contacts_of(500)] == ["ida@nordlys.example"]


def test_create_new_makes_one_customer_even_when_repeated(stack: LocalStack, tenant: Tenant):
    company, _ = lead(tenant, "Fjordbyen Bryghus ApS", "ida@fjordbyen.example")
    first = convert(tenant, company, {"action": "create_new"})
    again = convert(tenant, company, {"action": "create_new"})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    number = int(first.json()["customer_number"])
    assert number not in (500, 999) and len(customers(tenant)) == 3
    stack.run_until_idle()
    assert tenant.hubspot.record("companies", company)["properties"]["crmsync_customer_number"] == str(number)
    assert [c["email"] for c in tenant.economic.contacts_of(number)] == ["ida@fjordbyen.example"]


def test_a_conversion_with_the_journal_on_leaves_one_note_on_the_company(stack: LocalStack, tenant: Tenant):
    """The lead-conversion function sends the journal's note to the bulk queue itself (its role may: the
    stack's IAM check at the end of the module fails any denied call); a repeat adds no second note."""
    config = tenant.api("GET", "/config").json()
    config["journal"] = {"enabled": True, "sensitive_fields": []}
    assert tenant.api("PUT", "/config", config).status_code == 200
    company, _ = lead(tenant, "Journalført Handel ApS", "ida@journal.example")
    first = convert(tenant, company, {"action": "create_new"})
    assert first.status_code == 200, first.text
    stack.run_until_idle()
    assert convert(tenant, company, {"action": "create_new"}).json() == first.json()
    stack.run_until_idle()
    converted = [n for n in tenant.crm.notes(company) if n.startswith("crmsync: lead converted")]
    assert converted == ["crmsync: lead converted (created)."], tenant.crm.notes(company)
    assert not [d for d in stack.iam.denied() if d.function == "LeadConversionFunction"]


def test_concurrent_conversions_create_exactly_one_customer(stack: LocalStack, tenant: Tenant):
    company, _ = lead(tenant, "Samtidig Handel ApS", "ida@samtidig.example")
    results: list = []

    def go() -> None:
        results.append(convert(tenant, company, {"action": "create_new"}))

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} <= {200, 409}
    assert any(r.status_code == 200 for r in results)
    assert len(customers(tenant)) == 3, "exactly one new customer"
    retry = convert(tenant, company, {"action": "create_new"})
    assert retry.status_code == 200
    assert int(retry.json()["customer_number"]) in customers(tenant)


def test_a_lead_carrying_a_customer_number_converts_onto_it(stack: LocalStack, tenant: Tenant):
    company, _ = lead(
        tenant, "Nordlys (gammel lead)", "ida@nordlys-old.example", crmsync_customer_number="500"
    )
    response = convert(tenant, company, {})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["outcome"], body["customer_number"]) == (
        "converted",
        "existing_number",
        "500",
    )
    assert len(customers(tenant)) == 2


def test_walk_in_adds_the_person_to_the_cash_customer_only(stack: LocalStack, tenant: Tenant):
    _, contact = lead(tenant, "Privat", "ida@privat.example")
    response = stack.http.post(
        f"/tenants/{tenant.id}/leads/{contact}/convert",
        json={"object_type": "contact", "action": "walk_in"},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "walk_in" and response.json()["customer_number"] == "999"
    assert len(customers(tenant)) == 2
    assert "ida@privat.example" in [c["email"] for c in tenant.economic.contacts_of(999)]


def test_another_tenants_token_cannot_convert(stack: LocalStack, tenant: Tenant):
    # the other tenant has an account of its own, so provisioning it leaves this tenant's webhooks alone
    other_id = unique_name("othertenant")
    stack.add_account(other_id)
    other = stack.add_tenant(other_id, mode=SyncMode.MANUAL, account=other_id)
    company, _ = lead(tenant, "Fremmed ApS", "ida@fremmed.example")
    response = stack.http.post(
        f"/tenants/{tenant.id}/leads/{company}/convert",
        json={"action": "create_new"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert response.status_code == 403
    assert len(customers(tenant)) == 2
    stack.set_mode(other_id, SyncMode.OFF)  # retired like the fixture's tenant


@pytest.mark.parametrize("merge_new_id", [True, False], ids=["new-id", "same-id"])
def test_a_lead_duplicating_a_linked_customer_is_merged_into_its_company(
    stack: LocalStack, tenant: Tenant, merge_new_id: bool
):
    tenant.hubspot.merge_new_id = merge_new_id  # HubSpot answers a merge with a new id (the fake's default)
    known = tenant.hubspot.create(
        "companies", {"name": "Nordlys Energi ApS", "crmsync_customer_number": "500"}
    )
    stack.run_until_idle()
    linked = stack.http.post(
        f"/tenants/{tenant.id}/transfers",
        json={"source": "accounting", "dry_run": False},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert linked.status_code == 200 and linked.json()["plan"]["links"] == 1, linked.text
    stack.run_until_idle()
    company, _ = lead(tenant, "NORDLYS ENERGI AS", "ida@nordlys.example", city="Aalborg", zip="9000")
    found = convert(tenant, company, {}).json()
    target = stack.store.find_link(tenant.id, "eco", ObjectType.CUSTOMER, "500")
    assert found["candidates"][0]["record_id"] == target
    others = {c["id"] for c in tenant.hubspot.records("companies")} - {known, company}
    done = convert(tenant, company, {"action": "merge_into", "candidate_record_id": target})
    assert done.status_code == 200, done.text
    assert (done.json()["customer_number"], done.json()["record_id"]) == ("500", target)
    live = [c["id"] for c in tenant.hubspot.records("companies") if c["id"] not in others]
    assert len(live) == 1 and company not in live, "the lead company was merged into the known one"
    (survivor,) = live
    assert (survivor != known) is merge_new_id
    link = (tenant.id, "hs", ObjectType.CUSTOMER)
    assert stack.store.find_link(*link, survivor) == target, "linked to the merge's id at once"
    stack.run_until_idle()
    after = {c["id"]: c for c in tenant.hubspot.records("companies")}
    assert set(after) == others | {survivor}, "no duplicate company"
    assert stack.store.find_link(*link, survivor) == target
    if merge_new_id:
        assert stack.store.find_link(*link, known) is None and stack.store.find_link(*link, company) is None
    record = stack.store.get_record(tenant.id, target)
    assert record is not None and record.links["hs"] == survivor and record.links["eco"] == "500"
    assert [r.record_id for r in stack.store.records(tenant.id, ObjectType.CUSTOMER)].count(target) == 1
    assert len(list(stack.store.records(tenant.id, ObjectType.CUSTOMER))) == 2, "500 and the walk-in only"
    assert after[survivor]["properties"]["crmsync_customer_number"] == "500"
    assert "ida@nordlys.example" in [c["email"] for c in tenant.economic.contacts_of(500)]
    assert tenant.economic.customer_numbers() == [500, 999], "exactly one customer: nothing created"
