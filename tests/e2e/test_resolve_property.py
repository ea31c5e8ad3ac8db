"""Property: any resolution the API accepts settles within two pump rounds; anything else is a 422.

Before the field rules, ``{"take": "value", "value": ""}`` on ``name`` was accepted, stored as ``""``
(the vendors answer ``None``) and written where e-conomic cannot clear a name: every push's echo looked
like a change and the record's version rose on every round (a push loop). Here Hypothesis throws
values of every kind (empty, whitespace, control and zero-width characters, booleans, long strings,
reference-like numbers) at customer and contact fields of a settled local stack.

The property runs once per CRM (HubSpot, Dynamics 365: ``crm_kind``) on one tenant of the module's
stack. HubSpot's run draws from every canonical field, as it always did. Dynamics' run draws only from
the fields Dynamics holds (``tenant.crm.supports``: ``DataverseMapping``): a field it lacks (currency,
payment terms, VAT zone, ...) is written to e-conomic alone, the path HubSpot's run already covers, so
Dynamics' examples go to its own write and webhook-echo path instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmsync.models import CONTACT_FIELDS, CUSTOMER_FIELDS, ObjectType, SyncMode
from local.crm_side import CrmSide
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
ROUNDS = 4
SETTLED_BY = 2
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


@pytest.fixture(scope="module")
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    """One e-conomic customer with a contact, transferred to the CRM (automatic mode), settled."""

    def seed(account: VendorAccount) -> None:
        account.economic.seed(1, contacts_per_customer=1, seed=5)

    t = add_seeded_tenant(stack, "resprop", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    yield t
    retire(t)


def _record_ids(tenant: Tenant) -> dict[ObjectType, str]:
    store = tenant.stack.store
    number = tenant.economic.customer_numbers()[0]
    customer = store.find_link(tenant.id, ECONOMIC_CONNECTION, CUSTOMER, str(number))
    assert customer is not None
    contact = next(
        r.record_id for r in store.records(tenant.id, CONTACT) if r.fields.get("customer") == customer
    )
    return {CUSTOMER: customer, CONTACT: contact}


def _version(tenant: Tenant, record_id: str) -> int:
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None
    return record.version


TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="ab \t\r\n\x00\x85\u200b\u202e\u2066\ufeff\u3000", max_size=8),
    st.sampled_from(["", " ", "eur", "DKK", "customer", "lead", "Anna  Maria Berg", "cus_" + "0" * 32]),
    st.from_regex(r"[0-9]{1,4}", fullmatch=True),
    st.text(alphabet="xé😀", min_size=40, max_size=300),
)
VALUES = st.one_of(st.none(), st.booleans(), TEXT, st.integers(), st.just({"a": 1}))


def fields_to_resolve(crm: CrmSide, object_type: ObjectType) -> list[str]:
    """The fields a run draws from: every canonical one for HubSpot, Dynamics' own for Dynamics."""
    every = list(CUSTOMER_FIELDS if object_type is CUSTOMER else CONTACT_FIELDS)
    if crm.kind == "hubspot":
        return every
    return [field for field in every if crm.supports(object_type, field)]


def choices(crm: CrmSide) -> st.SearchStrategy[tuple[ObjectType, str, Any]]:
    return st.one_of(
        st.tuples(st.just(CUSTOMER), st.sampled_from(fields_to_resolve(crm, CUSTOMER)), VALUES),
        st.tuples(st.just(CONTACT), st.sampled_from(fields_to_resolve(crm, CONTACT)), VALUES),
    )


def test_dynamics_draws_only_fields_it_holds_and_hubspot_every_field(tenant: Tenant) -> None:
    for object_type, every in ((CUSTOMER, CUSTOMER_FIELDS), (CONTACT, CONTACT_FIELDS)):
        drawn = fields_to_resolve(tenant.crm, object_type)
        assert "name" in drawn and "email" in drawn
        if tenant.crm.kind == "hubspot":
            assert drawn == list(every)
        else:
            assert all(tenant.crm.supports(object_type, field) for field in drawn)
            assert len(drawn) < len(every)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_accepted_resolution_settles_within_two_pump_rounds(tenant: Tenant, data: st.DataObject) -> None:
    object_type, field, value = data.draw(choices(tenant.crm), label="choice")
    stack = tenant.stack
    record_id = _record_ids(tenant)[object_type]
    before = _version(tenant, record_id)
    response = tenant.api(
        "POST", f"/records/{record_id}/resolve", {"fields": {field: {"take": "value", "value": value}}}
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert field in response.json()["message"]
        assert _version(tenant, record_id) == before  # nothing stored
        return
    versions = []
    for _ in range(ROUNDS):
        stack.flush_webhooks()
        stack.pump_queue()
        stack.pump_stream()
        versions.append(_version(tenant, record_id))
    assert len(set(versions[SETTLED_BY - 1 :])) == 1, (field, value, versions)
