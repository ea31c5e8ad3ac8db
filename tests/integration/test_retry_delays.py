"""A failed message comes back when waiting can help, not at once (issue 14 item 9).

The steady-state bench parked pushes to e-conomic: the connection's rate budget was spent (its window
is 60 s), the push failed retryably, and the local pump handed it back within a second each time, so
all five receives went by inside one window. On AWS the same push would have waited the queue's
18-minute visibility timeout per retry. Now the worker sets the return itself: after the budget's (or
the vendor's) ``retry_after`` at the least, with backoff; after its last receive at once (to the DLQ).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from crmsync import runtime
from crmsync.budget import BudgetLimits
from crmsync.connectors.base import RateLimitedError
from crmsync.service import PushRequest
from local.lambda_runtime import invoke
from tests.integration.conftest import Env

SPENT = BudgetLimits(window_seconds=3600, calls_per_window=1, calls_per_day=100_000)
"""One call an hour: after one call the budget raises at once with retry_after up to an hour."""


def spend_slowly(env: Env) -> None:
    """Give tenant t1's e-conomic connection the one-call-an-hour budget."""
    config = env.store.get_config("t1")
    assert config is not None
    connections = [
        c.model_copy(update={"rate_budget": SPENT}) if c.connection_id == "eco" else c
        for c in config.connections
    ]
    env.store.put_config(config.model_copy(update={"connections": connections}))


def push_request_for_a_spent_budget(env: Env) -> dict[str, Any]:
    env.tenant("t1")
    spend_slowly(env)
    fields = {"name": "Kø ApS", "city": "Ribe"}
    record = env.hubspot_company_record("t1", fields, "cus_" + "c" * 32)
    ctx = runtime.context()
    ctx.forget_configs()
    gate = ctx.connectors.get(ctx.config("t1"), "eco").http.gate
    assert gate is not None
    with pytest.raises(RateLimitedError):  # the window's only call (taken here or by the setup): spent
        for _ in range(2):
            gate()
    return PushRequest(tenant_id="t1", record_ids=[record.record_id]).model_dump(mode="json")


def deliver(env: Env, body: dict[str, Any]) -> dict[str, Any]:
    """Send to the live queue and receive it as Lambda's poller would (a real receipt handle)."""
    url = env.resources.signals_queue_url
    env.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    (message,) = env.sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    return message


def worker_event(message: dict[str, Any], arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "eu-west-1",
            }
        ]
    }


@pytest.fixture
def instant_queue(env: Env) -> str:
    """The live queue with a 0 s visibility timeout: a message is back at once unless someone says when."""
    url = env.resources.signals_queue_url
    env.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    return url


def test_a_push_that_met_a_spent_budget_waits_for_it(env: Env, instant_queue: str) -> None:
    body = push_request_for_a_spent_budget(env)
    message = deliver(env, body)
    with pytest.raises(BatchProcessingError):  # its only record failed: the invocation fails
        invoke("sync_worker", worker_event(message, env.resources.queue_arns["SignalsQueue"]))
    got = env.sqs.receive_message(QueueUrl=instant_queue).get("Messages", [])
    assert got == [], "not back before the budget's next window (the queue alone would send it at once)"
    assert env.store.parked("t1") == [], "a first failure is retried, not parked"


def test_its_last_failure_parks_it_and_sends_it_on_at_once(env: Env, instant_queue: str) -> None:
    body = push_request_for_a_spent_budget(env)
    env.sqs.set_queue_attributes(QueueUrl=instant_queue, Attributes={"VisibilityTimeout": "3600"})
    message = deliver(env, body)
    message["Attributes"]["ApproximateReceiveCount"] = "5"  # as SQS counts its fifth delivery
    with pytest.raises(BatchProcessingError):
        invoke("sync_worker", worker_event(message, env.resources.queue_arns["SignalsQueue"]))
    (entry,) = env.store.parked("t1")
    assert entry.kind == "push" and "could not be written yet" in entry.reason
    again = env.sqs.receive_message(QueueUrl=instant_queue).get("Messages", [])
    assert len(again) == 1, "visible at once (its next receive moves it to the DLQ), not in an hour"


def test_a_changed_rate_budget_counts_from_the_next_call(env: Env) -> None:
    """A cached connector keeps its budget only while the config's limits stay the same."""
    env.tenant("t1")
    ctx = runtime.context()
    before = ctx.connectors.get(ctx.config("t1"), "eco")
    gate = before.http.gate
    assert ctx.connectors.get(ctx.config("t1"), "eco").http.gate is gate, "unchanged config: same budget"
    spend_slowly(env)
    ctx.forget_configs()
    after = ctx.connectors.get(ctx.config("t1"), "eco")
    assert after is before and after.http.gate is not gate
    assert getattr(after.http.gate, "__self__").limits == SPENT  # noqa: B009 - the bound RateBudget
