"""A journal in the CRM (issue 17 item 5): a note on the company for each event a person should see,
never for an echo or an unchanged pull; crmsync's timeline links to each note. Both CRMs (``crm_kind``):
HubSpot notes on the company, Dynamics annotations regarding the account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER = ObjectType.CUSTOMER


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    def seed(account: VendorAccount) -> None:
        account.economic.seed(3, contacts_per_customer=0, seed=53)

    t = add_seeded_tenant(stack, "journal", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    config = t.api("GET", "/config").json()
    config["journal"] = {"enabled": True, "sensitive_fields": ["email"]}
    response = t.api("PUT", "/config", config)
    assert response.status_code == 200, response.text
    yield t
    retire(t)


def test_changes_from_either_side_become_notes_and_echoes_do_not(tenant: Tenant):
    stack = tenant.stack
    number, company, record_id = tenant.linked(0)
    assert tenant.crm.notes(company) == [], "nothing before the journal was switched on"
    tenant.economic.update_customer(number, city="Svendborg")
    stack.run_until_idle()
    tenant.crm.edit(CUSTOMER, company, {"phone": "+45 70 11 22 33"})
    stack.run_until_idle()
    notes = tenant.crm.notes(company)
    assert any(n.startswith("crmsync: updated in") and "city:" in n and "Svendborg" in n for n in notes), (
        notes
    )
    assert any("updated in e-conomic" in n and "+45 70 11 22 33" in n for n in notes), notes
    count = len(notes)
    stack.run_pull()
    stack.run_until_idle()
    assert len(tenant.crm.notes(company)) == count, "an unchanged pull and the echoes add no note"
    timeline = tenant.api("GET", f"/records/{record_id}/timeline").json()["entries"]
    noted = [e for e in timeline if e.get("decision") == "noted"]
    assert len(noted) == count and all(e.get("external_id") for e in noted), "the timeline links every note"


def test_a_sensitive_field_shows_its_name_only_and_a_new_customer_its_number(tenant: Tenant):
    stack = tenant.stack
    number, company, _ = tenant.linked(1)
    tenant.economic.update_customer(number, email="hemmelig@example.dk")
    stack.run_until_idle()
    notes = tenant.crm.notes(company)
    assert any("email changed" in n for n in notes) and not any("hemmelig" in n for n in notes), notes
    new_company = tenant.crm.create(CUSTOMER, {"name": "Journal Nyt ApS", "city": "Vejle"})
    stack.run_until_idle()
    new_number = next(
        n
        for n in tenant.economic.customer_numbers()
        if tenant.economic.get_customer(n)["name"] == "Journal Nyt ApS"
    )
    assert f"crmsync: created in e-conomic as customer {new_number}." in tenant.crm.notes(new_company)


def test_a_parked_write_is_a_note_with_its_reason(tenant: Tenant):
    stack = tenant.stack
    _, company, _ = tenant.linked(2)
    tenant.crm.edit(CUSTOMER, company, {"city": "Sankt Klemens ved Odense Sankt Klemens ved Odense X"})
    stack.run_until_idle()
    parked = [n for n in tenant.crm.notes(company) if n.startswith("crmsync could not write to e-conomic")]
    assert len(parked) == 1 and "longer than 50" in parked[0] and "replayable" in parked[0], parked
