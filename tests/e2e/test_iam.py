"""IAM in the loop, end to end: the local stack runs every function under its role from template.yaml.

moto grants everything; ``LocalStack`` (``local.iam``) checks each AWS call a function or its event-source
poller makes against the role CloudFormation would give it. These tests show that a full sync needs
nothing its roles lack, that the push's retry path (a HubSpot 5xx re-queued to the signals queue) works
under those roles, and that taking one right away breaks the flow the way it would break on AWS.

They run on a HubSpot tenant only: the roles do not depend on the CRM (a connector's calls go to the
vendor, not AWS; its token cache is the same sync table), and every e2e stack, including all the
Dynamics 365 tests, ends with the same IAM check of every AWS call it made (``tests/e2e/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync import runtime
from crmsync.models import ObjectType, SyncMode
from local.fakes.hubspot import Faults
from local.iam import RoleOverride, without_action
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION

pytestmark = pytest.mark.e2e
TENANT = "acme"
FUNCTIONS = {
    "WebhookIngestFunction",
    "ScheduledPullFunction",
    "SyncWorkerFunction",
    "PushOnChangeFunction",
    "ApiFunction",
}


def settle(local: LocalStack) -> str:
    local.economic.seed(3, contacts_per_customer=1, seed=7)
    token = local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
    local.run_pull()
    local.run_until_idle()
    return token


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.token = settle(local)  # type: ignore[attr-defined]
        yield local


def company_terms(local: LocalStack, number: int) -> str | None:
    (company,) = [
        c
        for c in local.hubspot.records("companies")
        if c["properties"].get("crmsync_customer_number") == str(number)
    ]
    return company["properties"].get("crmsync_payment_terms")


def edit_terms(local: LocalStack) -> tuple[int, str]:
    """A bookkeeper changes a customer's payment terms in e-conomic (a field that flows to the CRM)."""
    number = local.economic.customer_numbers()[0]
    current = local.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
    terms = 8 if current != 8 else 7
    local.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
    return number, str(terms)


def allowed(local: LocalStack, function: str, action: str, resource_suffix: str = "") -> int:
    return sum(
        1
        for r in local.iam.records
        if r.allowed
        and r.function == function
        and r.action == action
        and r.resource.endswith(resource_suffix)
    )


def test_every_call_of_an_end_to_end_sync_is_allowed_by_the_functions_roles(stack: LocalStack) -> None:
    number, terms = edit_terms(stack)
    # Each phase starts cold (a new container on AWS): every function reads its own secrets, so the
    # check covers secretsmanager:GetSecretValue of each one rather than a cache another one filled.
    runtime.reset()
    stack.flush_webhooks()  # e-conomic's webhook -> WebhookIngestFunction -> signals queue
    runtime.reset()
    assert stack.pump_queue() >= 1  # the SQS poller (worker role) -> SyncWorkerFunction
    runtime.reset()
    assert stack.pump_stream() >= 1  # the stream -> PushOnChangeFunction -> HubSpot
    record_id = stack.store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
    response = stack.http.get(
        f"/tenants/{TENANT}/records/{record_id}",
        headers={"Authorization": f"Bearer {stack.token}"},  # type: ignore[attr-defined]
    )
    assert response.status_code == 200, response.text
    stack.run_until_idle()

    assert company_terms(stack, number) == terms
    assert stack.iam.denied() == []
    assert stack.iam.functions() >= FUNCTIONS
    for function in ("WebhookIngestFunction", "SyncWorkerFunction", "PushOnChangeFunction"):
        assert allowed(stack, function, "secretsmanager:GetSecretValue"), function
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
        assert allowed(stack, "SyncWorkerFunction", action, ":SignalsQueue"), action
    assert allowed(stack, "WebhookIngestFunction", "sqs:SendMessage", ":SignalsQueue")
    assert allowed(stack, "WebhookIngestFunction", "dynamodb:GetItem", "table/SyncTable")
    assert allowed(stack, "PushOnChangeFunction", "dynamodb:GetRecords", "")
    assert allowed(stack, "ApiFunction", "dynamodb:GetItem", "table/SyncTable")


