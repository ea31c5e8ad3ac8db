"""An e-conomic renumbering moves a link only when e-conomic itself shows it (old number gone, new there,
new not linked to another record); any other ``old != new`` webhook is two ordinary signals.

Every test runs once per CRM (``crm_kind``): the renumber is e-conomic's, the CRM's company must stay the
one company of that customer either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.crm_side import CUSTOMER, find
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
KEY = "local-webhook-key"  # LocalStack.add_tenant's default webhook secret


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """A tenant of its own on the module's shared stack: 4 customers with a contact each, settled."""

    def seed(account: Any) -> None:
        account.economic.seed(4, contacts_per_customer=1, seed=33)

    tenant = add_seeded_tenant(stack, "renco", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    yield tenant
    retire(tenant)


def link_of(tenant: Tenant, number: int | str) -> str | None:
    return tenant.stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))


def linked(tenant: Tenant, index: int) -> tuple[int, str, str]:
    number = tenant.economic.customer_numbers()[index]
    record_id = link_of(tenant, number)
    assert record_id is not None
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None
    return number, record.links[tenant.crm.connection_id], record_id


def customer_fields(tenant: Tenant, number: int) -> dict[str, Any]:
    customer = tenant.economic.get_customer(number)
    assert customer is not None
    return {k: customer.get(k) for k in ("name", "city", "address", "email", "telephoneAndFaxNumber")}


def companies_with_number(tenant: Tenant, number: int) -> list[str]:
    return [row.id for row in find(tenant.crm, CUSTOMER, "customer_number", str(number))]


def company_ids(tenant: Tenant) -> set[str]:
    return {row.id for row in tenant.crm.rows(CUSTOMER)}


def post_renumber(tenant: Tenant, old: int, new: int) -> None:
    url = f"/webhooks/economic/{tenant.id}/{ECONOMIC_CONNECTION}?key={KEY}&old={old}&new={new}"
    response = tenant.stack.http.post(url, json={})
    assert response.status_code == 200, response.text


def test_a_forged_renumber_between_two_existing_customers_moves_nothing(tenant: Tenant):
    old, company_id, record_id = linked(tenant, 1)
    # A customer crmsync has never seen (no webhook), with a name and city of its own.
    new = tenant.economic.add_customer(name="Aldrig Set ApS", city="Vejle", fire_webhook=False)
    before = customer_fields(tenant, new)

    post_renumber(tenant, old, new)
    tenant.stack.run_until_idle()

    assert link_of(tenant, old) == record_id, "the old number keeps its link"
    assert link_of(tenant, new) != record_id, "the never-seen customer is not taken over"
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None and record.links[ECONOMIC_CONNECTION] == str(old)
    assert record.links[tenant.crm.connection_id] == company_id
    assert customer_fields(tenant, new) == before, "nothing is overwritten on the other customer"

    tenant.stack.run_pull()
    tenant.stack.run_until_idle()
    assert companies_with_number(tenant, old) == [company_id], "no second CRM company for the old customer"
    assert customer_fields(tenant, new) == before
    assert link_of(tenant, old) == record_id


def test_a_real_renumber_still_moves_the_link(tenant: Tenant):
    old, company_id, record_id = linked(tenant, 2)
    companies = len(company_ids(tenant))
    before = customer_fields(tenant, old)

    tenant.economic.renumber(old, 9001)
    tenant.stack.run_until_idle()

    assert link_of(tenant, 9001) == record_id
    assert link_of(tenant, old) is None
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None and record.links == {
        ECONOMIC_CONNECTION: "9001",
        tenant.crm.connection_id: company_id,
    }
    assert customer_fields(tenant, 9001) == before
    tenant.stack.run_pull()
    tenant.stack.run_until_idle()
    assert len(company_ids(tenant)) == companies, "no duplicate company"
    assert companies_with_number(tenant, 9001) == [company_id]


def test_a_renumber_onto_a_number_linked_to_another_record_does_not_steal_it(tenant: Tenant):
    old, old_company, old_record = linked(tenant, 0)
    taken, taken_company, taken_record = linked(tenant, 3)
    taken_before = customer_fields(tenant, taken)
    # The old number is really gone (deleted without a webhook): only the number it would move to is taken.
    tenant.economic.delete_customer(old, fire_webhook=False)

    post_renumber(tenant, old, taken)
    tenant.stack.run_until_idle()

    assert link_of(tenant, taken) == taken_record, "the other record keeps its link"
    assert link_of(tenant, old) == old_record, "the old record keeps its own"
    taken_rec = tenant.stack.store.get_record(tenant.id, taken_record)
    assert taken_rec is not None and taken_rec.links[tenant.crm.connection_id] == taken_company
    assert customer_fields(tenant, taken) == taken_before, "nothing is overwritten on the taken number"
    # The old number was handled as an ordinary signal of its own: e-conomic's 404 is a tombstone.
    old_rec = tenant.stack.store.get_record(tenant.id, old_record)
    assert old_rec is not None and old_rec.links[ECONOMIC_CONNECTION] == str(old)
    assert old_rec.bases[ECONOMIC_CONNECTION].deleted
    assert old_company in company_ids(tenant)
    tenant.stack.run_pull()
    tenant.stack.run_until_idle()
    assert companies_with_number(tenant, taken) == [taken_company]
