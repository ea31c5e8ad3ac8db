"""End to end on the local stack: moto server, both vendor fakes, gateway, the template's event sources.

Every change starts where a person would make it (e-conomic's or HubSpot's UI, i.e. the fakes'
test-control methods, which fire the vendors' real webhooks) and is checked where the other person
would look (the other vendor's API state).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "acme"
CUSTOMERS = 4


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(CUSTOMERS, contacts_per_customer=2, seed=11)
        local.token = local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)  # type: ignore[attr-defined]
        local.run_pull()
        local.run_until_idle()
        yield local


def company_of(stack: LocalStack, number: int) -> dict:
    matches = [
        c
        for c in stack.hubspot.records("companies")
        if c["properties"].get("crmsync_customer_number") == str(number)
    ]
    assert len(matches) == 1, f"expected exactly one company for customer {number}, found {len(matches)}"
    return matches[0]


def writes(stack: LocalStack) -> tuple[int, int]:
    return stack.economic.stats()["writes"], stack.hubspot.stats()["writes"]


def test_initial_transfer_creates_companies_and_contacts_attached_to_the_right_company(stack: LocalStack):
    numbers = stack.economic.customer_numbers()
    assert len(stack.hubspot.records("companies")) == CUSTOMERS
    for number in numbers:
        company = company_of(stack, number)
        eco = stack.economic.get_customer(number)
        assert company["properties"]["name"] == eco["name"]
        assert company["properties"].get("city") == eco.get("city")
        eco_contacts = {c["email"] for c in stack.economic.contacts_of(number)}
        hs_contacts = {
            c["properties"]["email"]
            for c in stack.hubspot.records("contacts")
            if company["id"] in c.get("associations", {}).get("companies", [])
        }
        assert hs_contacts == eco_contacts and len(hs_contacts) == 2


def test_hubspot_company_and_contact_round_trip_to_economic_and_number_comes_back(stack: LocalStack):
    company_id = stack.hubspot.create("companies", {"name": "Nordlys Energi ApS", "city": "Aalborg"})
    contact_id = stack.hubspot.create(
        "contacts", {"firstname": "Sofie", "lastname": "Lund", "email": "sofie@nordlys.example"}
    )
    stack.hubspot.associate(contact_id, company_id)
    stack.run_until_idle()
    created = [
        n
        for n in stack.economic.customer_numbers()
        if stack.economic.get_customer(n)["name"] == "Nordlys Energi ApS"
    ]
    assert len(created) == 1
    number = created[0]
    customer = stack.economic.get_customer(number)
    assert customer["city"] == "Aalborg"
    assert customer["customerGroup"]["customerGroupNumber"] == 1  # tenant default ref
    (contact,) = stack.economic.contacts_of(number)
    assert (contact["name"], contact["email"]) == ("Sofie Lund", "sofie@nordlys.example")
    company = stack.hubspot.record("companies", company_id)
    assert company["properties"]["crmsync_customer_number"] == str(number)


def new_terms(stack: LocalStack, number: int) -> int:
    current = stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
    return 8 if current != 8 else 7


def test_edit_in_economic_reaches_hubspot_and_its_echo_writes_nothing(stack: LocalStack):
    """Payment terms are accounting's field (default policy): a bookkeeper's change reaches the CRM."""
    number = stack.economic.customer_numbers()[0]
    company = company_of(stack, number)
    eco_writes, hs_writes = writes(stack)
    signals_before = stack.stats.signals
    stream_before = stack.stats.stream_records
    hs_events_before = stack.hubspot.stats()["webhooks"]["events"]
    terms = new_terms(stack, number)
    stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
    stack.run_until_idle()
    assert stack.stats.stream_records - stream_before == 1, (
        "the push got the reconciled record, not its own save of HubSpot's new state (origin 'base')"
    )
    props = stack.hubspot.record("companies", company["id"])["properties"]
    assert props["crmsync_payment_terms"] == str(terms)
    assert writes(stack) == (eco_writes, hs_writes + 1), (
        "one HubSpot write for the edit; nothing back to e-conomic"
    )
    assert stack.hubspot.stats()["webhooks"]["events"] > hs_events_before, "HubSpot announced our write"
    assert stack.stats.signals - signals_before == 1, (
        "only e-conomic's webhook became a signal: HubSpot's event for crmsync's own write is dropped at ingestion"
    )


def test_edit_in_hubspot_reaches_economic_and_keeps_fields_crmsync_does_not_own(stack: LocalStack):
    number = stack.economic.customer_numbers()[1]
    company = company_of(stack, number)
    # a bookkeeper sets fields crmsync does not sync
    stack.economic.update_customer(
        number, ean="5798000000011", mobilePhone="+45 20 30 40 50", creditLimit=25000.0
    )
    stack.run_until_idle()
    eco_writes, hs_writes = writes(stack)
    stack.hubspot.edit("companies", company["id"], {"phone": "+45 70 10 20 30"})
    stack.run_until_idle()
    customer = stack.economic.get_customer(number)
    assert customer["telephoneAndFaxNumber"] == "+45 70 10 20 30"
    assert (customer.get("ean"), customer.get("mobilePhone"), customer.get("creditLimit")) == (
        "5798000000011",
        "+45 20 30 40 50",
        25000.0,
    )
    assert writes(stack) == (eco_writes + 1, hs_writes), (
        "one e-conomic write; its echo writes nothing to HubSpot"
    )


def test_contact_edit_in_hubspot_reaches_economic_contact(stack: LocalStack):
    number = stack.economic.customer_numbers()[2]
    company = company_of(stack, number)
    contact = next(
        c
        for c in stack.hubspot.records("contacts")
        if company["id"] in c.get("associations", {}).get("companies", [])
    )
    stack.hubspot.edit("contacts", contact["id"], {"phone": "+45 11 22 33 44"})
    stack.run_until_idle()
    phones = {c["email"]: c.get("phone") for c in stack.economic.contacts_of(number)}
    assert phones[contact["properties"]["email"]] == "+45 11 22 33 44"


def test_unchanged_pull_makes_zero_vendor_writes(stack: LocalStack):
    before = writes(stack)
    result = stack.run_pull()
    stack.run_until_idle()
    assert result["seen"] > 0, "the lookback window re-reads recent records"
    assert result["enqueued"] == 0, "and finds them as crmsync last saw them: nothing is enqueued"
    assert writes(stack) == before


def test_renumbered_customer_keeps_its_link_and_record(stack: LocalStack):
    old = stack.economic.customer_numbers()[0]
    company = company_of(stack, old)
    record_id = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(old))
    stack.economic.renumber(old, 9001)
    stack.run_until_idle()
    assert stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, "9001") == record_id
    assert stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(old)) is None
    assert company_of(stack, 9001)["id"] == company["id"]
    assert len(stack.hubspot.records("companies")) == CUSTOMERS, "no duplicate company"
    record = stack.store.get_record(TENANT, record_id)
    assert record.links[HUBSPOT_CONNECTION] == company["id"]


def test_duplicated_economic_webhook_is_processed_once(stack: LocalStack):
    number = stack.economic.customer_numbers()[3]
    terms = new_terms(stack, number)
    stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms}, fire_webhook=False)
    url = f"/webhooks/economic/{TENANT}/{ECONOMIC_CONNECTION}?key=local-webhook-key&old={number}&new={number}"
    hs_writes = stack.hubspot.stats()["writes"]
    assert stack.http.post(url, json={}).status_code == 200
    assert stack.http.post(url, json={}).status_code == 200
    stack.run_until_idle()
    assert company_of(stack, number)["properties"]["crmsync_payment_terms"] == str(terms)
    assert stack.hubspot.stats()["writes"] == hs_writes + 1


def test_webhook_with_wrong_key_through_the_gateway_is_401(stack: LocalStack):
    url = f"/webhooks/economic/{TENANT}/{ECONOMIC_CONNECTION}?key=wrong&old=1&new=1"
    response = stack.http.post(url, json={})
    assert response.status_code == 401
    assert stack.queue_depth("SignalsQueue") == 0


def test_api_shows_the_record_with_links_and_bases(stack: LocalStack):
    number = stack.economic.customer_numbers()[0]
    record_id = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    response = stack.http.get(
        f"/tenants/{TENANT}/records/{record_id}", headers={"Authorization": f"Bearer {stack.token}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["links"][ECONOMIC_CONNECTION] == str(number)
    assert body["bases"][HUBSPOT_CONNECTION]["written_by_us"] is True
    sync = stack.http.post(
        f"/tenants/{TENANT}/records/{record_id}/sync", headers={"Authorization": f"Bearer {stack.token}"}
    )
    assert sync.status_code == 200
    assert {c["decision"] for c in sync.json()["connections"].values()} <= {"unchanged", "echo"}
