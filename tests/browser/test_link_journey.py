"""Journeys on the link screen (issue 18 item 2): link two customers, unlink one, transfer all.

Tenants in manual mode, so nothing links by itself: e-conomic's customers and the CRM's companies sit
side by side until a person links them on the screen (``tests/e2e/test_linking.py`` seeds the same way).
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, expect

from crmsync.models import ObjectType, SyncMode
from local.pump_thread import pumping
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, VendorAccount
from tests.browser.conftest import Console
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

CUSTOMER = ObjectType.CUSTOMER


def record_of(tenant: Tenant, conn: str, ext: str) -> str:
    found = tenant.stack.store.find_link(tenant.id, conn, CUSTOMER, ext)
    assert found is not None, f"{conn}/{ext} has no record"
    return found


def row(console: Console, record_id: str) -> Locator:
    return console.page.locator(f'tr[data-record="{record_id}"]')


def test_link_two_customers_then_unlink_one(stack: LocalStack, console: Console):
    """A company named like an e-conomic customer is offered as its candidate; linked, then unlinked."""

    def seed_economic(account: VendorAccount) -> None:
        account.economic.seed(2, contacts_per_customer=0, seed=5)

    def seed_crm(t: Tenant) -> None:
        first, second = (t.economic.get_customer(n) for n in t.economic.customer_numbers())
        t.extra["twin"] = t.crm.create(CUSTOMER, {"name": first["name"], "city": first.get("city")})
        t.extra["numbered"] = t.crm.create(
            CUSTOMER, {"name": second["name"], "customer_number": str(second["customerNumber"])}
        )
        t.extra["other"] = t.crm.create(CUSTOMER, {"name": "Helt Anden Virksomhed ApS", "city": "Tórshavn"})

    tenant = add_seeded_tenant(
        stack, "link-ui", mode=SyncMode.MANUAL, seed_after_provisioning=seed_crm, seed_vendors=seed_economic
    )
    crm = tenant.crm.connection_id
    first_number, second_number = tenant.economic.customer_numbers()
    name = tenant.economic.get_customer(first_number)["name"]
    acc_id = record_of(tenant, ECONOMIC_CONNECTION, str(first_number))
    crm_id = record_of(tenant, crm, tenant.extra["twin"])
    numbered_id = record_of(tenant, crm, tenant.extra["numbered"])
    page = console.page
    try:
        with pumping(stack) as pump:
            console.sign_in(tenant)
            console.go("Link customers")
            expect(page.locator("tbody tr")).to_have_count(5)  # 2 customers, 3 companies
            expect(row(console, acc_id)).to_contain_text("only in e-conomic")
            twin = row(console, crm_id)
            expect(twin).to_contain_text("only in HubSpot")
            offered = twin.locator(f'li[data-candidate="{acc_id}"]')
            expect(offered).to_contain_text(name)
            expect(offered.locator(".badge")).to_have_text(re.compile(r"^(sure|likely|check|weak)$"))
            expect(offered).to_contain_text(re.compile(r"score \d\.\d\d"))
            numbered = row(console, numbered_id).locator("li[data-candidate]")
            expect(numbered.locator(".badge")).to_have_text("sure")
            # the company carries the customer's number: the exact key leads, at 1.00, and says so
            expect(numbered).to_contain_text("score 1.00")
            expect(numbered).to_contain_text("same customer number (exact key)")
            expect(row(console, record_of(tenant, crm, tenant.extra["other"]))).to_contain_text(
                "No candidates."
            )
            console.look("link-all")

            page.get_by_label("Show", exact=True).select_option(label="Unlinked with candidates")
            expect(page.locator("tbody tr")).to_have_count(4)  # the unrelated company has none
            page.get_by_label("Filter loaded rows").fill(name)
            expect(page.locator("tbody tr")).to_have_count(2)  # the customer and its twin
            console.look("link-candidates-filtered")
            page.get_by_label("Filter loaded rows").fill("")
            page.get_by_label("Show", exact=True).select_option(label="All customers")
            expect(page.locator("tbody tr")).to_have_count(5)

            twin.get_by_role("button", name=f"Link {name} with {name}").click()
            expect(page.get_by_role("status").first).to_have_text(f"Linked {name} with {name}.")
            linked = row(console, acc_id)
            expect(linked).to_have_attribute("data-state", "linked")
            expect(linked.locator(".badge")).to_have_text("linked")
            expect(linked.get_by_role("link", name=f"Compare {name}")).to_have_attribute(
                "href", f"#/records/{acc_id}"
            )
            expect(row(console, crm_id)).to_have_count(0)  # merged into the accounting record
            expect(page.locator("tbody tr")).to_have_count(4)
            console.look("link-linked")
            record = tenant.api("GET", f"/records/{acc_id}").json()
            assert record["links"] == {ECONOMIC_CONNECTION: str(first_number), crm: tenant.extra["twin"]}
            assert tenant.stack.store.find_link(tenant.id, crm, CUSTOMER, tenant.extra["twin"]) == acc_id
            pump.wait_idle()

            # Unlink with the keyboard only: the button, then the confirmation that takes the focus.
            linked.get_by_role("button", name=f"Unlink {name}").focus()
            page.keyboard.press("Enter")
            confirm = linked.get_by_role("group", name=f"Confirm unlinking {name}")
            expect(confirm).to_contain_text("Both sides keep their data")
            yes = confirm.get_by_role("button", name=f"Yes, unlink {name}")
            expect(yes).to_be_focused()
            console.look("link-unlink-confirm")
            page.keyboard.press("Enter")
            expect(page.get_by_role("status").first).to_contain_text(f"Unlinked {name}")
            expect(row(console, acc_id)).to_have_attribute("data-state", "accounting_only")
            expect(page.locator("tbody tr")).to_have_count(5)
            split_id = record_of(tenant, crm, tenant.extra["twin"])
            assert split_id != acc_id
            expect(row(console, split_id)).to_have_attribute("data-state", "crm_only")
            console.look("link-unlinked")
            assert tenant.api("GET", f"/records/{acc_id}").json()["links"] == {
                ECONOMIC_CONNECTION: str(first_number)
            }
            assert tenant.economic.customer_numbers() == [first_number, second_number], "nothing created"
    finally:
        retire(tenant)


def test_transfer_all_from_accounting(stack: LocalStack, console: Console):
    """Dry run counts, then the real transfer with its progress to 100 %, then the companies exist."""

    def seed_economic(account: VendorAccount) -> None:
        account.economic.seed(3, contacts_per_customer=1, seed=9)

    tenant = add_seeded_tenant(stack, "transfer-ui", mode=SyncMode.MANUAL, seed_vendors=seed_economic)
    crm = tenant.crm.connection_id
    assert tenant.crm.rows(CUSTOMER) == []
    page = console.page
    try:
        with pumping(stack) as pump:
            console.sign_in(tenant)
            console.go("Link customers")
            expect(page.locator("tbody tr")).to_have_count(3)
            transfer = page.get_by_role("region", name="Transfer all")
            transfer.get_by_label("e-conomic (accounting)").check()
            transfer.get_by_role("button", name="Dry run").click()
            preview = transfer.get_by_role("group", name="Dry run result")
            expect(preview.locator(f'[data-plan="creates-{crm}"]')).to_have_text(
                "6"
            )  # 3 customers, 3 contacts
            expect(preview.locator('[data-plan="links"]')).to_have_text("0")
            expect(preview).to_contain_text(f"Creates in HubSpot ({crm})")
            start = preview.get_by_role("button", name="Start transfer")
            expect(start).to_be_focused()
            console.look("transfer-dry-run")
            assert tenant.crm.rows(CUSTOMER) == [], "a dry run writes nothing"

            start.click()
            bar = transfer.get_by_role("progressbar", name="Transfer progress")
            expect(transfer.locator(".progress-text")).to_have_text("6 of 6 (100 %)")
            expect(bar).to_have_attribute("value", "6")
            expect(bar).to_have_attribute("max", "6")
            expect(transfer.get_by_role("heading", name="Transfer finished")).to_be_visible()
            expect(transfer.get_by_role("status")).to_have_text(
                re.compile(r"Transfer finished: 6 of 6 done, 0 failed")
            )
            console.look("transfer-finished")

            pump.wait_idle()
            names = {tenant.economic.get_customer(n)["name"] for n in tenant.economic.customer_numbers()}
            companies = tenant.crm.rows(CUSTOMER)
            assert {c.fields["name"] for c in companies} == names
            numbers = {c.fields["customer_number"] for c in companies}
            assert numbers == {str(n) for n in tenant.economic.customer_numbers()}
            page.get_by_role("button", name="Refresh").click()
            expect(page.locator('tbody tr[data-state="linked"]')).to_have_count(3)
            console.look("transfer-linked")
    finally:
        retire(tenant)
