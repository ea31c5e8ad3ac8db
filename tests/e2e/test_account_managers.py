"""Account managers in a fixed order (issue 17 item 4): e-conomic employees matched to the CRM's users
(HubSpot owners, Dynamics system users) by id, then the CRM's employee id, then the name; the map is
rebuilt on request, shown with each user's tier or reason, and used by the sync both ways.

Runs once per CRM (``crm_kind``). HubSpot owners have no employee id, so there the second tier finds
nothing; a Dynamics user's id is a GUID, so there the first tier finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER = ObjectType.CUSTOMER


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """Two e-conomic customers transferred to the CRM (automatic mode); the account manager syncs both ways."""

    def seed(account: VendorAccount) -> None:
        account.economic.seed(2, contacts_per_customer=0, seed=17)

    t = add_seeded_tenant(stack, "managers", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    # the policy first: a config read after a refresh shows the automatic pairs in effect too
    config = ok(t.api("GET", "/config"))
    config["field_policy"]["customer"]["account_manager"] = {"direction": "both", "rule": "latest"}
    ok(t.api("PUT", "/config", config))
    yield t
    retire(t)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def people(tenant: Tenant) -> dict[str, str]:
    """Employees and CRM users: one found by id (HubSpot) or employee id (Dynamics), one by name, one
    ambiguous (two employees named Anna Berg). Returns role -> CRM user id."""
    eco = tenant.economic
    eco.add_employee(3, name="Anna Berg")
    eco.add_employee(7, name="Anna  berg")
    eco.add_employee(4, name="Bo Holm")
    eco.add_employee(5, name="Bo Holm", barred=True)  # barred: no candidate, so Bo Holm is one
    if tenant.crm_kind == "hubspot":
        by_number = tenant.hubspot.add_owner("ole@example.dk", "Ole", "Hansen")
        by_name = tenant.hubspot.add_owner("bo@example.dk", "Bo", "Holm")
        ambiguous = tenant.hubspot.add_owner("anna@example.dk", "Anna", "Berg")
        eco.add_employee(int(by_number), name="Somebody Else")
    else:
        dataverse = tenant.account.dynamics
        assert dataverse is not None
        by_number, by_name, ambiguous = dataverse.seed(
            "systemuser",
            [
                {"firstname": "Ole", "lastname": "Hansen", "employeeid": "12"},
                {"firstname": "Bo", "lastname": "Holm"},
                {"firstname": "Anna", "lastname": "Berg"},
            ],
        )
        eco.add_employee(12, name="Somebody Else")
    return {"by_number": by_number, "by_name": by_name, "ambiguous": ambiguous}


def company_of(tenant: Tenant, number: int) -> str:
    record_id = tenant.stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, CUSTOMER, str(number))
    assert record_id is not None
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None
    return record.links[tenant.crm.connection_id]


def sales_person(tenant: Tenant, number: int) -> int | None:
    return (tenant.economic.get_customer(number).get("salesPerson") or {}).get("employeeNumber")


def test_the_refresh_maps_each_user_by_the_first_tier_that_finds_one_employee(tenant: Tenant):
    assert ok(tenant.api("GET", "/account-managers")) == {"pairs": {}, "matches": [], "built_at": None}
    users = people(tenant)
    number_employee = "12" if tenant.crm_kind == "dynamics" else users["by_number"]
    number_tier = "employee_id" if tenant.crm_kind == "dynamics" else "id"

    built = ok(tenant.api("POST", "/account-managers/refresh"))
    shown = ok(tenant.api("GET", "/account-managers"))
    assert shown == built
    assert shown["pairs"] == {users["by_number"]: number_employee, users["by_name"]: "4"}
    by_user = {m["crm_user_id"]: m for m in shown["matches"]}
    assert (by_user[users["by_number"]]["tier"], by_user[users["by_number"]]["employee_number"]) == (
        number_tier,
        number_employee,
    )
    assert by_user[users["by_name"]]["tier"] == "name"
    anna = by_user[users["ambiguous"]]
    assert (anna["tier"], anna["employee_number"]) == (None, None)
    assert anna["reason"] == "ambiguous: employees 3 and 7 share the name Anna Berg"
    if tenant.crm_kind == "dynamics":
        assert not [
            m for m in shown["matches"] if m["crm_user_id"] == tenant.account.dynamics.application_user_id
        ]

    first, second = tenant.economic.customer_numbers()[:2]
    company = company_of(tenant, first)
    tenant.crm.edit(CUSTOMER, company, {"account_manager": users["by_name"]})
    tenant.stack.run_until_idle()
    assert sales_person(tenant, first) == 4, "the CRM owner reaches e-conomic as the mapped employee"

    tenant.economic.update_customer(first, salesPerson={"employeeNumber": int(number_employee)})
    tenant.stack.run_until_idle()
    row = tenant.crm.get(CUSTOMER, company)
    assert row is not None
    assert row.fields.get("account_manager") == users["by_number"], "and back: the employee as CRM owner"

    unmapped = company_of(tenant, second)
    tenant.crm.edit(CUSTOMER, unmapped, {"account_manager": users["ambiguous"]})
    tenant.stack.run_until_idle()
    assert sales_person(tenant, second) != 3 and sales_person(tenant, second) != 7, "ambiguous: not guessed"


def test_an_explicit_pair_wins_over_the_automatic_one(tenant: Tenant):
    users = people(tenant)
    config = ok(tenant.api("GET", "/config"))
    config["value_maps"] = {"account_manager": {"pairs": {users["by_name"]: "7"}}}
    ok(tenant.api("PUT", "/config", config))
    shown = ok(tenant.api("POST", "/account-managers/refresh"))
    by_user = {m["crm_user_id"]: m for m in shown["matches"]}
    assert (by_user[users["by_name"]]["tier"], by_user[users["by_name"]]["employee_number"]) == (
        "explicit",
        "7",
    )
    assert users["by_name"] not in shown["pairs"]
    anna = by_user[users["ambiguous"]]
    assert (anna["tier"], anna["employee_number"]) == ("name", "3"), "7 is taken: no candidate"

    number = tenant.economic.customer_numbers()[0]
    tenant.crm.edit(CUSTOMER, company_of(tenant, number), {"account_manager": users["by_name"]})
    tenant.stack.run_until_idle()
    assert sales_person(tenant, number) == 7
