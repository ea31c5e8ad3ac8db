"""push_on_change: DynamoDB stream of records -> batched creates/updates on the other side(s).

The whole batch is planned together (HubSpot writes 100 records per call), so this uses the
stream data class rather than a per-record processor. A write that fails on a retryable vendor error
(429, 5xx, timeout) is moved to the signals queue as a ``PushRequest`` instead of blocking the shard;
only when that queue is unreachable are the records reported as batch item failures (Lambda then
retries from the first failed sequence number, with bisect-on-error as a backstop).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import runtime, service
from crmsync.budget import Priority
from crmsync.signal_queue import EnqueueError
from crmsync.stream import records_from_stream

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    ctx = runtime.context()
    ctx.forget_configs()
    ctx.priority = Priority.LIVE  # a stream change is written out now; its retries go to the live queue
    records, sequence = records_from_stream(event)
    report = service.push_records(ctx, records)
    for name in ("created", "updated", "parked"):
        metrics.add_metric(name=f"Push_{name}", unit=MetricUnit.Count, value=getattr(report, name))
    if not report.failed:
        return {"batchItemFailures": []}
    tenants = {r.record_id: r.tenant_id for r in records}
    failed: dict[str, list[str]] = {}
    for rid in dict.fromkeys(report.failed):
        failed.setdefault(tenants.get(rid, ""), []).append(rid)
    try:
        service.push_later(ctx, {t: ids for t, ids in failed.items() if t})
    except EnqueueError:  # the queue is unreachable: let the stream retry these records instead
        return {
            "batchItemFailures": [
                {"itemIdentifier": sequence[rid]} for rid in report.failed if rid in sequence
            ]
        }
    metrics.add_metric(name="Push_requeued", unit=MetricUnit.Count, value=len(report.failed))
    return {"batchItemFailures": []}
