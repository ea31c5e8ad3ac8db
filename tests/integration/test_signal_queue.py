"""Two lanes and fair queues: where ``SignalQueue`` sends each kind of work (issue 14 item 6)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from crmsync.connectors.base import RateLimitedError, TransientError
from crmsync.linking import TransferPage
from crmsync.models import ObjectType, Signal
from crmsync.service import PushRequest
from crmsync.signal_queue import SignalQueue, retry_delay


@pytest.fixture
def queues() -> Iterator[tuple[Any, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        live = sqs.create_queue(QueueName="live")["QueueUrl"]
        bulk = sqs.create_queue(QueueName="bulk")["QueueUrl"]
        yield sqs, live, bulk


def drain(sqs: Any, url: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    while got := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
    ).get("Messages", []):
        for m in got:
            out.append((m["Attributes"]["MessageGroupId"], json.loads(m["Body"])))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def signal(tenant: str, n: int, source: str) -> Signal:
    return Signal(
        tenant_id=tenant,
        connection_id="eco",
        object_type=ObjectType.CUSTOMER,
        external_id=str(n),
        source=source,
    )


def test_bulk_work_goes_to_the_bulk_queue_and_every_message_names_its_tenant(queues: Any) -> None:
    sqs, live, bulk = queues
    queue = SignalQueue(sqs, live, bulk)
    sent = queue.send(
        [signal("a", n, "pull") for n in range(150)]
        + [signal("b", 1, "pull"), signal("b", 2, "webhook"), signal("a", 3, "webhook")]
        + [
            TransferPage(tenant_id="a", job_id="j1", page=0),
            PushRequest(tenant_id="a", record_ids=["r1"], bulk=True),
            PushRequest(tenant_id="b", record_ids=["r2"]),
        ]
    )
    assert sent == 156
    on_live, on_bulk = drain(sqs, live), drain(sqs, bulk)
    live_kinds = sorted((group, body["kind"], len(body.get("signals", [1]))) for group, body in on_live)
    assert live_kinds == [("a", "signals", 1), ("b", "push", 1), ("b", "signals", 1)]
    bulk_kinds = sorted((group, body["kind"], len(body.get("signals", [1]))) for group, body in on_bulk)
    assert bulk_kinds == [
        ("a", "push", 1),
        ("a", "signals", 50),
        ("a", "signals", 100),
        ("a", "transfer_page", 1),
        ("b", "signals", 1),
    ], "bundles hold one tenant's signals of one lane"
    assert all(s["tenant_id"] == group for group, body in on_live + on_bulk for s in body.get("signals", []))


def test_without_a_bulk_queue_everything_goes_to_the_signals_queue(queues: Any) -> None:
    sqs, live, bulk = queues
    queue = SignalQueue(sqs, live)
    queue.send([signal("a", 1, "pull"), TransferPage(tenant_id="a", job_id="j", page=0)])
    queue.send_one_each([signal("a", 2, "pull")])
    assert len(drain(sqs, live)) == 3 and drain(sqs, bulk) == []


def test_one_by_one_resends_keep_their_lane(queues: Any) -> None:
    sqs, live, bulk = queues
    SignalQueue(sqs, live, bulk).send_one_each([signal("a", 1, "pull"), signal("a", 2, "webhook")])
    assert [body["signals"][0]["external_id"] for _, body in drain(sqs, bulk)] == ["1"]
    assert [body["signals"][0]["external_id"] for _, body in drain(sqs, live)] == ["2"]


def test_retry_delay_backs_off_and_waits_at_least_what_the_vendor_asked() -> None:
    for count, low in ((1, 30), (2, 60), (3, 120), (4, 240)):
        delays = {retry_delay(count, None) for _ in range(50)}
        assert min(delays) >= low and max(delays) <= math.ceil(low * 1.25), (count, delays)
    assert min(retry_delay(1, 40.2, base=1) for _ in range(50)) >= 42, "Retry-After 40.2 s: back after it"
    assert retry_delay(1, 10.0, base=1, jitter=0) == 11
    assert retry_delay(30, None) == 43_200, "never past SQS's 12-hour visibility maximum"
    assert len({retry_delay(3, None) for _ in range(50)}) > 1, "jittered: one burst's retries spread out"


def test_a_failed_message_comes_back_after_its_delay_and_at_once_after_its_last_try(queues: Any) -> None:
    sqs, live, bulk = queues
    sqs.set_queue_attributes(QueueUrl=live, Attributes={"VisibilityTimeout": "0"})
    arn = sqs.get_queue_attributes(QueueUrl=live, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = SignalQueue(sqs, live, bulk, retry_base=1)
    queue.send([signal("a", 1, "webhook")])
    (first,) = sqs.receive_message(QueueUrl=live)["Messages"]
    seconds = queue.retry_failed(
        arn, first["ReceiptHandle"], 1, RateLimitedError("429", retry_after=30.0), last=False
    )
    assert seconds >= 31
    assert sqs.receive_message(QueueUrl=live).get("Messages", []) == [], "hidden for the vendor's wait"
    queue.retry_later(arn, first["ReceiptHandle"], 0)  # a person's replay, say: due now
    (again,) = sqs.receive_message(QueueUrl=live)["Messages"]
    assert queue.retry_failed(arn, again["ReceiptHandle"], 5, TransientError("503"), last=True) == 0
    assert len(sqs.receive_message(QueueUrl=live)["Messages"]) == 1, "the last try: back at once (DLQ)"
    assert not queue.retry_later("arn:aws:sqs:eu-west-1:1:elsewhere", again["ReceiptHandle"], 5)


def test_a_bundles_failed_signals_are_resent_with_a_delay(queues: Any) -> None:
    sqs, live, bulk = queues
    SignalQueue(sqs, live, bulk).send_one_each([signal("a", 1, "webhook")], delay=2000)
    assert sqs.receive_message(QueueUrl=live).get("Messages", []) == [], "delayed (capped at 900 s)"
