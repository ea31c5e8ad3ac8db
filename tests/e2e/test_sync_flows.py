"""End to end on the local stack: moto server, both vendor fakes, gateway, the template's event sources.

Every change starts where a person would make it (e-conomic's or the CRM's UI, i.e. the fakes'
test-control methods, which fire the vendors' real webhooks) and is checked where the other person
would look (the other vendor's API state). Every test runs once per CRM (HubSpot, Dynamics 365:
``crm_kind``), acting on the CRM in canonical field names (``local.crm_side``).

The module shares one local stack (``tests/e2e/conftest.py``); every test gets its own vendor account
and tenant, seeded the same way, so no test sees another's data. Tests that read ``stack.stats`` or
``stack.queue_depth`` (which count every tenant's work) get a tenant on a stack of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.crm_side import CrmRow, contacts_of, find
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, own_stack, retire

pytestmark = pytest.mark.e2e
CUSTOMERS = 4
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


def _seed(account: VendorAccount) -> None:
    account.economic.seed(CUSTOMERS, contacts_per_customer=2, seed=11)


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """4 e-conomic customers with 2 contacts each, transferred to the CRM (automatic mode), settled."""
    t = add_seeded_tenant(stack, "acme", mode=SyncMode.AUTOMATIC, seed_vendors=_seed, crm=crm_kind)
    yield t
    retire(t)


@pytest.fixture
def solo_tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """The same tenant on a stack of its own: for tests that read ``stack.stats`` or
    ``stack.queue_depth``, which count every tenant of a stack, not just this one."""
    with own_stack(stack) as local:
        yield add_seeded_tenant(local, "acme", mode=SyncMode.AUTOMATIC, seed_vendors=_seed, crm=crm_kind)


def company_of(tenant: Tenant, number: int) -> CrmRow:
    matches = find(tenant.crm, CUSTOMER, "customer_number", str(number))
    assert len(matches) == 1, f"expected exactly one company for customer {number}, found {len(matches)}"
    return matches[0]


def crm_value(tenant: Tenant, company_id: str, field: str) -> object:
    row = tenant.crm.get(CUSTOMER, company_id)
    assert row is not None, f"company {company_id} is gone from the CRM"
    return row.fields.get(field)


def writes(tenant: Tenant) -> tuple[int, int]:
    return tenant.economic.stats()["writes"], tenant.crm.write_calls()


def accounting_owned_field(tenant: Tenant) -> str:
    """A customer field accounting owns and the tenant's CRM holds: payment terms (default policy).
    Dynamics has no payment-terms column (``DataverseMapping``), and of the accounting-owned fields only
    the customer number, which changes by renumbering; its tenant makes the website accounting's."""
    if tenant.crm.supports(CUSTOMER, "payment_terms"):
        return "payment_terms"
    response = tenant.api("GET", "/config")
    assert response.status_code == 200, response.text
    config = response.json()
    config["field_policy"]["customer"]["website"] = {"direction": "to_crm", "rule": "latest"}
    response = tenant.api("PUT", "/config", config)
    assert response.status_code == 200, response.text
    return "website"


def bookkeeper_edit(tenant: Tenant, number: int, field: str, *, fire_webhook: bool = True) -> str:
    """A bookkeeper changes the field in e-conomic; returns its new canonical value."""
    if field == "payment_terms":
        terms = new_terms(tenant, number)
        tenant.economic.update_customer(
            number, paymentTerms={"paymentTermsNumber": terms}, fire_webhook=fire_webhook
        )
        return str(terms)
    assert field == "website", field
    current = tenant.economic.get_customer(number).get("website")
    website = (
        "https://bogholderiet.example" if current != "https://bogholderiet.example" else "https://b.example"
    )
    tenant.economic.update_customer(number, website=website, fire_webhook=fire_webhook)
    return website


def test_initial_transfer_creates_companies_and_contacts_attached_to_the_right_company(
    stack: LocalStack, tenant: Tenant
):
    numbers = tenant.economic.customer_numbers()
    assert len(tenant.crm.rows(CUSTOMER)) == CUSTOMERS
    assert len(tenant.crm.rows(CONTACT)) == 2 * CUSTOMERS
    for number in numbers:
        company = company_of(tenant, number)
        eco = tenant.economic.get_customer(number)
        assert company.fields["name"] == eco["name"]
        assert company.fields.get("city") == eco.get("city")
        eco_contacts = {c["email"] for c in tenant.economic.contacts_of(number)}
        crm_contacts = {c.fields["email"] for c in contacts_of(tenant.crm, company.id)}
        assert crm_contacts == eco_contacts and len(crm_contacts) == 2


def test_crm_company_and_contact_round_trip_to_economic_and_number_comes_back(
    stack: LocalStack, tenant: Tenant
):
    company_id = tenant.crm.create(CUSTOMER, {"name": "Nordlys Energi ApS", "city": "Aalborg"})
    tenant.crm.create(CONTACT, {"name": "Sofie Lund", "email": "sofie@nordlys.example"}, parent_id=company_id)
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
    assert crm_value(tenant, company_id, "customer_number") == str(number)
    assert len(tenant.crm.rows(CUSTOMER)) == CUSTOMERS + 1, "no duplicate company"


def new_terms(tenant: Tenant, number: int) -> int:
    current = tenant.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
    return 8 if current != 8 else 7


