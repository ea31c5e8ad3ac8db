"""scheduled_pull: on the EventBridge schedule, enqueue signals for records changed since each checkpoint."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import runtime, service

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ctx = runtime.context()
    ctx.forget_configs()
    report = service.pull(ctx)
    metrics.add_metric(name="PulledSignals", unit=MetricUnit.Count, value=report.enqueued)
    metrics.add_metric(name="PulledAlreadySeen", unit=MetricUnit.Count, value=report.seen)
    # Connections that need attention are in the table (GET /tenants/{t}/health) and counted by the
    # service's ConnectionNeedsAttention metric; the tick itself succeeds for every other connection.
    return {
        "enqueued": report.enqueued,
        "seen": report.seen,
        "checkpoints": report.checkpoints,
        "needs_attention": sorted(report.needs_attention),
    }