def companies_named(local: LocalStack, name: str) -> int:
    return sum(1 for c in local.hubspot.records("companies") if c["properties"].get("name") == name)


def fail_a_push_then_recover(local: LocalStack, name: str) -> None:
    """A new e-conomic customer whose create in HubSpot meets 5xx until the stream is done with it.

    (A create: an update's push first re-reads HubSpot to drop stale writes, and a failed read fails
    the invocation as a whole, which the stream retries without the re-queue this is about.)
    """
    local.economic.add_customer(name=name, city="Aalborg")
    local.flush_webhooks()
    local.pump_queue()  # the worker saves the new record: its stream record waits for the push
    local.hubspot.set_faults(rate_5xx=1.0)
    try:
        local.pump_stream()  # the push fails (retryable), and Lambda's retries of the batch, if any
    finally:
        local.hubspot.set_faults(Faults())  # HubSpot is back
    local.run_until_idle()


NO_REQUEUE = without_action("PushOnChangeFunction", "sqs:SendMessage", resource="*:SignalsQueue")


@pytest.mark.parametrize("override", [None, NO_REQUEUE], ids=["template-roles", "push-cannot-requeue"])
def test_a_retryable_push_failure_is_requeued_and_arrives_only_if_the_push_may_send_to_the_queue(
    override: RoleOverride | None,
) -> None:
    with LocalStack(iam_override=override) as local:
        settle(local)
        fail_a_push_then_recover(local, "Nordlys Energi ApS")
        requeue_denied = [
            r
            for r in local.iam.denied()
            if r.function == "PushOnChangeFunction"
            and r.action == "sqs:SendMessage"
            and r.resource.endswith(":SignalsQueue")
        ]
        if override is None:
            # push_later moved the failed record to the signals queue; the worker pushed it later.
            assert local.iam.denied() == []
            assert allowed(local, "PushOnChangeFunction", "sqs:SendMessage", ":SignalsQueue") >= 1
            assert companies_named(local, "Nordlys Energi ApS") == 1
            assert local.queue_depth("PushFailuresQueue") == 0
        else:
            # What AWS would do with the template's old role: AccessDenied on the re-queue, the stream
            # retries the batch into the same 5xx, and the record ends in the failure queue: nothing
            # parked, the value never arrives.
            assert requeue_denied, "the re-queue was refused"
            assert companies_named(local, "Nordlys Energi ApS") == 0
            assert local.queue_depth("PushFailuresQueue") == 1
        assert local.store.parked(TENANT) == []


def test_a_worker_without_put_item_syncs_nothing() -> None:
    with LocalStack(iam_override=without_action("SyncWorkerFunction", "dynamodb:PutItem")) as local:
        local.economic.seed(2, contacts_per_customer=1, seed=7)
        local.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
        local.run_pull()
        local.run_until_idle()
        denied = {(r.function, r.action) for r in local.iam.denied()}
        assert denied == {("SyncWorkerFunction", "dynamodb:PutItem")}
        assert local.hubspot.records("companies") == []
        assert local.queue_depth("SignalsDLQ") >= 1, "the signals failed until the queue gave up on them"


def test_a_denied_call_fails_the_run_even_when_the_code_swallows_it() -> None:
    """A handler that catches AccessDenied (and parks or retries) must not hide it: leaving the stack fails."""
    from botocore.exceptions import ClientError

    local = LocalStack()
    local.start()
    try:
        with local.iam.acting_as("WebhookIngestFunction"), pytest.raises(ClientError):
            assert local.resources is not None
            local.sqs.send_message(
                QueueUrl=local.resources.queue_urls["PushFailuresQueue"], MessageBody="not this role's queue"
            )
    finally:
        with pytest.raises(AssertionError, match="WebhookIngestFunction: sqs:SendMessage on arn:aws:sqs:"):
            local.__exit__(None, None, None)
