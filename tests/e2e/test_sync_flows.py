"""End to end on the local stack: moto server, both vendor fakes, gateway, the template's event sources.

Every change starts where a person would make it (e-conomic's or HubSpot's UI, i.e. the fakes'
test-control methods, which fire the vendors' real webhooks) and is checked where the other person
would look (the other vendor's API state).

The module shares one local stack (``tests/e2e/conftest.py``); every test gets its own vendor account
and tenant, seeded the same way, so no test sees another's data. Tests that read ``stack.stats`` or
``stack.queue_depth`` (which count every tenant's work) get a tenant on a stack of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, own_stack, retire

pytestmark = pytest.mark.e2e
CUSTOMERS = 4


def _seed(account: VendorAccount) -> None:
    account.economic.seed(CUSTOMERS, contacts_per_customer=2, seed=11)


@pytest.fixture
def tenant(stack: LocalStack) -> Iterator[Tenant]:
    """4 e-conomic customers with 2 contacts each, transferred to HubSpot (automatic mode), settled."""
    t = add_seeded_tenant(stack, "acme", mode=SyncMode.AUTOMATIC, seed_vendors=_seed)
    yield t
    retire(t)


@pytest.fixture
def solo_tenant(stack: LocalStack) -> Iterator[Tenant]:
    """The same tenant on a stack of its own: for tests that read ``stack.stats`` or
    ``stack.queue_depth``, which count every tenant of a stack, not just this one."""
    with own_stack(stack) as local:
        yield add_seeded_tenant(local, "acme", mode=SyncMode.AUTOMATIC, seed_vendors=_seed)


def company_of(tenant: Tenant, number: int) -> dict:
    matches = [
        c
        for c in tenant.hubspot.records("companies")
        if c["properties"].get("crmsync_customer_number") == str(number)
    ]
    assert len(matches) == 1, f"expected exactly one company for customer {number}, found {len(matches)}"
    return matches[0]


def writes(tenant: Tenant) -> tuple[int, int]:
    return tenant.economic.stats()["writes"], tenant.hubspot.stats()["writes"]


def test_initial_transfer_creates_companies_and_contacts_attached_to_the_right_company(
    stack: LocalStack, tenant: Tenant
):
    numbers = tenant.economic.customer_numbers()
    assert len(tenant.hubspot.records("companies")) == CUSTOMERS
    for number in numbers:
        company = company_of(tenant, number)
        eco = tenant.economic.get_customer(number)
        assert company["properties"]["name"] == eco["name"]
        assert company["properties"].get("city") == eco.get("city")
        eco_contacts = {c["email"] for c in tenant.economic.contacts_of(number)}
        hs_contacts = {
            c["properties"]["email"]
            for c in tenant.hubspot.records("contacts")
            if company["id"] in c.get("associations", {}).get("companies", [])
        }
        assert hs_contacts == eco_contacts and len(hs_contacts) == 2


def test_hubspot_company_and_contact_round_trip_to_economic_and_number_comes_back(
    stack: LocalStack, tenant: Tenant
):
    company_id = tenant.hubspot.create("companies", {"name": "Nordlys Energi ApS", "city": "Aalborg"})
    contact_id = tenant.hubspot.create(
        "contacts", {"firstname": "Sofie", "lastname": "Lund", "email": "sofie@nordlys.example"}
    )
    tenant.hubspot.associate(contact_id, company_id)
    stack.run_until_idle()
    created = [
        n
        for n in tenant.economic.customer_numbers()
        if tenant.economic.get_customer(n)["name"] == "Nordlys Energi ApS"
    ]
    assert len(created) == 1
    number = created[0]
    customer = tenant.economic.get_customer(number)
    assert customer["city"] == "Aalborg"
    assert customer["customerGroup"]["customerGroupNumber"] == 1  # tenant default ref
    (contact,) = tenant.economic.contacts_of(number)
    assert (contact["name"], contact["email"]) == ("Sofie Lund", "sofie@nordlys.example")
    company = tenant.hubspot.record("companies", company_id)
    assert company["properties"]["crmsync_customer_number"] == str(number)


def new_terms(tenant: Tenant, number: int) -> int:
    current = tenant.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
    return 8 if current != 8 else 7


def test_edit_in_economic_reaches_hubspot_and_its_echo_writes_nothing(solo_tenant: Tenant):
    """Payment terms are accounting's field (default policy): a bookkeeper's change reaches the CRM."""
    # Own stack (``solo_tenant``): ``stack.stats`` counts the signals and stream records of every tenant.
    tenant, stack = solo_tenant, solo_tenant.stack
    number = tenant.economic.customer_numbers()[0]
    company = company_of(tenant, number)
    eco_writes, hs_writes = writes(tenant)
    signals_before = stack.stats.signals
    stream_before = stack.stats.stream_records
    hs_events_before = tenant.hubspot.stats()["webhooks"]["events"]
    terms = new_terms(tenant, number)
    tenant.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
    stack.run_until_idle()
    assert stack.stats.stream_records - stream_before == 1, (
        "the push got the reconciled record, not its own save of HubSpot's new state (origin 'base')"
    )
    props = tenant.hubspot.record("companies", company["id"])["properties"]
    assert props["crmsync_payment_terms"] == str(terms)
    assert writes(tenant) == (eco_writes, hs_writes + 1), (
        "one HubSpot write for the edit; nothing back to e-conomic"
    )
    assert tenant.hubspot.stats()["webhooks"]["events"] > hs_events_before, "HubSpot announced our write"
    assert stack.stats.signals - signals_before == 1, (
        "only e-conomic's webhook became a signal: HubSpot's event for crmsync's own write is dropped at ingestion"
    )


def test_edit_in_hubspot_reaches_economic_and_keeps_fields_crmsync_does_not_own(
    stack: LocalStack, tenant: Tenant
):
    number = tenant.economic.customer_numbers()[1]
    company = company_of(tenant, number)
    # a bookkeeper sets fields crmsync does not sync
    tenant.economic.update_customer(
        number, ean="5798000000011", mobilePhone="+45 20 30 40 50", creditLimit=25000.0
    )
    stack.run_until_idle()
    eco_writes, hs_writes = writes(tenant)
    tenant.hubspot.edit("companies", company["id"], {"phone": "+45 70 10 20 30"})
    stack.run_until_idle()
    customer = tenant.economic.get_customer(number)
    assert customer["telephoneAndFaxNumber"] == "+45 70 10 20 30"
    assert (customer.get("ean"), customer.get("mobilePhone"), customer.get("creditLimit")) == (
        "5798000000011",
        "+45 20 30 40 50",
        25000.0,
    )
    assert writes(tenant) == (eco_writes + 1, hs_writes), (
        "one e-conomic write; its echo writes nothing to HubSpot"
    )


def test_contact_edit_in_hubspot_reaches_economic_contact(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[2]
    company = company_of(tenant, number)
    contact = next(
        c
        for c in tenant.hubspot.records("contacts")
        if company["id"] in c.get("associations", {}).get("companies", [])
    )
    tenant.hubspot.edit("contacts", contact["id"], {"phone": "+45 11 22 33 44"})
    stack.run_until_idle()
    phones = {c["email"]: c.get("phone") for c in tenant.economic.contacts_of(number)}
    assert phones[contact["properties"]["email"]] == "+45 11 22 33 44"


def test_unchanged_pull_makes_zero_vendor_writes(stack: LocalStack, tenant: Tenant):
    before = writes(tenant)
    result = stack.run_pull()
    stack.run_until_idle()
    assert result["seen"] > 0, "the lookback window re-reads recent records"
    assert result["enqueued"] == 0, "and finds them as crmsync last saw them: nothing is enqueued"
    assert writes(tenant) == before


def test_renumbered_customer_keeps_its_link_and_record(stack: LocalStack, tenant: Tenant):
    old = tenant.economic.customer_numbers()[0]
    company = company_of(tenant, old)
    record_id = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(old))
    tenant.economic.renumber(old, 9001)
    stack.run_until_idle()
    assert stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, "9001") == record_id
    assert stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(old)) is None
    assert company_of(tenant, 9001)["id"] == company["id"]
    assert len(tenant.hubspot.records("companies")) == CUSTOMERS, "no duplicate company"
    record = stack.store.get_record(tenant.id, record_id)
    assert record.links[HUBSPOT_CONNECTION] == company["id"]


def test_duplicated_economic_webhook_is_processed_once(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[3]
    terms = new_terms(tenant, number)
    tenant.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms}, fire_webhook=False)
    url = f"/webhooks/economic/{tenant.id}/{ECONOMIC_CONNECTION}?key=local-webhook-key&old={number}&new={number}"
    hs_writes = tenant.hubspot.stats()["writes"]
    assert stack.http.post(url, json={}).status_code == 200
    assert stack.http.post(url, json={}).status_code == 200
    stack.run_until_idle()
    assert company_of(tenant, number)["properties"]["crmsync_payment_terms"] == str(terms)
    assert tenant.hubspot.stats()["writes"] == hs_writes + 1


def test_webhook_with_wrong_key_through_the_gateway_is_401(solo_tenant: Tenant):
    # Own stack (``solo_tenant``): ``stack.queue_depth`` counts every tenant's messages.
    tenant, stack = solo_tenant, solo_tenant.stack
    url = f"/webhooks/economic/{tenant.id}/{ECONOMIC_CONNECTION}?key=wrong&old=1&new=1"
    response = stack.http.post(url, json={})
    assert response.status_code == 401
    assert stack.queue_depth("SignalsQueue") == 0


def test_api_shows_the_record_with_links_and_bases(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[0]
    record_id = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    response = stack.http.get(
        f"/tenants/{tenant.id}/records/{record_id}", headers={"Authorization": f"Bearer {tenant.token}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["links"][ECONOMIC_CONNECTION] == str(number)
    assert body["bases"][HUBSPOT_CONNECTION]["written_by_us"] is True
    sync = stack.http.post(
        f"/tenants/{tenant.id}/records/{record_id}/sync", headers={"Authorization": f"Bearer {tenant.token}"}
    )
    assert sync.status_code == 200
    assert {c["decision"] for c in sync.json()["connections"].values()} <= {"unchanged", "echo"}
