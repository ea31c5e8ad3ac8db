"""Journeys: tenant settings and the drift report (issue 18 items 2 and 4), HubSpot.

Settings: a field's direction and conflict rule changed in the policy editor with the keyboard and saved
(a save on a stale version is refused and offers a reload), a value-map pair added, a bad one refused
with the API's reason, a pair removed, and the switch from manual to automatic through its dry run and
the confirm. Drift: a city changed in e-conomic behind the webhooks' back is found by a report run from
the screen, field by field, and its Fix puts the owner's (the CRM's) value back on both sides.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from crmsync.models import ObjectType, SyncMode
from local.pump_thread import Pump, pumping
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION, VendorAccount
from tests.browser.conftest import Console
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

CUSTOMER = ObjectType.CUSTOMER


def seed(account: VendorAccount) -> None:
    account.economic.seed(3, contacts_per_customer=1, seed=23)


def notice(page: Page) -> Locator:
    return page.get_by_role("status").filter(has_text=re.compile(r"\S"))


def config_of(tenant: Tenant) -> dict:
    response = tenant.api("GET", "/config")
    assert response.status_code == 200, response.text
    return response.json()


def edit_the_policy_with_the_keyboard(page: Page, tenant: Tenant) -> None:
    """City both ways, the CRM wins a conflict: keys only."""
    direction = page.get_by_label("Direction of customer city")
    rule = page.get_by_label("Conflict rule of customer city")
    expect(direction).to_have_value("to_accounting")
    direction.focus()
    page.keyboard.press("ArrowUp")  # CRM -> accounting  =>  Both ways
    expect(direction).to_have_value("both")
    page.keyboard.press("Tab")
    expect(rule).to_be_focused()
    page.keyboard.press("ArrowDown")  # Latest change wins  =>  CRM wins
    expect(rule).to_have_value("crm_wins")
    expect(page.get_by_text("1 unsaved change")).to_be_visible()
    page.get_by_role("button", name="Save field policy").focus()
    page.keyboard.press("Enter")
    expect(notice(page)).to_have_text("Field policy saved (1 field changed).")
    expect(page.get_by_text("No unsaved changes")).to_be_visible()
    saved = config_of(tenant)
    assert saved["field_policy"]["customer"]["city"] == {"direction": "both", "rule": "crm_wins"}
    assert saved["field_policy"]["customer"]["name"] == {"direction": "to_accounting", "rule": "latest"}


def save_on_a_stale_version(page: Page, tenant: Tenant, console: Console) -> None:
    """Someone else saves meanwhile: the save is refused, a reload offered, then it saves."""
    behind = config_of(tenant) | {"drift_hours": 12}
    assert tenant.api("PUT", "/config", behind).status_code == 200
    page.get_by_label("Conflict rule of contact email").select_option("manual")
    page.get_by_role("button", name="Save field policy").click()
    policy = page.get_by_role("region", name="Field policy")
    expect(policy.get_by_role("alert")).to_contain_text("config changed since it was read")
    console.look("settings-stale")
    policy.get_by_role("button", name="Reload the settings").click()
    expect(page.get_by_text("every 12 hours")).to_be_visible()
    expect(page.get_by_label("Conflict rule of contact email")).to_have_value("latest")
    page.get_by_label("Conflict rule of contact email").select_option("manual")
    page.get_by_role("button", name="Save field policy").click()
    expect(notice(page)).to_have_text("Field policy saved (1 field changed).")
    assert config_of(tenant)["field_policy"]["contact"]["email"] == {
        "direction": "to_accounting",
        "rule": "manual",
    }


def add_and_remove_a_value_map_pair(page: Page, tenant: Tenant, console: Console) -> None:
    """A pair added, a bad one refused with the API's reason next to the form, the pair removed."""
    maps = page.get_by_role("region", name="Value maps")
    maps.get_by_label("Field").select_option("customer_group")
    maps.get_by_label("CRM value").fill("Wholesale")
    maps.get_by_label("Accounting value").fill("2")
    maps.get_by_label("Accounting value").press("Enter")
    expect(notice(page)).to_have_text("Added customer group: Wholesale → 2.")
    group = maps.get_by_role("article", name="customer group")
    expect(group.get_by_role("row", name="Wholesale 2")).to_be_visible()
    assert config_of(tenant)["value_maps"] == {"customer_group": {"pairs": {"Wholesale": "2"}}}

    maps.get_by_label("CRM value").fill("Retail")
    maps.get_by_label("Accounting value").fill("not a number")
    maps.get_by_role("button", name="Add pair").click()
    expect(maps.get_by_role("alert")).to_contain_text("value_maps.customer_group")
    expect(maps.get_by_role("alert")).to_contain_text("(422)")
    console.look("settings-value-map-refused")
    assert config_of(tenant)["value_maps"] == {"customer_group": {"pairs": {"Wholesale": "2"}}}

    group.get_by_role("button", name="Remove customer group pair Wholesale to 2").click()
    expect(notice(page)).to_have_text("Removed customer group: Wholesale → 2.")
    expect(group.get_by_text("No pairs.")).to_be_visible()
    assert config_of(tenant)["value_maps"] == {}


