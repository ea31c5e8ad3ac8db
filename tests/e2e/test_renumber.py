"""An e-conomic renumbering moves a link only when e-conomic itself shows it (old number gone, new there,
new not linked to another record); any other ``old != new`` webhook is two ordinary signals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "renco"
KEY = "local-webhook-key"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(4, contacts_per_customer=1, seed=33)
        local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC, webhook_secret=KEY)
        local.run_pull()
        local.run_until_idle()
        yield local


def link_of(stack: LocalStack, number: int | str) -> str | None:
    return stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))


def linked(stack: LocalStack, index: int) -> tuple[int, str, str]:
    number = stack.economic.customer_numbers()[index]
    record_id = link_of(stack, number)
    assert record_id is not None
    record = stack.store.get_record(TENANT, record_id)
    assert record is not None
    return number, record.links[HUBSPOT_CONNECTION], record_id


def customer_fields(stack: LocalStack, number: int) -> dict[str, Any]:
    customer = stack.economic.get_customer(number)
    assert customer is not None
    return {k: customer.get(k) for k in ("name", "city", "address", "email", "telephoneAndFaxNumber")}


def companies_with_number(stack: LocalStack, number: int) -> list[str]:
    return [
        c["id"]
        for c in stack.hubspot.records("companies")
        if c["properties"].get("crmsync_customer_number") == str(number)
    ]


def post_renumber(stack: LocalStack, old: int, new: int) -> None:
    url = f"/webhooks/economic/{TENANT}/{ECONOMIC_CONNECTION}?key={KEY}&old={old}&new={new}"
    response = stack.http.post(url, json={})
    assert response.status_code == 200, response.text


def test_a_forged_renumber_between_two_existing_customers_moves_nothing(stack: LocalStack):
    old, company_id, record_id = linked(stack, 1)
    # A customer crmsync has never seen (no webhook), with a name and city of its own.
    new = stack.economic.add_customer(name="Aldrig Set ApS", city="Vejle", fire_webhook=False)
    before = customer_fields(stack, new)

    post_renumber(stack, old, new)
    stack.run_until_idle()

    assert link_of(stack, old) == record_id, "the old number keeps its link"
    assert link_of(stack, new) != record_id, "the never-seen customer is not taken over"
    record = stack.store.get_record(TENANT, record_id)
    assert record is not None and record.links[ECONOMIC_CONNECTION] == str(old)
    assert record.links[HUBSPOT_CONNECTION] == company_id
    assert customer_fields(stack, new) == before, "nothing is overwritten on the other customer"

    stack.run_pull()
    stack.run_until_idle()
    assert companies_with_number(stack, old) == [company_id], "no second HubSpot company for the old customer"
    assert customer_fields(stack, new) == before
    assert link_of(stack, old) == record_id


def test_a_real_renumber_still_moves_the_link(stack: LocalStack):
    old, company_id, record_id = linked(stack, 2)
    companies = len(stack.hubspot.records("companies"))
    before = customer_fields(stack, old)

    stack.economic.renumber(old, 9001)
    stack.run_until_idle()

    assert link_of(stack, 9001) == record_id
    assert link_of(stack, old) is None
    record = stack.store.get_record(TENANT, record_id)
    assert record is not None and record.links == {
        ECONOMIC_CONNECTION: "9001",
        HUBSPOT_CONNECTION: company_id,
    }
    assert customer_fields(stack, 9001) == before
    stack.run_pull()
    stack.run_until_idle()
    assert len(stack.hubspot.records("companies")) == companies, "no duplicate company"
    assert companies_with_number(stack, 9001) == [company_id]


def test_a_renumber_onto_a_number_linked_to_another_record_does_not_steal_it(stack: LocalStack):
    old, old_company, old_record = linked(stack, 0)
    taken, taken_company, taken_record = linked(stack, 3)
    taken_before = customer_fields(stack, taken)
    # The old number is really gone (deleted without a webhook): only the number it would move to is taken.
    stack.economic.delete_customer(old, fire_webhook=False)

    post_renumber(stack, old, taken)
    stack.run_until_idle()

    assert link_of(stack, taken) == taken_record, "the other record keeps its link"
    assert link_of(stack, old) == old_record, "the old record keeps its own"
    taken_rec = stack.store.get_record(TENANT, taken_record)
    assert taken_rec is not None and taken_rec.links[HUBSPOT_CONNECTION] == taken_company
    assert customer_fields(stack, taken) == taken_before, "nothing is overwritten on the taken number"
    # The old number was handled as an ordinary signal of its own: e-conomic's 404 is a tombstone.
    old_rec = stack.store.get_record(TENANT, old_record)
    assert old_rec is not None and old_rec.links[ECONOMIC_CONNECTION] == str(old)
    assert old_rec.bases[ECONOMIC_CONNECTION].deleted
    assert old_company in {c["id"] for c in stack.hubspot.records("companies")}
    stack.run_pull()
    stack.run_until_idle()
    assert companies_with_number(stack, taken) == [taken_company]
