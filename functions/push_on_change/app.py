"""push_on_change: DynamoDB stream of records -> batched creates/updates on the other side(s).

Wiring only (``crmsync.outbound.push_changes`` decides): the whole batch is planned together (HubSpot
writes 100 records per call), so this uses the stream data class rather than a per-record processor. A
retryable vendor failure moves to the signals queue instead of blocking the shard; only when that queue
is unreachable are the records reported as batch item failures (Lambda then retries from the first
failed sequence number, with bisect-on-error as a backstop).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import runtime, service
from crmsync.stream import records_from_stream

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    records, sequence = records_from_stream(event)
    report, retry = service.push_changes(runtime.context(), records, sequence)
    for name in ("created", "updated", "parked"):
        metrics.add_metric(name=f"Push_{name}", unit=MetricUnit.Count, value=getattr(report, name))
    if report.failed and not retry:
        metrics.add_metric(name="Push_requeued", unit=MetricUnit.Count, value=len(report.failed))
    return {"batchItemFailures": [{"itemIdentifier": s} for s in retry]}
