"""A signal or push that exhausts its retries is parked (and moves to the DLQ); replay re-reads the source."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from crmsync import runtime
from crmsync.models import ObjectType, Signal
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:signals"


def worker_event(body: dict[str, Any], receive_count: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1",
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": "1",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "eu-west-1",
            }
        ]
    }


def worker_fails(body: dict[str, Any], receive_count: int) -> bool:
    """Did the worker hand the message back to SQS? (A batch whose every record failed raises.)"""
    try:
        result = invoke("sync_worker", worker_event(body, receive_count))
    except BatchProcessingError:
        return True
    return result["batchItemFailures"] == [{"itemIdentifier": "m-1"}]


def api(method: str, path: str, token: str) -> dict[str, Any]:
    response = invoke("api", http_event(method, path, headers={"Authorization": f"Bearer {token}"}))
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def failing_signal(env: Env) -> dict[str, Any]:
    number = env.economic.seed(1, contacts_per_customer=0, seed=4)[0]
    ctx = runtime.context()
    ctx.connectors.get(ctx.config("t1"), "eco")  # set up before the outage begins
    env.economic.inject(503, count=8, path_contains="customers")  # two deliveries x four attempts
    return Signal(
        tenant_id="t1",
        connection_id="eco",
        object_type=ObjectType.CUSTOMER,
        external_id=str(number),
        source="webhook",
    ).model_dump(mode="json")


def test_a_failing_signal_is_retried_then_parked_on_its_last_receive(env: Env):
    token = env.tenant("t1")
    body = failing_signal(env)
    assert worker_fails(body, 1), "retried by SQS"
    assert env.store.parked("t1") == [], "not parked before the last attempt"
    assert worker_fails(body, 5), "still failed: SQS moves it to the DLQ"
    (entry,) = api("GET", "/tenants/t1/parked", token)["json"]["items"]
    assert entry["kind"] == "signal" and entry["message"]["external_id"] == body["external_id"]
    assert "503" in entry["reason"] or "Transient" in entry["reason"]

    replay = api("POST", f"/tenants/t1/parked/{entry['id']}/replay", token)
    assert replay["statusCode"] == 200 and replay["json"]["requeued"] == "signal"
    (queued,) = env.queued()
    assert queued["external_id"] == body["external_id"] and queued["source"] == "replay"
    assert api("GET", "/tenants/t1/parked", token)["json"]["items"] == []


def test_a_push_that_keeps_failing_moves_from_the_stream_to_the_queue(env: Env):
    env.tenant("t1")
    ctx = runtime.context()
    fields = {"name": "Kø ApS", "city": "Ribe"}
    record = env.hubspot_company_record("t1", fields, "cus_" + "b" * 32)
    ctx.connectors.get(ctx.config("t1"), "eco")
    env.economic.inject(503, count=100, method="POST")
    from crmsync import service

    report = service.push_records(ctx, [env.store.get_record("t1", record.record_id)])
    assert report.failed == [record.record_id]
    service.push_later(ctx, {"t1": report.failed})
    (request,) = env.queued()
    assert request == {"kind": "push", "tenant_id": "t1", "record_ids": [record.record_id]}
    assert worker_fails(request, 1), "the queue retries it"
    assert worker_fails(request, 5)
    (entry,) = env.store.parked("t1")
    assert entry.kind == "push" and entry.record_id == record.record_id


def test_a_bundle_requeues_only_its_failing_signal_on_its_own(env: Env):
    import boto3

    env.tenant("t1")
    (good,) = env.economic.seed(1, contacts_per_customer=0, seed=6)
    ctx = runtime.context()
    signals = [
        Signal(
            tenant_id="t1",
            connection_id="eco",
            object_type=ObjectType.CUSTOMER,
            external_id=str(good),
            source="pull",
        ),
        # a signal for a connection the tenant no longer has: it fails every time
        Signal(
            tenant_id="t1",
            connection_id="gone",
            object_type=ObjectType.CUSTOMER,
            external_id="9",
            source="pull",
        ),
    ]
    assert ctx.queue is not None and ctx.queue.send(signals) == 2
    bulk = env.resources.queue_urls["BulkQueue"]  # pull signals are bulk work
    raw = boto3.client("sqs").receive_message(QueueUrl=bulk, MaxNumberOfMessages=10)
    (message,) = raw["Messages"]
    bundle = json.loads(message["Body"])
    assert bundle["kind"] == "signals" and len(bundle["signals"]) == 2, "one SQS message for both"
    boto3.client("sqs").delete_message(QueueUrl=bulk, ReceiptHandle=message["ReceiptHandle"])
    assert not worker_fails(bundle, 1), "the bundle itself succeeds"
    assert env.store.find_link("t1", "eco", ObjectType.CUSTOMER, str(good)) is not None
    assert env.queued() == [], "re-queued with a retry delay, not due at once"
    (requeued,) = env.queued(wait=5)
    assert (requeued["connection_id"], requeued["external_id"]) == ("gone", "9"), (
        "only the failing one, alone"
    )


def test_signals_for_one_record_in_one_invocation_are_reconciled_once(env: Env):
    env.tenant("t1")
    (number,) = env.economic.seed(1, contacts_per_customer=0, seed=8)
    ctx = runtime.context()
    ctx.connectors.get(ctx.config("t1"), "eco")
    signal = Signal(
        tenant_id="t1",
        connection_id="eco",
        object_type=ObjectType.CUSTOMER,
        external_id=str(number),
        source="pull",
    )
    bundle = {"kind": "signals", "signals": [signal.model_dump(mode="json")] * 3}
    reads = env.economic.stats()["reads"]
    assert not worker_fails(bundle, 1)
    assert env.economic.stats()["reads"] - reads == 1, "one read for three signals of one record"
    assert env.store.find_link("t1", "eco", ObjectType.CUSTOMER, str(number)) is not None
