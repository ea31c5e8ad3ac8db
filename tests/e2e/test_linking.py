"""Sync modes, the link screen API, link / unlink / re-link, transfer-all dry run, transfer timing.

The module shares one local stack (``tests/e2e/conftest.py``); every test gets its own vendor account
and tenant, seeded the same way, so no test sees another's data. Every test runs once per CRM (HubSpot,
Dynamics 365: ``crm_kind``), acting on the CRM in canonical field names (``local.crm_side``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.crm_side import contacts_of
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import ACCOUNTING_COLUMNS, Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """e-conomic has 3 customers; the CRM has 3 companies that grew apart from them (manual mode)."""

    def seed_economic(account: VendorAccount) -> None:
        account.economic.seed(3, contacts_per_customer=1, seed=5)

    def seed_crm(t: Tenant) -> None:
        eco, crm = t.economic, t.crm
        first, second, _third = (eco.get_customer(n) for n in eco.customer_numbers())
        first_contact = eco.contacts_of(first["customerNumber"])[0]
        # company 1 carries customer 1's number, and its contact has the same e-mail
        c1 = crm.create(
            CUSTOMER, {"name": first["name"].upper(), "customer_number": str(first["customerNumber"])}
        )
        crm.create(CONTACT, {"name": "Same Person", "email": first_contact["email"]}, parent_id=c1)
        # company 2 looks like customer 2 but has no number; company 3 is unrelated
        t.extra["c2"] = crm.create(CUSTOMER, {"name": second["name"], "city": second.get("city")})
        t.extra["c3"] = crm.create(CUSTOMER, {"name": "Helt Anden Virksomhed ApS", "city": "Tórshavn"})
        # onboarding is done (HubSpot's custom properties exist); the pull and every sync come next
        t.extra["base_writes"] = (t.economic.stats()["writes"], t.crm.write_calls())

    t = add_seeded_tenant(
        stack,
        "linkco",
        mode=SyncMode.MANUAL,
        seed_vendors=seed_economic,
        seed_after_provisioning=seed_crm,
        crm=crm_kind,
        dynamics_columns=ACCOUNTING_COLUMNS,
    )
    yield t
    retire(t)


def api(tenant: Tenant, method: str, path: str, json: dict | None = None):
    return tenant.api(method, path, json)


def writes(tenant: Tenant) -> tuple[int, int]:
    """Vendor writes since onboarding (HubSpot's one-time property setup excluded), the first pull included."""
    eco, crm = tenant.extra["base_writes"]
    return tenant.economic.stats()["writes"] - eco, tenant.crm.write_calls() - crm


def crm_conn(tenant: Tenant) -> str:
    return tenant.crm.connection_id


def crm_value(tenant: Tenant, company_id: str, field: str) -> object:
    row = tenant.crm.get(CUSTOMER, company_id)
    assert row is not None, f"company {company_id} is gone from the CRM"
    return row.fields.get(field)


def rid(tenant: Tenant, conn: str, ext: str, obj: ObjectType = ObjectType.CUSTOMER) -> str:
    found = tenant.stack.store.find_link(tenant.id, conn, obj, ext)
    assert found is not None
    return found


def test_manual_mode_records_both_sides_and_writes_nothing(stack: LocalStack, tenant: Tenant):
    assert tenant.economic.stats()["writes"] == 0
    assert writes(tenant) == (0, 0), "the pull and its signals wrote nothing to either side"
    page = api(tenant, "GET", "/link/customers?limit=50").json()
    states = sorted(row["state"] for row in page["items"])
    assert states == ["accounting_only"] * 3 + ["crm_only"] * 3


def test_transfer_dry_run_counts_links_and_creates_without_writing(stack: LocalStack, tenant: Tenant):
    body = api(tenant, "POST", "/transfers", {"source": "accounting", "dry_run": True}).json()
    assert body["plan"]["links"] == 1  # company 1 carries customer 1's number
    assert body["plan"]["creates"][crm_conn(tenant)] == 2 + 3  # 2 unmatched customers + the 3 contacts
    assert writes(tenant) == (0, 0)


def test_external_number_auto_links_in_a_transfer(stack: LocalStack, tenant: Tenant):
    """A number both systems carry (e-conomic publicEntryNumber, HubSpot crmsync_external_number) links."""
    if not tenant.crm.supports(CUSTOMER, "external_number"):
        pytest.skip(
            "this CRM holds no external number (Dynamics: only through a custom column, which this "
            "module's tenant maps; its accountnumber is the customer number)"
        )
    third = tenant.economic.customer_numbers()[2]
    tenant.economic.update_customer(third, publicEntryNumber="ERP-42")
    other = tenant.extra["c3"]
    tenant.crm.edit(CUSTOMER, other, {"external_number": "ERP-42"})
    stack.run_until_idle()
    body = api(tenant, "POST", "/transfers", {"source": "accounting", "dry_run": True}).json()
    assert body["plan"]["links"] == 2, "customer number for company 1, external number for company 3"
    assert writes(tenant) == (0, 0)
    applied = api(tenant, "POST", "/transfers", {"source": "accounting", "dry_run": False})
    assert applied.status_code == 200, applied.text
    stack.run_until_idle()
    record = stack.store.get_record(tenant.id, rid(tenant, ECONOMIC_CONNECTION, str(third)))
    assert record is not None and record.links[crm_conn(tenant)] == other
    assert crm_value(tenant, other, "customer_number") == str(third)
    assert len(tenant.economic.customer_numbers()) == 3, "linked, not created"


def test_link_explicitly_then_fields_flow_by_ownership(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[1]
    acc_id = rid(tenant, ECONOMIC_CONNECTION, str(number))
    crm_id = rid(tenant, crm_conn(tenant), tenant.extra["c2"])
    response = api(tenant, "POST", "/links", {"crm_record_id": crm_id, "accounting_record_id": acc_id})
    assert response.status_code == 200, response.text
    stack.run_until_idle()
    # accounting owns the number
    assert crm_value(tenant, tenant.extra["c2"], "customer_number") == str(number)
    record = api(tenant, "GET", f"/records/{acc_id}").json()
    assert set(record["links"]) == {ECONOMIC_CONNECTION, crm_conn(tenant)}
    # the customer's contact now exists in the CRM, attached to the linked company
    (contact,) = contacts_of(tenant.crm, tenant.extra["c2"])
    (eco_contact,) = tenant.economic.contacts_of(number)
    assert contact.fields["email"] == eco_contact["email"]
    # the other CRM-only company was not touched or created in e-conomic
    assert len(tenant.economic.customer_numbers()) == 3


def test_unlink_stops_the_flow_and_relink_works(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[1]
    acc_id = rid(tenant, ECONOMIC_CONNECTION, str(number))
    crm_id = rid(tenant, crm_conn(tenant), tenant.extra["c2"])
    api(tenant, "POST", "/links", {"crm_record_id": crm_id, "accounting_record_id": acc_id})
    stack.run_until_idle()
    before = writes(tenant)
    response = api(tenant, "DELETE", f"/links/{acc_id}")
    assert response.status_code == 200, response.text
    split_id = response.json()["crm_record_id"]
    stack.run_until_idle()
    assert writes(tenant) == before, "unlinking writes nothing to either side"
    tenant.crm.edit(CUSTOMER, tenant.extra["c2"], {"city": "Nuuk"})
    stack.run_until_idle()
    assert tenant.economic.get_customer(number).get("city") != "Nuuk", "an unlinked record no longer flows"
    assert writes(tenant)[0] == before[0]
    again = api(tenant, "POST", "/links", {"crm_record_id": split_id, "accounting_record_id": acc_id})
    assert again.status_code == 200, again.text
    stack.run_until_idle()
    assert tenant.economic.get_customer(number)["city"] == "Nuuk", "re-linked: the CRM owns master data again"


def test_linking_twice_is_refused(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[1]
    acc_id = rid(tenant, ECONOMIC_CONNECTION, str(number))
    crm_id = rid(tenant, crm_conn(tenant), tenant.extra["c2"])
    assert (
        api(tenant, "POST", "/links", {"crm_record_id": crm_id, "accounting_record_id": acc_id}).status_code
        == 200
    )
    again = api(tenant, "POST", "/links", {"crm_record_id": crm_id, "accounting_record_id": acc_id})
    assert again.status_code in (404, 409)


def test_create_on_the_other_side_when_asked(stack: LocalStack, tenant: Tenant):
    number = tenant.economic.customer_numbers()[2]
    acc_id = rid(tenant, ECONOMIC_CONNECTION, str(number))
    companies_before = len(tenant.crm.rows(CUSTOMER))
    response = api(tenant, "POST", f"/records/{acc_id}/create", {"connection_id": crm_conn(tenant)})
    assert response.status_code == 200, response.text
    stack.run_until_idle()
    assert len(tenant.crm.rows(CUSTOMER)) == companies_before + 1
    record = api(tenant, "GET", f"/records/{acc_id}").json()
    created = record["links"][crm_conn(tenant)]
    assert crm_value(tenant, created, "name") == tenant.economic.get_customer(number)["name"]
    assert crm_value(tenant, created, "customer_number") == str(number)


def test_off_mode_writes_nothing_and_automatic_needs_the_mode_endpoint(stack: LocalStack, tenant: Tenant):
    config = api(tenant, "GET", "/config").json()
    config["sync_mode"] = "automatic"
    assert api(tenant, "PUT", "/config", config).status_code == 409
    config["sync_mode"] = "off"
    assert api(tenant, "PUT", "/config", config).status_code == 200
    number = tenant.economic.customer_numbers()[0]
    tenant.economic.update_customer(number, city="Ikast")
    stack.run_until_idle()
    assert writes(tenant) == (0, 0)


def test_switch_to_automatic_reports_then_creates(stack: LocalStack, tenant: Tenant):
    dry = api(tenant, "POST", "/mode", {"mode": "automatic", "dry_run": True}).json()
    assert dry["plan"]["accounting"]["links"] == 1
    assert dry["plan"]["accounting"]["creates"][crm_conn(tenant)] >= 2
    assert writes(tenant) == (0, 0)
    done = api(tenant, "POST", "/mode", {"mode": "automatic", "dry_run": False})
    assert done.status_code == 200, done.text
    stack.run_until_idle()
    # 1 pair linked; the 2 other customers went to the CRM and the 2 other companies to e-conomic
    assert len(tenant.economic.customer_numbers()) == 5
    assert len(tenant.crm.rows(CUSTOMER)) == 5


def test_transfer_timing_on_customer_stage_holds_leads_back(stack: LocalStack, tenant: Tenant):
    if not tenant.crm.supports(CUSTOMER, "lifecycle_stage"):
        pytest.skip(
            "Dynamics has no lifecycle stage column on accounts: there is no customer stage to wait for"
        )
    config = api(tenant, "GET", "/config").json()
    config["transfer_timing"] = "on_customer_stage"
    assert api(tenant, "PUT", "/config", config).status_code == 200
    api(tenant, "POST", "/mode", {"mode": "automatic", "dry_run": False})
    stack.run_until_idle()
    lead = tenant.crm.create(CUSTOMER, {"name": "Lead Only ApS", "lifecycle_stage": "lead"})
    stack.run_until_idle()
    names = {tenant.economic.get_customer(n)["name"] for n in tenant.economic.customer_numbers()}
    assert "Lead Only ApS" not in names
    tenant.crm.edit(CUSTOMER, lead, {"lifecycle_stage": "customer"})
    stack.run_until_idle()
    names = {tenant.economic.get_customer(n)["name"] for n in tenant.economic.customer_numbers()}
    assert "Lead Only ApS" in names


def test_automatic_mode_links_a_crm_company_carrying_a_number_instead_of_duplicating(
    stack: LocalStack, tenant: Tenant
):
    config = stack.store.get_config(tenant.id)
    stack.store.put_config(config.model_copy(update={"sync_mode": SyncMode.AUTOMATIC}))
    number = tenant.economic.customer_numbers()[2]
    new_id = tenant.crm.create(CUSTOMER, {"name": "Typed by a salesperson", "customer_number": str(number)})
    stack.run_until_idle()
    acc_id = rid(tenant, ECONOMIC_CONNECTION, str(number))
    assert rid(tenant, crm_conn(tenant), new_id) == acc_id
    assert len(tenant.economic.customer_numbers()) == 3, "no duplicate customer in e-conomic"
    assert (
        tenant.economic.get_customer(number)["name"] == "Typed by a salesperson"
    )  # the CRM owns master data


def test_link_screen_pages_and_offers_candidates(stack: LocalStack, tenant: Tenant):
    rows, cursor = [], None
    while True:
        page = api(tenant, "GET", "/link/customers?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        rows += page["items"]
        cursor = page.get("cursor")
        if not cursor:
            break
    assert len(rows) == 6 and len({r["record_id"] for r in rows}) == 6
    offered = api(tenant, "GET", "/link/customers?state=has_candidates&limit=50").json()["items"]
    crm_c2 = rid(tenant, crm_conn(tenant), tenant.extra["c2"])
    acc_2 = rid(tenant, ECONOMIC_CONNECTION, str(tenant.economic.customer_numbers()[1]))
    row = next(r for r in offered if r["record_id"] == crm_c2)
    assert row["candidates"][0]["record_id"] == acc_2
    unrelated = rid(tenant, crm_conn(tenant), tenant.extra["c3"])
    assert unrelated not in {r["record_id"] for r in offered}, "an unrelated company gets no candidate"
    assert api(tenant, "GET", "/link/customers?cursor=not-base64!").status_code == 400


def test_applied_transfer_runs_as_a_paged_job_with_readable_progress(stack: LocalStack, tenant: Tenant):
    started = api(tenant, "POST", "/transfers", {"source": "accounting", "dry_run": False})
    assert started.status_code == 200, started.text
    job = started.json()["job"]
    assert job["pages"] >= 2  # one page of links, one of creates
    stack.run_until_idle()
    progress = api(tenant, "GET", f"/transfers/{job['job_id']}").json()
    assert progress["finished"] is True
    assert progress["done"] == progress["total"] == 1 + 5 and progress["failed"] == 0
    assert progress["rate_per_second"] > 0 and progress["eta_seconds"] == 0 and progress["errors"] == 0
    assert len(tenant.crm.rows(CUSTOMER)) == 3 + 2, "the 2 unmatched customers were created in the CRM"
    numbers = {row.fields["customer_number"] for row in tenant.crm.rows(CUSTOMER)} - {None}
    assert numbers == {str(n) for n in tenant.economic.customer_numbers()}, "each carries its number"
    assert api(tenant, "GET", "/transfers/" + "0" * 32).status_code == 404
