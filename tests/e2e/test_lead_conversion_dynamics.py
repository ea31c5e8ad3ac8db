"""Lead conversion for a tenant whose CRM is Dynamics 365: every outcome through the whole local stack.

The module shares one local stack (``tests/e2e/conftest.py``); every test gets its own vendor account
(e-conomic agreement and Dynamics organisation) and tenant, so no test sees another's data. A Dynamics
lead is a row of its own (``leads``); converting it qualifies it (``QualifyLead``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crmsync import leads, runtime
from crmsync.models import ObjectType, Record, SyncMode
from local.fakes.dataverse import DataverseFake
from local.stack import LocalStack
from local.vendors import DYNAMICS_CONNECTION, ECONOMIC_CONNECTION, VendorAccount
from tests.e2e.conftest import unique_name

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
QUALIFY = "POST leads({key})/Microsoft.Dynamics.CRM.QualifyLead"
CUSTOMER_DEFAULTS = {
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}


class DynamicsTenant:
    """A manual-mode tenant on e-conomic and its own Dynamics organisation; customers 500 (Nordlys
    Energi ApS) and 999 (the walk-in cash customer) in e-conomic, none of them in Dynamics yet."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.id = unique_name("dynlead")
        self.account: VendorAccount = stack.add_account(self.id)
        economic = self.account.economic
        economic.add_customer(
            {"customerNumber": 500, "name": "Nordlys Energi ApS", "city": "Aalborg", "zip": "9000"}
            | CUSTOMER_DEFAULTS,
            fire_webhook=False,
        )
        economic.add_customer(
            {"customerNumber": 999, "name": "Kontantsalg"} | CUSTOMER_DEFAULTS, fire_webhook=False
        )
        self.token = stack.add_tenant(self.id, account=self.id, mode=SyncMode.MANUAL, crm="dynamics")
        config = stack.store.get_config(self.id)
        assert config is not None
        stack.store.put_config(config.model_copy(update={"walk_in_customer_number": "999"}))
        assert self.account.dynamics is not None
        self.dynamics: DataverseFake = self.account.dynamics
        stack.run_pull()
        stack.run_until_idle()

    def lead(self, **columns: Any) -> str:
        values = {"subject": "Interesse", "firstname": "Ida", "lastname": "Holm", **columns}
        (lead_id,) = self.dynamics.seed("lead", [values])
        return lead_id

    def convert(self, lead_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.stack.http.post(
            f"/tenants/{self.id}/leads/{lead_id}/convert",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def customers(self) -> list[int]:
        return self.account.economic.customer_numbers()

    def record_of(self, conn: str, obj: ObjectType, external_id: str) -> Record | None:
        rid = self.stack.store.find_link(self.id, conn, obj, external_id)
        return self.stack.store.get_record(self.id, rid) if rid else None

    def row(self, table: str, row_id: str) -> dict[str, Any]:
        found = self.dynamics.row(table, row_id)
        assert found is not None, f"{table} {row_id} exists"
        return found

    def made_from(self, table: str, lead_id: str) -> list[dict[str, Any]]:
        return [r for r in self.dynamics.rows(table) if r.get("_originatingleadid_value") == lead_id]

    def writes(self) -> dict[str, int]:
        """Dynamics calls that are not reads (the token endpoint is not Dynamics data)."""
        calls = self.dynamics.stats["calls"]
        return {k: v for k, v in calls.items() if not k.startswith("GET") and "oauth2" not in k}


@pytest.fixture
def tenant(stack: LocalStack) -> Iterator[DynamicsTenant]:
    t = DynamicsTenant(stack)
    yield t
    stack.set_mode(t.id, SyncMode.OFF)  # as conftest.retire: later scheduled pulls skip it


def test_create_new_qualifies_once_and_numbers_the_account(stack: LocalStack, tenant: DynamicsTenant) -> None:
    lead_id = tenant.lead(companyname="Fjordbyen Bryghus ApS", emailaddress1="ida@fjordbyen.example")
    first = tenant.convert(lead_id, {"action": "create_new"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["status"], body["outcome"]) == ("converted", "created")
    number = int(body["customer_number"])
    assert number not in (500, 999) and len(tenant.customers()) == 3, "exactly one new customer"
    stack.run_until_idle()

    (account,) = tenant.made_from("account", lead_id)
    (contact,) = tenant.made_from("contact", lead_id)
    assert account["name"] == "Fjordbyen Bryghus ApS"
    assert tenant.row("account", account["accountid"])["accountnumber"] == str(number)
    assert contact["_parentcustomerid_value"] == account["accountid"], "the contact is under the account"
    assert tenant.row("lead", lead_id)["statecode"] == 1, "qualified"
    record = tenant.record_of(DYNAMICS_CONNECTION, ObjectType.CUSTOMER, account["accountid"])
    assert record is not None and record.record_id == body["record_id"]
    assert record.links[ECONOMIC_CONNECTION] == str(number)
    assert [c["email"] for c in tenant.account.economic.contacts_of(number)] == ["ida@fjordbyen.example"]

    again = tenant.convert(lead_id, {"object_type": "lead", "action": "create_new"})
    assert again.status_code == 200 and again.json() == body, "the same answer: exactly once"
    assert tenant.dynamics.stats["calls"][QUALIFY] == 1
    assert len(tenant.customers()) == 3
    assert len(tenant.dynamics.rows("account")) == 1 and len(tenant.dynamics.rows("contact")) == 1


def test_a_retry_after_the_idempotency_record_reuses_what_qualifying_made(
    stack: LocalStack, tenant: DynamicsTenant
) -> None:
    """Without the idempotency layer (its record expired, or a crash before it was saved) the lead is
    qualified already: the account and contact it made are found by originatingleadid and reused."""
    lead_id = tenant.lead(companyname="Genbrug Vest ApS", emailaddress1="ida@genbrug.example")
    first = tenant.convert(lead_id, {"action": "create_new"})
    assert first.status_code == 200, first.text
    stack.run_until_idle()
    writes = tenant.writes()
    retried = leads.convert(runtime.context(), tenant.id, lead_id, leads.ConvertRequest(action="create_new"))
    assert retried.model_dump() == first.json()
    assert tenant.writes() == writes, "nothing qualified, created or attached again"
    assert len(tenant.customers()) == 3


def test_without_a_choice_it_returns_candidates_and_writes_nothing(
    stack: LocalStack, tenant: DynamicsTenant
) -> None:
    lead_id = tenant.lead(
        companyname="Nordlys Energi A/S",
        emailaddress1="ida@nordlys.example",
        address1_city="Aalborg",
        address1_postalcode="9000",
    )
    economic_writes, dynamics_writes = tenant.account.economic.stats()["writes"], tenant.writes()
    response = tenant.convert(lead_id, {})
    assert response.status_code == 200, response.text
    body = response.json()
    nordlys = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, "500")
    assert body["status"] == "candidates" and body["candidates"][0]["record_id"] == nordlys
    assert tenant.account.economic.stats()["writes"] == economic_writes
    assert tenant.writes() == dynamics_writes
    assert tenant.row("lead", lead_id)["statecode"] == 0, "still open"
    assert tenant.dynamics.rows("account") == [] and tenant.dynamics.rows("contact") == []


def test_merge_into_a_candidate_without_an_account_creates_its_account_and_attaches_the_contact(
    stack: LocalStack, tenant: DynamicsTenant
) -> None:
    lead_id = tenant.lead(
        companyname="Nordlys Energi A/S",
        emailaddress1="ida@nordlys.example",
        address1_city="Aalborg",
        address1_postalcode="9000",
    )
    candidate = tenant.convert(lead_id, {}).json()["candidates"][0]["record_id"]
    response = tenant.convert(lead_id, {"action": "merge_into", "candidate_record_id": candidate})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["customer_number"], body["record_id"]) == ("merged", "500", candidate)
    stack.run_until_idle()
    assert tenant.customers() == [500, 999], "no new customer"
    assert tenant.made_from("account", lead_id) == [], "qualified without an account"
    (account,) = tenant.dynamics.rows("account")
    assert (account["name"], account["accountnumber"]) == ("Nordlys Energi ApS", "500")
    (contact,) = tenant.made_from("contact", lead_id)
    assert contact["_parentcustomerid_value"] == account["accountid"]
    record = stack.store.get_record(tenant.id, candidate)
    assert record is not None and record.links[DYNAMICS_CONNECTION] == account["accountid"]
    assert [c["email"] for c in tenant.account.economic.contacts_of(500)] == ["ida@nordlys.example"]


def test_a_lead_under_a_numbered_account_converts_onto_its_customer(
    stack: LocalStack, tenant: DynamicsTenant
) -> None:
    transfer = stack.http.post(
        f"/tenants/{tenant.id}/transfers",
        json={"source": "accounting", "dry_run": False},
        headers={"Authorization": f"Bearer {tenant.token}"},
    )
    assert transfer.status_code == 200, transfer.text
    stack.run_until_idle()
    (nordlys,) = [a for a in tenant.dynamics.rows("account") if a["accountnumber"] == "500"]
    accounts = len(tenant.dynamics.rows("account"))
    lead_id = tenant.lead(
        companyname="Nordlys",
        emailaddress1="ida@nordlys.example",
        _parentaccountid_value=nordlys["accountid"],
    )
    response = tenant.convert(lead_id, {})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["outcome"], body["customer_number"]) == (
        "converted",
        "existing_number",
        "500",
    )
    stack.run_until_idle()
    assert tenant.customers() == [500, 999]
    assert len(tenant.dynamics.rows("account")) == accounts, "no account made"
    (contact,) = tenant.made_from("contact", lead_id)
    assert contact["_parentcustomerid_value"] == nordlys["accountid"]
    assert "ida@nordlys.example" in [c["email"] for c in tenant.account.economic.contacts_of(500)]
    writes = tenant.writes()
    again = tenant.convert(lead_id, {})  # no action: not cached by the idempotency layer, reused instead
    assert again.status_code == 200 and again.json() == body
    assert tenant.writes() == writes and tenant.dynamics.stats["calls"][QUALIFY] == 1


