"""sync_worker: SQS signals -> re-read the source record, reconcile, conditional write.

Fed by two queues (template.yaml): the signals queue (live work, up to 10 invocations at a time) and
the bulk queue (backfills and transfer pages, at most 2), so bulk work never takes all the concurrency.

Partial batch failures: a signal whose vendor read fails stays on the queue and is retried; after
``maxReceiveCount`` it moves to the DLQ, from where it can be redriven (it carries no stale data).
A failure of a tenant connection itself (a missing secret, refused credentials) is no retry case: that
connection's signals are parked with the reason (``service.handle_signal_contained``) and the batch,
with every other tenant's signals, goes on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import linking, runtime, service
from crmsync.budget import Priority
from crmsync.models import Signal, SignalBundle

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
decisions: Counter[str] = Counter()


MAX_RECEIVES = 5
"""The signals queue's ``maxReceiveCount`` (template.yaml; a test keeps them equal)."""


def record_handler(record: SQSRecord) -> str:
    try:
        return _handle(record)
    except Exception as exc:
        ctx = runtime.context()
        receives = int(record.attributes.approximate_receive_count or 1)
        last = receives >= MAX_RECEIVES
        if ctx.queue is not None:  # back off (honouring the vendor's retry_after), not the 18-min timeout
            ctx.queue.retry_failed(record.event_source_arn, record.receipt_handle, receives, exc, last=last)
        if last:
            # The last attempt: park it with its reason (visible, replayable); SQS moves it to the DLQ.
            try:
                message = record.json_body
            except ValueError:
                message = None  # not even JSON: only the DLQ keeps it
            if isinstance(message, dict):
                service.park_message(ctx, message, f"{type(exc).__name__}: {exc}")
        raise


def _handle(record: SQSRecord) -> str:
    ctx = runtime.context()
    message = record.json_body
    if isinstance(message, dict) and message.get("kind") == "push":
        request = service.PushRequest.model_validate(message)
        ctx.priority = Priority.BULK if request.bulk else Priority.LIVE
        service.push_requested(ctx, request)
        decisions["push"] += 1
        return "push"
    if isinstance(message, dict) and message.get("kind") == "transfer_page":
        ctx.priority = Priority.BULK  # bulk work gets only its share of the rate budget
        page = linking.TransferPage.model_validate(message)
        if service.transfer_page_contained(ctx, page, lambda: linking.apply_page(ctx, page)):
            decisions["transfer_page"] += 1
            return "transfer_page"
        decisions["parked"] += 1
        return "parked"
    if isinstance(message, dict) and message.get("kind") == "signals":
        bundle = SignalBundle.model_validate(message)
        ctx.priority = Priority.BULK if all(s.source == "pull" for s in bundle.signals) else Priority.LIVE
        for outcome in service.handle_bundle(ctx, bundle):
            decisions[outcome.decision] += 1
        return "signals"
    signal = Signal.model_validate(message)
    ctx.priority = Priority.BULK if signal.source == "pull" else Priority.LIVE
    outcome = service.handle_signal_contained(ctx, signal)
    decisions[outcome.decision] += 1
    return outcome.decision


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    ctx = runtime.context()
    ctx.forget_configs()
    ctx.priority = Priority.LIVE
    service.prefetch(ctx, service.parse_signals(r.get("body", "") for r in event.get("Records", [])))
    decisions.clear()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    for decision, count in decisions.items():  # one data point per decision and invocation
        metrics.add_metric(name=f"Decision_{decision}", unit=MetricUnit.Count, value=count)
    return response
