"""Journey: the conflict inbox, the compare view, resolving field by field, restoring a losing value
(issue 18 item 2).

City and zip are set to the rule ``manual``; the bookkeeper and a salesperson both edit both fields of
one customer, so crmsync holds the two fields for a person. The person opens the inbox, goes to the
record, takes accounting's city and types a zip (the choices made with the keyboard), sees the inbox
empty and both vendors hold the chosen values; then restores the CRM's losing city from the record's
settled conflicts and sees it reach both vendors too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from crmsync.models import ObjectType, SyncMode
from local.pump_thread import pumping
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, VendorAccount
from tests.browser.conftest import Console
from tests.e2e.conftest import Tenant, add_seeded_tenant

CUSTOMER = ObjectType.CUSTOMER


def seed(account: VendorAccount) -> None:
    account.economic.seed(3, contacts_per_customer=1, seed=21)


def hold_for_a_person(tenant: Tenant, fields: tuple[str, ...]) -> None:
    config = tenant.api("GET", "/config").json()
    for field in fields:
        config["field_policy"]["customer"][field] = {"direction": "both", "rule": "manual"}
    response = tenant.api("PUT", "/config", config)
    assert response.status_code == 200, response.text


def open_conflicts(tenant: Tenant) -> list[dict[str, Any]]:
    response = tenant.api("GET", "/conflicts")
    assert response.status_code == 200, response.text
    return response.json()


def vendors(tenant: Tenant, number: int, company: str) -> dict[str, tuple[Any, Any]]:
    """Per field: (e-conomic's value, the CRM's value)."""
    eco = tenant.economic.get_customer(number) or {}
    crm = tenant.crm.get(CUSTOMER, company)
    assert crm is not None
    return {field: (eco.get(field), crm.fields.get(field)) for field in ("city", "zip")}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_resolve_a_held_conflict_field_by_field_then_restore(stack: LocalStack, console: Console):
    tenant = add_seeded_tenant(stack, "conflict-ui", mode=SyncMode.AUTOMATIC, seed_vendors=seed)
    hold_for_a_person(tenant, ("city", "zip"))
    number, company, record_id = tenant.linked(0)
    tenant.economic.update_customer(number, city="Bogholderby", zip="8000")
    time.sleep(1.1)  # e-conomic's lastUpdated has whole seconds: the CRM's edit is later
    tenant.crm.edit(CUSTOMER, company, {"city": "Crmby", "zip": "9000"})
    stack.run_until_idle()
    held = open_conflicts(tenant)
    assert sorted((c["record_id"], c["field"]) for c in held) == [(record_id, "city"), (record_id, "zip")]
    assert vendors(tenant, number, company) == {"city": ("Bogholderby", "Crmby"), "zip": ("8000", "9000")}
    name = tenant.api("GET", f"/records/{record_id}").json()["fields"]["name"]

    page = console.page
    with pumping(stack) as pump:
        console.sign_in(tenant)
        console.go("Conflicts")
        rows = page.locator("table.conflicts tbody tr")
        expect(rows).to_have_count(2)
        for field, crm, accounting in (("city", "Crmby", "Bogholderby"), ("zip", "9000", "8000")):
            row = rows.filter(has=page.get_by_role("cell", name=field, exact=True))
            expect(row).to_contain_text(crm)
            expect(row).to_contain_text(accounting)
            expect(row).to_contain_text("open")
        expect(rows.first.get_by_role("link", name=name)).to_be_visible()
        console.look("inbox")

        # To the record with the keyboard: focus its link, Enter.
        rows.first.get_by_role("link", name=name).focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Customer: {name}")
        city = page.locator("table.compare tr[data-field=city]")
        expect(city.locator("[data-side=crm]")).to_have_text("Crmby")
        expect(city.locator("[data-side=accounting]")).to_have_text("Bogholderby")
        expect(city.locator("[data-state]")).to_have_text("in conflict")
        expect(page.locator("table.compare tr[data-field=zip] [data-state]")).to_have_text("in conflict")
        expect(page.locator("table.compare tr[data-field=name] [data-state]")).to_have_text("in sync")
        console.look("compare-before")

        # Field by field, keyboard only: accounting's city, a typed zip, then submit with Enter.
        city_choice = page.get_by_role("group", name=re.compile("^city"))
        zip_choice = page.get_by_role("group", name=re.compile("^zip"))
        city_choice.get_by_role("radio", name=re.compile("^Take accounting")).focus()
        page.keyboard.press("Space")
        expect(city_choice.get_by_role("radio", name=re.compile("^Take accounting"))).to_be_checked()
        zip_choice.get_by_label("Value for zip").focus()
        page.keyboard.type("8200")
        expect(zip_choice.get_by_role("radio", name="Type a value")).to_be_checked()
        submit = page.get_by_role("button", name="Resolve 2 fields")
        submit.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text("Resolved zip = “8200”, city = “Bogholderby”")

        wait_for(
            "the chosen values in both vendors",
            lambda: vendors(tenant, number, company) == {"city": ("Bogholderby",) * 2, "zip": ("8200",) * 2},
        )
        assert open_conflicts(tenant) == []

        page.get_by_role("button", name="Re-read both sides").click()
        expect(page.get_by_role("status")).to_have_text("Re-read both sides.")
        for field, value in (("city", "Bogholderby"), ("zip", "8200")):
            row = page.locator(f"table.compare tr[data-field={field}]")
            expect(row.locator("[data-side=crm]")).to_have_text(value)
            expect(row.locator("[data-side=accounting]")).to_have_text(value)
            expect(row.locator("[data-state]")).to_have_text("in sync")
        expect(page.get_by_text("No field is held, in conflict or different")).to_be_visible()
        settled = page.locator("table.settled tbody tr")
        expect(settled).to_have_count(2)
        expect(settled.filter(has_text="city")).to_contain_text("resolved")
        console.look("compare-after")

        console.go("Conflicts")
        expect(page.get_by_text("No open conflicts.")).to_be_visible()
        page.get_by_label("Show").select_option("settled")
        expect(page.locator("table.conflicts tbody tr")).to_have_count(2)
        page.locator("table.conflicts tbody tr").first.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Customer: {name}")

        # Restore the CRM's losing city: it reaches both vendors; zip keeps the typed value.
        page.get_by_role("button", name="Restore “Crmby”").click()
        expect(page.get_by_role("status")).to_contain_text("Restored “Crmby” to city")
        wait_for(
            "the restored city in both vendors",
            lambda: vendors(tenant, number, company) == {"city": ("Crmby",) * 2, "zip": ("8200",) * 2},
        )
        pump.wait_idle()
        expect(page.locator("table.settled tbody tr").filter(has_text="city")).to_contain_text("restored")
        expect(page.locator("table.compare tr[data-field=city] [data-side=crmsync]")).to_have_text("Crmby")

        # Sync now re-reads both sides: each linked connection reports its decision.
        page.get_by_role("button", name="Sync now").click()
        status = page.get_by_role("status")
        expect(status).to_contain_text("Synced now:")
        for connection in (ECONOMIC_CONNECTION, tenant.crm.connection_id):
            expect(status).to_contain_text(f"{connection} ")
        timeline = page.locator("table.timeline tbody tr")
        expect(timeline.filter(has_text="resolved")).to_have_count(2)  # the resolution and the restore
        expect(timeline.first.locator("td").nth(1)).to_contain_text("signal")  # newest first: the re-read
    statuses = {
        c["field"]: c["status"]
        for c in tenant.api("GET", f"/conflicts?record_id={record_id}&all=true").json()
    }
    assert statuses == {"city": "restored", "zip": "resolved"}