def test_walk_in_makes_the_person_a_contact_of_the_cash_customer(
    stack: LocalStack, tenant: DynamicsTenant
) -> None:
    lead_id = tenant.lead(emailaddress1="ida@privat.example")
    response = tenant.convert(lead_id, {"action": "walk_in"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["customer_number"]) == ("walk_in", "999")
    stack.run_until_idle()
    assert tenant.customers() == [500, 999]
    assert tenant.dynamics.rows("account") == [], "no account for a walk-in"
    (contact,) = tenant.made_from("contact", lead_id)
    record = tenant.record_of(DYNAMICS_CONNECTION, ObjectType.CONTACT, contact["contactid"])
    assert record is not None and record.fields["customer"] == body["record_id"]
    assert "ida@privat.example" in [c["email"] for c in tenant.account.economic.contacts_of(999)]


def test_a_disqualified_lead_is_a_conflict(stack: LocalStack, tenant: DynamicsTenant) -> None:
    lead_id = tenant.lead(companyname="Tabt Sag ApS", emailaddress1="ida@tabt.example")
    tenant.dynamics.person_edit("lead", lead_id, {"statecode": 2, "statuscode": 4})
    writes = tenant.writes()
    for body in ({"action": "create_new"}, {}):
        response = tenant.convert(lead_id, body)
        assert response.status_code == 409, response.text
        assert "already converted" in response.json()["message"]
    assert tenant.writes() == writes and tenant.customers() == [500, 999]
    assert tenant.dynamics.rows("account") == [] and tenant.dynamics.rows("contact") == []


def test_a_hubspot_shaped_request_is_refused_for_a_dynamics_lead(tenant: DynamicsTenant) -> None:
    lead_id = tenant.lead(companyname="Forkert ApS")
    response = tenant.convert(lead_id, {"object_type": "contact", "action": "walk_in"})
    assert response.status_code == 400, response.text
    assert tenant.row("lead", lead_id)["statecode"] == 0
