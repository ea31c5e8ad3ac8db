"""A HubSpot failure on the stale check before an update stays with the records it checked.

The push batch-reads its HubSpot update targets first (the stale check). When that read fails, only the
checked updates go to the push's retry path (a retryable error) or are parked (a refusal); the rest of
the batch is written, and the push invocation itself returns normally (no batch item failures, so the
stream neither retries the batch nor sends it to ``PushFailuresQueue``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.fakes.hubspot import Faults
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "stalco"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(2, contacts_per_customer=0, seed=5)
        local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
        local.run_pull()
        local.run_until_idle()
        yield local


def fail_batch_reads(stack: LocalStack, status: int | None) -> dict[str, int]:
    """Answer HubSpot's batch reads with the fake's injected fault (``Faults``) while switched on.

    ``status`` None: an injected 5xx (the fake's ``rate_5xx``); else a refusal with that status.
    """
    fake = stack.hubspot
    dispatch: Callable[[Any], Any] = fake._dispatch
    seen = {"failed": 0, "on": 1}

    def wrapped(request: Any) -> Any:
        if seen["on"] and request.path.endswith("/batch/read"):
            seen["failed"] += 1
            if status is not None:
                return fake._json_response(status, {"status": "error", "category": "VALIDATION_ERROR"})
            previous, fake.faults = fake.faults, Faults(rate_5xx=1.0)
            try:
                return dispatch(request)
            finally:
                fake.faults = previous
        return dispatch(request)

    fake._dispatch = wrapped  # type: ignore[method-assign]
    return seen


def company_of(stack: LocalStack, number: int) -> dict[str, Any]:
    matches = [
        c
        for c in stack.hubspot.records("companies")
        if c["properties"].get("crmsync_customer_number") == str(number)
    ]
    assert len(matches) == 1, f"expected one company for customer {number}, found {len(matches)}"
    return matches[0]


def edit_terms(stack: LocalStack, number: int) -> str:
    customer = stack.economic.get_customer(number)
    assert customer is not None
    terms = 8 if customer["paymentTerms"]["paymentTermsNumber"] != 8 else 7
    stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms}, fire_webhook=False)
    return str(terms)


def changes_with_one_checked_update(stack: LocalStack) -> tuple[int, str, str, list[int]]:
    """One update of a linked company (stale-checked) and two new customers (creates) in one push."""
    number = stack.economic.customer_numbers()[0]
    terms_before = company_of(stack, number)["properties"].get("crmsync_payment_terms")
    terms = edit_terms(stack, number)
    new = [
        stack.economic.add_customer(name=f"Ny Kunde {i} ApS", city="Odense", fire_webhook=False)
        for i in range(2)
    ]
    stack.run_pull()
    assert stack.pump_queue() > 0
    return number, terms_before, terms, new


def test_a_5xx_on_the_stale_check_requeues_only_the_checked_record(stack: LocalStack):
    outage = fail_batch_reads(stack, None)
    number, terms_before, terms, new = changes_with_one_checked_update(stack)
    faults_before = stack.hubspot.stats()["faults"]

    assert stack.pump_stream() > 0
    assert outage["failed"] > 0, "the stale check's batch read was refused"
    assert stack.hubspot.stats()["faults"] > faults_before, "with the fake's injected 5xx"
    assert stack.stats.push_failures == 0, "the push invocation returned normally (no batch item failures)"
    for created in new:
        assert company_of(stack, created)["properties"]["name"].startswith("Ny Kunde"), "the rest is written"
    assert company_of(stack, number)["properties"].get("crmsync_payment_terms") == terms_before
    assert stack.queue_depth("SignalsQueue") == 1, "the checked record waits as a push request"

    outage["on"] = 0
    stack.run_until_idle()
    assert company_of(stack, number)["properties"]["crmsync_payment_terms"] == terms, "it arrives later"
    assert stack.stats.push_failures == 0
    assert stack.queue_depth("PushFailuresQueue") == 0
    assert stack.store.parked(TENANT) == []
    assert len(stack.hubspot.records("companies")) == 4, "no duplicates"


def test_a_refusal_on_the_stale_check_parks_only_the_checked_record(stack: LocalStack):
    fail_batch_reads(stack, 400)
    number, terms_before, _, new = changes_with_one_checked_update(stack)

    assert stack.pump_stream() > 0
    assert stack.stats.push_failures == 0
    for created in new:
        assert company_of(stack, created)["properties"]["name"].startswith("Ny Kunde")
    assert company_of(stack, number)["properties"].get("crmsync_payment_terms") == terms_before
    record_id = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    (parked,) = stack.store.parked(TENANT)
    assert parked.kind == "write" and parked.record_id == record_id
    assert parked.connection == HUBSPOT_CONNECTION and "before the update" in parked.reason
    assert stack.queue_depth("SignalsQueue") == 0, "a refusal is not retried in a loop"
