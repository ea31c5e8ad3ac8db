"""sync_worker: the live and bulk queues -> re-read the source record, reconcile, conditional write.

Wiring only (``crmsync.worker`` decides): each record's body is parsed into a ``WorkMessage`` by
Powertools' ``BatchProcessor`` (a body that is none fails alone), partial batch failures hand just the
failed messages back to SQS. Fed by the signals queue (live work, up to 10 invocations at a time) and
the bulk queue (backfills and transfer pages, at most 2), so bulk work never takes all the concurrency.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import runtime, worker
from crmsync.messages import WorkRecord

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, model=WorkRecord)
decisions: Counter[str] = Counter()


def record_handler(record: WorkRecord) -> None:
    decisions.update(worker.process(runtime.context(), record))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    worker.begin(runtime.context(), (r.get("body", "") for r in event.get("Records", [])))
    decisions.clear()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    for decision, count in decisions.items():  # one data point per decision and invocation
        metrics.add_metric(name=f"Decision_{decision}", unit=MetricUnit.Count, value=count)
    return response
