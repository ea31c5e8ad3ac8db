"""sync_worker: SQS signals -> re-read the source record, reconcile, conditional write.

Partial batch failures: a signal whose vendor read fails stays on the queue and is retried; after
``maxReceiveCount`` it moves to the DLQ, from where it can be redriven (it carries no stale data).
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
from crmsync.models import Signal

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
decisions: Counter[str] = Counter()


def record_handler(record: SQSRecord) -> str:
    message = record.json_body
    if isinstance(message, dict) and message.get("kind") == "transfer_page":
        linking.apply_page(runtime.context(), linking.TransferPage.model_validate(message))
        decisions["transfer_page"] += 1
        return "transfer_page"
    outcome = service.handle_signal(runtime.context(), Signal.model_validate(message))
    decisions[outcome.decision] += 1
    return outcome.decision


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    ctx = runtime.context()
    ctx.forget_configs()
    service.prefetch(ctx, service.parse_signals(r.get("body", "") for r in event.get("Records", [])))
    decisions.clear()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    for decision, count in decisions.items():  # one data point per decision and invocation
        metrics.add_metric(name=f"Decision_{decision}", unit=MetricUnit.Count, value=count)
    return response
