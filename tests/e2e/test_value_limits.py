"""A value one vendor holds but the other cannot is parked with its reason, never truncated or sent to fail.

HubSpot takes 65,536 characters in a contact's phone; e-conomic's contact phone holds 50
(``crmsync.text_rules``). The accounting preflight refuses the write before e-conomic sees it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "limits"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(1, contacts_per_customer=1, seed=5)
        local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
        local.run_pull()
        local.run_until_idle()
        yield local


def test_a_contact_phone_too_long_for_e_conomic_is_parked_with_the_reason(stack: LocalStack) -> None:
    number = stack.economic.customer_numbers()[0]
    (contact,) = stack.economic.contacts_of(number)
    record_id = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CONTACT, str(contact["number"]))
    assert record_id is not None
    record = stack.store.get_record(TENANT, record_id)
    assert record is not None
    hubspot_id = record.links[HUBSPOT_CONNECTION]
    phone_before = stack.economic.get_contact(contact["number"]).get("phone")  # type: ignore[union-attr]

    stack.hubspot.edit("contacts", hubspot_id, {"phone": "4" * 60})
    stack.run_until_idle()

    reasons = [p.reason for p in stack.store.parked(TENANT)]
    assert any("phone is 60 characters, longer than 50" in r for r in reasons), reasons
    after = stack.economic.get_contact(contact["number"])
    assert after is not None and after.get("phone") == phone_before, "e-conomic kept its value"