def test_edit_in_economic_reaches_the_crm_and_its_echo_writes_nothing(solo_tenant: Tenant):
    """An accounting-owned field (payment terms by default): a bookkeeper's change reaches the CRM."""
    # Own stack (``solo_tenant``): ``stack.stats`` counts the signals and stream records of every tenant.
    tenant, stack = solo_tenant, solo_tenant.stack
    number = tenant.economic.customer_numbers()[0]
    company = company_of(tenant, number)
    field = accounting_owned_field(tenant)
    eco_writes, crm_writes = writes(tenant)
    signals_before = stack.stats.signals
    stream_before = stack.stats.stream_records
    crm_events_before = tenant.crm.change_events()
    value = bookkeeper_edit(tenant, number, field)
    stack.run_until_idle()
    assert stack.stats.stream_records - stream_before == 1, (
        "the push got the reconciled record, not its own save of the CRM's new state (origin 'base')"
    )
    assert crm_value(tenant, company.id, field) == value
    assert writes(tenant) == (eco_writes, crm_writes + 1), (
        "one CRM write for the edit; nothing back to e-conomic"
    )
    assert tenant.crm.change_events() > crm_events_before, "the CRM announced our write"
    assert stack.stats.signals - signals_before == 1, (
        "only e-conomic's webhook became a signal: the CRM's event for crmsync's own write is dropped at ingestion"
    )


def test_edit_in_the_crm_reaches_economic_and_keeps_fields_crmsync_does_not_own(
    stack: LocalStack, tenant: Tenant
):
    number = tenant.economic.customer_numbers()[1]
    company = company_of(tenant, number)
    # a bookkeeper sets fields crmsync does not sync
    tenant.economic.update_customer(
        number, ean="5798000000011", mobilePhone="+45 20 30 40 50", creditLimit=25000.0
    )
    stack.run_until_idle()
    eco_writes, crm_writes = writes(tenant)
    tenant.crm.edit(CUSTOMER, company.id, {"phone": "+45 70 10 20 30"})
    stack.run_until_idle()
    customer = tenant.economic.get_customer(number)
    assert customer["telephoneAndFaxNumber"] == "+45 70 10 20 30"
    assert (customer.get("ean"), customer.get("mobilePhone"), customer.get("creditLimit")) == (
        "5798000000011",
        "+45 20 30 40 50",
        25000.0,
    )
    assert writes(tenant) == (eco_writes + 1, crm_writes), (
        "one e-conomic write; its echo writes nothing to the CRM"
    )


def test_contact_edit_in_the_crm_reaches_economic_contact(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[2]
    company = company_of(tenant, number)
    contact = contacts_of(tenant.crm, company.id)[0]
    tenant.crm.edit(CONTACT, contact.id, {"phone": "+45 11 22 33 44"})
    stack.run_until_idle()
    phones = {c["email"]: c.get("phone") for c in tenant.economic.contacts_of(number)}
    assert phones[contact.fields["email"]] == "+45 11 22 33 44"
    assert sum(phone == "+45 11 22 33 44" for phone in phones.values()) == 1, "only that contact changed"


def test_unchanged_pull_makes_zero_vendor_writes(stack: LocalStack, tenant: Tenant):
    before = writes(tenant)
    result = stack.run_pull()
    stack.run_until_idle()
    assert result["seen"] > 0, "the lookback window re-reads recent records"
    assert writes(tenant) == before
    assert result["enqueued"] == 0, "and finds them as crmsync last saw them: nothing is enqueued"


def test_renumbered_customer_keeps_its_link_and_record(stack: LocalStack, tenant: Tenant):
    old = tenant.economic.customer_numbers()[0]
    company = company_of(tenant, old)
    record_id = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(old))
    tenant.economic.renumber(old, 9001)
    stack.run_until_idle()
    assert stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, "9001") == record_id
    assert stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(old)) is None
    assert company_of(tenant, 9001).id == company.id
    assert len(tenant.crm.rows(CUSTOMER)) == CUSTOMERS, "no duplicate company"
    record = stack.store.get_record(tenant.id, record_id)
    assert record.links[tenant.crm.connection_id] == company.id


def test_duplicated_economic_webhook_is_processed_once(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[3]
    field = accounting_owned_field(tenant)
    value = bookkeeper_edit(tenant, number, field, fire_webhook=False)
    url = f"/webhooks/economic/{tenant.id}/{ECONOMIC_CONNECTION}?key=local-webhook-key&old={number}&new={number}"
    crm_writes = tenant.crm.write_calls()
    assert stack.http.post(url, json={}).status_code == 200
    assert stack.http.post(url, json={}).status_code == 200
    stack.run_until_idle()
    assert company_of(tenant, number).fields[field] == value
    assert tenant.crm.write_calls() == crm_writes + 1


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
    assert body["links"][tenant.crm.connection_id] == company_of(tenant, number).id
    assert body["bases"][tenant.crm.connection_id]["written_by_us"] is True
    sync = stack.http.post(
        f"/tenants/{tenant.id}/records/{record_id}/sync", headers={"Authorization": f"Bearer {tenant.token}"}
    )
    assert sync.status_code == 200
    assert {c["decision"] for c in sync.json()["connections"].values()} <= {"unchanged", "echo"}