def switch_mode_through_the_dry_run(page: Page, tenant: Tenant, console: Console, pump: Pump) -> None:
    """Manual -> automatic: the dry run's counts (nothing happens), then the confirm."""
    expect(page.get_by_label("New sync mode")).to_have_value("automatic")
    page.get_by_role("button", name="Check the change (dry run)").click()
    dry_run = page.get_by_role("region", name="Dry run: switch from manual to automatic")
    expect(dry_run.locator("[data-plan=accounting-creates]")).to_have_text(
        f"6 records in {HUBSPOT_CONNECTION}"
    )  # 3 customers, 3 contacts
    console.look("settings-dry-run")
    pump.wait_idle()
    assert tenant.crm.rows(CUSTOMER) == [], "a dry run creates nothing"
    assert config_of(tenant)["sync_mode"] == "manual"
    dry_run.get_by_role("button", name="Confirm: switch to automatic").click()
    expect(notice(page)).to_contain_text("Sync mode is now automatic.")
    expect(page.get_by_text("Current mode:")).to_contain_text("automatic")
    assert config_of(tenant)["sync_mode"] == "automatic"
    pump.wait_idle()
    names = sorted(tenant.economic.get_customer(n)["name"] for n in tenant.economic.customer_numbers())
    assert sorted(row.fields["name"] for row in tenant.crm.rows(CUSTOMER)) == names, "created in HubSpot"


def test_settings_policy_value_maps_and_mode_switch(stack: LocalStack, console: Console) -> None:
    tenant = add_seeded_tenant(stack, "settings-ui", mode=SyncMode.MANUAL, seed_vendors=seed)
    assert config_of(tenant)["field_policy"]["customer"]["city"] == {
        "direction": "to_accounting",
        "rule": "latest",
    }
    page = console.page
    with pumping(stack) as pump:
        console.sign_in(tenant)
        console.go("Settings")
        expect(page.get_by_text("Current mode:")).to_contain_text("manual")
        connections = page.get_by_role("table").filter(has_text="Connection")
        expect(
            connections.get_by_role("row", name=re.compile(rf"^{ECONOMIC_CONNECTION} economic"))
        ).to_be_visible()
        expect(
            connections.get_by_role("row", name=re.compile(rf"^{HUBSPOT_CONNECTION} hubspot"))
        ).to_be_visible()
        assert tenant.token not in page.content(), "no secret on the screen"
        console.look("settings")

        edit_the_policy_with_the_keyboard(page, tenant)
        add_and_remove_a_value_map_pair(page, tenant, console)
        switch_mode_through_the_dry_run(page, tenant, console, pump)
    retire(tenant)


def test_drift_found_from_the_screen_and_fixed(stack: LocalStack, console: Console) -> None:
    tenant = add_seeded_tenant(stack, "drift-ui", mode=SyncMode.AUTOMATIC, seed_vendors=seed)
    number, company_id, record_id = tenant.linked(0)
    before = tenant.economic.get_customer(number)["city"]
    tenant.economic.update_customer(number, fire_webhook=False, city="Ærøskøbing")  # no webhook: unseen
    stack.run_until_idle()
    page = console.page
    with pumping(stack) as pump:
        console.sign_in(tenant)
        console.go("Drift")
        expect(page.get_by_text("No drift report yet.")).to_be_visible()

        run = page.get_by_role("button", name="Run a drift report now")
        run.focus()
        page.keyboard.press("Enter")
        expect(notice(page)).to_have_text("Drift report finished: 1 record (1 field) differs, 0 missing.")
        expect(page.locator("[data-count=drifted_records]")).to_have_text("1")
        drifted = page.get_by_role("article", name=re.compile(record_id))
        city = drifted.locator("tr[data-field=city]")
        expect(city.locator("td.expected")).to_have_text(before)
        expect(city.locator("td.actual")).to_have_text("Ærøskøbing")
        expect(city).to_contain_text(ECONOMIC_CONNECTION)
        console.look("drift-report")

        drifted.get_by_role("button", name=f"Fix {record_id}").click()
        expect(notice(page)).to_contain_text(f"Fixed {record_id}: re-synced from each field's owner")
        expect(notice(page)).to_contain_text(
            f"{ECONOMIC_CONNECTION}: not the owner: the owner's value is written back"
        )
        expect(drifted).to_have_count(0)
        expect(page.get_by_text("No records differ from what crmsync expects.")).to_be_visible()
        pump.wait_idle()
        assert tenant.economic.get_customer(number)["city"] == before, "the owner's (CRM's) value is back"
        company = tenant.crm.get(CUSTOMER, company_id)
        assert company is not None and company.fields["city"] == before

        run.click()
        expect(notice(page)).to_have_text("Drift report finished: 0 records (0 fields) differ, 0 missing.")
        expect(page.locator("[data-count=drifted_records]")).to_have_text("0")
        console.look("drift-clean")
    report = tenant.api("GET", "/drift").json()["report"]
    assert report["drifted_records"] == 0 and report["items"] == [] and report["missing"] == []
    retire(tenant)


def test_a_save_on_a_stale_version_is_refused_and_offers_a_reload(
    stack: LocalStack, console: Console
) -> None:
    """The 409 is a cancelled transaction: the shared stack's stream must go on after it (moto's rollback
    used to leave the stream readers on a copy of the table; ``local.moto_server`` keeps them)."""
    tenant = add_seeded_tenant(stack, "settings-stale", mode=SyncMode.MANUAL, seed_vendors=seed)
    page = console.page
    with pumping(stack) as pump:
        console.sign_in(tenant)
        console.go("Settings")
        save_on_a_stale_version(page, tenant, console)
        # after the cancelled transaction the stream still carries writes to the push function
        switched = tenant.api("POST", "/mode", {"mode": "automatic", "dry_run": False})
        assert switched.status_code == 200, switched.text
        pump.wait_idle()
        assert len(tenant.crm.rows(CUSTOMER)) == len(tenant.economic.customer_numbers()), (
            "pushed after the 409"
        )
    retire(tenant)
