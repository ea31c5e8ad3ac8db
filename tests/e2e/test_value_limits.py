"""A value one vendor holds but the other cannot is parked with its reason, never truncated or sent to fail.

HubSpot takes 65,536 characters in any property; Dynamics 365 takes 80 in an account's city and 50 in a
contact's phone; e-conomic's customer city and contact phone hold 50 (``crmsync.text_rules``). The
accounting preflight refuses the write before e-conomic sees it. Every test runs once per CRM
(``crm_kind``) on the module's shared stack, with a tenant of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
TOO_LONG = 60


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """One e-conomic customer with one contact, transferred to the CRM (automatic mode), settled."""

    def seed(account: VendorAccount) -> None:
        account.economic.seed(1, contacts_per_customer=1, seed=5)

    t = add_seeded_tenant(stack, "limits", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    yield t
    retire(t)


def test_a_contact_phone_too_long_for_e_conomic_is_parked_with_the_reason(tenant: Tenant) -> None:
    if tenant.crm.kind == "dynamics":
        pytest.skip(
            "Dynamics' contact telephone1 holds 50 characters, as e-conomic's: no longer phone exists there"
        )
    stack = tenant.stack
    number = tenant.economic.customer_numbers()[0]
    (contact,) = tenant.economic.contacts_of(number)
    record_id = stack.store.find_link(
        tenant.id, ECONOMIC_CONNECTION, ObjectType.CONTACT, str(contact["number"])
    )
    assert record_id is not None
    record = stack.store.get_record(tenant.id, record_id)
    assert record is not None
    crm_id = record.links[tenant.crm.connection_id]
    phone_before = tenant.economic.get_contact(contact["number"]).get("phone")  # type: ignore[union-attr]

    tenant.crm.edit(ObjectType.CONTACT, crm_id, {"phone": "4" * TOO_LONG})
    stack.run_until_idle()

    reasons = [p.reason for p in stack.store.parked(tenant.id)]
    assert any(f"phone is {TOO_LONG} characters, longer than 50" in r for r in reasons), reasons
    after = tenant.economic.get_contact(contact["number"])
    assert after is not None and after.get("phone") == phone_before, "e-conomic kept its value"


def test_a_company_city_too_long_for_e_conomic_is_parked_with_the_reason(tenant: Tenant) -> None:
    stack = tenant.stack
    number = tenant.economic.customer_numbers()[0]
    record_id = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    assert record_id is not None
    record = stack.store.get_record(tenant.id, record_id)
    assert record is not None
    crm_id = record.links[tenant.crm.connection_id]
    city_before = tenant.economic.get_customer(number).get("city")
    eco_writes = tenant.economic.stats()["writes"]

    city = ("Sankt Klemens ved Odense " * 3)[:TOO_LONG]
    tenant.crm.edit(ObjectType.CUSTOMER, crm_id, {"city": city})
    stack.run_until_idle()

    row = tenant.crm.get(ObjectType.CUSTOMER, crm_id)
    assert row is not None and row.fields["city"] == city.strip(), "the CRM holds the whole value"
    reasons = [p.reason for p in stack.store.parked(tenant.id)]
    assert any(f"city is {len(city.strip())} characters, longer than 50" in r for r in reasons), reasons
    assert tenant.economic.get_customer(number).get("city") == city_before, "e-conomic kept its value"
    assert tenant.economic.stats()["writes"] == eco_writes, "nothing was sent to e-conomic"
