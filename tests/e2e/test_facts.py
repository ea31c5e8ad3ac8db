"""Accounting facts in the CRM (issue 17 items 1-3): a booking shows within one webhook, a payment on the
scheduled refresh, only changed companies are written, parents show their children's totals.

Every test runs once per CRM (``crm_kind``): HubSpot keeps the facts in crmsync's company properties,
Dynamics in the account columns the organisation mapped (``local.vendors.DYNAMICS_FACT_COLUMNS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync import runtime
from crmsync.messages import FactsRefresh
from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER = ObjectType.CUSTOMER


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """Three e-conomic customers transferred to the CRM (automatic mode), facts switched on."""

    def seed(account: VendorAccount) -> None:
        account.economic.seed(3, contacts_per_customer=0, seed=47)

    t = add_seeded_tenant(stack, "facts", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    config = t.api("GET", "/config").json()
    config["facts"] = {"enabled": True, "revenue_days": 365}
    response = t.api("PUT", "/config", config)
    assert response.status_code == 200, response.text
    yield t
    retire(t)


def company_of(tenant: Tenant, number: int) -> str:
    record_id = tenant.stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, CUSTOMER, str(number))
    assert record_id is not None
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None
    return record.links[tenant.crm.connection_id]


def scheduled_refresh(tenant: Tenant) -> None:
    """What the schedule queues once per ``facts.refresh_minutes`` (the claim is tested on its own)."""
    ctx = runtime.context()
    assert ctx.queue is not None
    ctx.queue.send([FactsRefresh(tenant_id=tenant.id, bulk=True)])
    tenant.stack.run_until_idle()


def amount(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def test_a_booked_invoice_shows_its_open_balance_on_the_company_within_one_webhook(tenant: Tenant):
    number = tenant.economic.customer_numbers()[0]
    company = company_of(tenant, number)
    assert tenant.crm.facts(company)["open_balance"] is None, "nothing before the first booking"
    invoice = tenant.economic.book_invoice(number, amount=1000.0)
    tenant.stack.run_until_idle()
    facts = tenant.crm.facts(company)
    assert amount(facts["open_balance"]) == 1250.0, "gross, VAT included"
    assert amount(facts["revenue"]) == 1000.0, "net"
    assert int(facts["unpaid_invoices"]) == 1 and int(facts["last_invoice_number"]) == invoice
    other = company_of(tenant, tenant.economic.customer_numbers()[1])
    assert tenant.crm.facts(other)["open_balance"] is None, "one webhook refreshes one customer"
    record_id = tenant.stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, CUSTOMER, str(number))
    view = tenant.api("GET", f"/records/{record_id}/compare").json()
    assert view["facts"]["values"]["open_balance"] == "1250.00", "the compare view shows what was written"
    assert view["facts"]["customer_number"] == str(number)


def test_a_payment_arrives_on_the_scheduled_refresh_and_unchanged_companies_are_not_written(tenant: Tenant):
    first, second, third = tenant.economic.customer_numbers()[:3]
    paid = tenant.economic.book_invoice(first, amount=400.0, fire_webhook=False)
    tenant.economic.book_invoice(second, amount=80.0, fire_webhook=False)
    scheduled_refresh(tenant)
    assert amount(tenant.crm.facts(company_of(tenant, first))["open_balance"]) == 500.0
    assert amount(tenant.crm.facts(company_of(tenant, second))["open_balance"]) == 100.0
    assert amount(tenant.crm.facts(company_of(tenant, third))["open_balance"]) == 0.0, "no invoice: zero"

    tenant.economic.register_payment(paid)  # e-conomic has no webhook for it
    writes = tenant.crm.write_calls()
    scheduled_refresh(tenant)
    assert amount(tenant.crm.facts(company_of(tenant, first))["open_balance"]) == 0.0
    assert amount(tenant.crm.facts(company_of(tenant, first))["revenue"]) == 400.0, "paid is still revenue"
    assert tenant.crm.write_calls() - writes == 1, "one batch with the one changed company"
    writes = tenant.crm.write_calls()
    scheduled_refresh(tenant)
    assert tenant.crm.write_calls() == writes, "nothing changed, nothing written"


def test_the_schedule_claims_one_refresh_per_period(stack: LocalStack, tenant: Tenant):
    from crmsync.facts_refresh import due_refreshes

    ctx = runtime.context()
    config = ctx.config(tenant.id)
    now = ctx.clock()
    first = due_refreshes(ctx, config, now)
    assert [m.bulk for m in first] in ([True], []), "claimed now, or by the pulls that ran before"
    assert due_refreshes(ctx, config, now) == [], "the same period is claimed once"
    from datetime import timedelta

    later = now + timedelta(minutes=config.facts.refresh_minutes + 1)
    assert [m.tenant_id for m in due_refreshes(ctx, config, later)] == [tenant.id]


def test_a_parent_shows_the_totals_of_its_children(tenant: Tenant):
    first, second = tenant.economic.customer_numbers()[:2]
    parent = tenant.crm.create(CUSTOMER, {"name": "Koncern A/S"})
    for child in (first, second):
        tenant.crm.set_parent_account(company_of(tenant, child), parent)
    tenant.stack.run_pull()  # a hierarchy change is seen by the pull at the latest
    tenant.stack.run_until_idle()
    child_record = tenant.stack.store.find_link(
        tenant.id, tenant.crm.connection_id, CUSTOMER, company_of(tenant, first)
    )
    parent_record = tenant.stack.store.find_link(tenant.id, tenant.crm.connection_id, CUSTOMER, parent)
    child = tenant.stack.store.get_record(tenant.id, child_record or "")
    assert child is not None and child.fields.get("parent_account") == parent_record, "the hierarchy is known"
    again = tenant.stack.run_pull()
    assert again["enqueued"] == 0, "a pull re-reading the children sees them as crmsync does (no signal)"
    tenant.economic.book_invoice(first, amount=1000.0, fire_webhook=False)
    tenant.economic.book_invoice(second, amount=200.0, fire_webhook=False)
    scheduled_refresh(tenant)
    on_parent = tenant.crm.facts(parent)
    assert amount(on_parent["open_balance"]) == 0.0, "the parent's own invoices: none"
    assert amount(on_parent["group_open_balance"]) == 1500.0, "itself and its two children"
    assert amount(on_parent["group_revenue"]) == 1200.0
    assert tenant.crm.facts(company_of(tenant, first))["group_open_balance"] is None, "a leaf has no group"


def test_a_refresh_cut_by_its_time_budget_goes_on_in_a_new_message(tenant: Tenant, monkeypatch):
    from crmsync import facts_refresh

    monkeypatch.setattr(facts_refresh, "WRITE_BATCH", 1)
    monkeypatch.setattr(facts_refresh, "TIME_BUDGET_S", 0.0)  # one batch per message
    numbers = tenant.economic.customer_numbers()[:3]
    owed = []
    for number in numbers:
        invoice = tenant.economic.book_invoice(number, amount=100.0, fire_webhook=False)
        owed.append(amount((tenant.economic.get_booked_invoice(invoice) or {})["remainderInBaseCurrency"]))
    before = tenant.stack.stats.signals
    scheduled_refresh(tenant)
    shown = [amount(tenant.crm.facts(company_of(tenant, n))["open_balance"]) for n in numbers]
    assert shown == owed and all(owed), (shown, owed)
    assert len(tenant.stack.store.facts_hashes(tenant.id)) == 3, "each company written once"
    assert tenant.stack.stats.signals - before == 3, "the refresh and two continuations, one batch each"
