"""Property: any resolution the API accepts settles within two pump rounds; anything else is a 422.

Before the field rules, ``{"take": "value", "value": ""}`` on ``name`` was accepted, stored as ``""``
(the vendors answer ``None``) and written where e-conomic cannot clear a name: every push's echo looked
like a change and the record's version rose on every round (a push loop). Here Hypothesis throws
values of every kind (empty, whitespace, control and zero-width characters, booleans, long strings,
reference-like numbers) at customer and contact fields of a settled local stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmsync.models import CONTACT_FIELDS, CUSTOMER_FIELDS, ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "resprop"
ROUNDS = 4
SETTLED_BY = 2


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(1, contacts_per_customer=1, seed=5)
        local.token = local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)  # type: ignore[attr-defined]
        local.run_pull()
        local.run_until_idle()
        yield local


def _record_ids(stack: LocalStack) -> dict[ObjectType, str]:
    number = stack.economic.customer_numbers()[0]
    customer = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    assert customer is not None
    contact = next(
        r.record_id
        for r in stack.store.records(TENANT, ObjectType.CONTACT)
        if r.fields.get("customer") == customer
    )
    return {ObjectType.CUSTOMER: customer, ObjectType.CONTACT: contact}


def _version(stack: LocalStack, record_id: str) -> int:
    record = stack.store.get_record(TENANT, record_id)
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
CHOICES = st.one_of(
    st.tuples(st.just(ObjectType.CUSTOMER), st.sampled_from(CUSTOMER_FIELDS), VALUES),
    st.tuples(st.just(ObjectType.CONTACT), st.sampled_from(CONTACT_FIELDS), VALUES),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=CHOICES)
def test_an_accepted_resolution_settles_within_two_pump_rounds(stack: LocalStack, choice: Any) -> None:
    object_type, field, value = choice
    record_id = _record_ids(stack)[object_type]
    before = _version(stack, record_id)
    response = stack.http.request(
        "POST",
        f"/tenants/{TENANT}/records/{record_id}/resolve",
        json={"fields": {field: {"take": "value", "value": value}}},
        headers={"Authorization": f"Bearer {stack.token}"},  # type: ignore[attr-defined]
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert field in response.json()["message"]
        assert _version(stack, record_id) == before  # nothing stored
        return
    versions = []
    for _ in range(ROUNDS):
        stack.flush_webhooks()
        stack.pump_queue()
        stack.pump_stream()
        versions.append(_version(stack, record_id))
    assert len(set(versions[SETTLED_BY - 1 :])) == 1, (field, value, versions)
