"""Journey: lead conversion in the console (issue 18 item 2), on HubSpot and, for its own lead id, on
Dynamics (the screen's one CRM-specific branch).

e-conomic holds customer 500 (Nordlys Energi ApS, Aalborg) and the walk-in cash customer 999. Three
HubSpot leads: a company that duplicates Nordlys (looked up, it offers 500 as a candidate with its
score band; merged into it with the keyboard, 500 is written back on the company), a new company
(created as a new customer, its new number written back), and a private person (a contact lead, added
to the walk-in customer).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from crmsync.models import ObjectType, SyncMode
from local.pump_thread import pumping
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, VendorAccount
from tests.browser.conftest import Console
from tests.e2e.conftest import Tenant, add_seeded_tenant

TERMS = {
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}


def seed(account: VendorAccount) -> None:
    account.economic.add_customer(
        {"customerNumber": 500, "name": "Nordlys Energi ApS", "city": "Aalborg", "zip": "9000", **TERMS},
        fire_webhook=False,
    )
    account.economic.add_customer({"customerNumber": 999, "name": "Kontantsalg", **TERMS}, fire_webhook=False)


def walk_in(tenant: Tenant) -> None:
    config = tenant.stack.store.get_config(tenant.id)
    assert config is not None
    tenant.stack.store.put_config(config.model_copy(update={"walk_in_customer_number": "999"}))


def lead(tenant: Tenant, name: str, email: str, **company: str) -> tuple[str, str]:
    company_id = tenant.hubspot.create("companies", {"name": name, "lifecyclestage": "lead", **company})
    contact_id = tenant.hubspot.create(
        "contacts", {"firstname": "Ida", "lastname": "Holm", "email": email, "lifecyclestage": "lead"}
    )
    tenant.hubspot.associate(contact_id, company_id)
    return company_id, contact_id


def company_number(tenant: Tenant, company_id: str) -> str | None:
    record = tenant.hubspot.record("companies", company_id)
    assert record is not None
    return record["properties"].get("crmsync_customer_number")


def create_new_customer(page: Page, lead_id: str) -> str:
    """Look the lead up and create a new customer from it; the number the screen shows."""
    page.get_by_label("CRM lead id").fill(lead_id)
    page.get_by_role("button", name="Find options").click()
    expect(page.get_by_role("heading", name="Options")).to_be_visible()
    page.get_by_role("button", name="Create a new customer").click()
    expect(page.get_by_role("status")).to_contain_text("new customer")
    shown = page.locator("[data-customer-number]")
    expect(shown).to_have_text(re.compile(r"^\d+$"))
    return shown.inner_text()


def test_convert_leads_merge_create_and_walk_in(stack: LocalStack, console: Console):
    tenant = add_seeded_tenant(
        stack, "leads-ui", mode=SyncMode.MANUAL, seed_vendors=seed, seed_after_provisioning=walk_in
    )
    duplicate, _ = lead(tenant, "Nordlys Energi A/S", "ida@nordlys.example", city="Aalborg", zip="9000")
    fresh, _ = lead(tenant, "Fjordbyen Bryghus ApS", "ida@fjordbyen.example")
    private = tenant.hubspot.create(
        "contacts",
        {"firstname": "Bo", "lastname": "Privat", "email": "bo@privat.example", "lifecyclestage": "lead"},
    )
    stack.run_until_idle()
    nordlys = stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, "500")
    assert nordlys is not None

    page = console.page
    with pumping(stack) as pump:
        console.sign_in(tenant)
        console.go("Lead conversion")
        console.look("leads")

        # A duplicate of a known customer: the candidates, then merge into 500 with the keyboard.
        page.get_by_label("CRM lead id").fill(duplicate)
        page.get_by_role("button", name="Find options").click()
        candidate = page.locator(f"table.lead-candidates tr[data-candidate='{nordlys}']")
        expect(candidate).to_contain_text("Nordlys Energi ApS")
        expect(candidate).to_contain_text("500")
        expect(candidate.locator(".badge")).to_have_text(re.compile("^(sure|likely|check|weak)$"))
        expect(page.get_by_role("status")).to_contain_text(f"for lead {duplicate}")
        console.look("leads-candidates")
        merge = candidate.get_by_role("button", name="Merge the lead into Nordlys Energi ApS")
        merge.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("merged into customer 500")
        expect(page.locator("[data-customer-number]")).to_have_text("500")
        console.look("leads-merged")
        assert company_number(tenant, duplicate) == "500", "the number is written back on the company"
        assert tenant.economic.customer_numbers() == [500, 999], "no new customer"

        # A new company: created as a new customer with a new number.
        number = int(create_new_customer(page, fresh))
        assert number not in (500, 999) and tenant.economic.customer_numbers() == sorted([500, 999, number])
        assert company_number(tenant, fresh) == str(number)

        # A private person (a contact lead without company): the walk-in customer.
        page.get_by_label("CRM lead id").fill(private)
        page.get_by_role("radio", name="Contact").check()
        page.get_by_role("button", name="Find options").click()
        expect(page.get_by_role("list", name="Warnings")).to_contain_text("no company")
        page.get_by_role("button", name="Walk-in customer 999").click()
        expect(page.get_by_role("status")).to_contain_text("walk-in customer 999")
        expect(page.locator("[data-customer-number]")).to_have_text("999")
        console.look("leads-walk-in")
        pump.wait_idle()

    assert "bo@privat.example" in [c["email"] for c in tenant.economic.contacts_of(999)]
    assert tenant.economic.customer_numbers() == sorted([500, 999, number])


def test_convert_a_dynamics_lead_into_a_new_customer(stack: LocalStack, console: Console):
    """On Dynamics a lead is a row of its own (a GUID, no company/contact choice); created as a new
    customer, the account made from it carries the new number."""
    tenant = add_seeded_tenant(
        stack,
        "leads-dyn-ui",
        mode=SyncMode.MANUAL,
        seed_vendors=seed,
        seed_after_provisioning=walk_in,
        crm="dynamics",
    )
    assert tenant.account.dynamics is not None
    (lead_id,) = tenant.account.dynamics.seed(
        "lead",
        [
            {
                "subject": "Interesse",
                "firstname": "Ida",
                "lastname": "Holm",
                "companyname": "Vesterhav Fisk ApS",
            }
        ],
    )
    page = console.page
    with pumping(stack) as pump:
        console.sign_in(tenant)
        console.go("Lead conversion")
        expect(page.get_by_text("the Dynamics 365 lead id (a GUID)")).to_be_visible()
        expect(page.get_by_role("radio", name="Contact")).to_have_count(0)
        number = create_new_customer(page, lead_id)
        console.look("leads-dynamics-created")
        pump.wait_idle()
    (account,) = [
        r for r in tenant.crm.rows(ObjectType.CUSTOMER) if r.fields.get("name") == "Vesterhav Fisk ApS"
    ]
    assert account.fields.get("customer_number") == number, account.fields
    assert int(number) in tenant.economic.customer_numbers()
