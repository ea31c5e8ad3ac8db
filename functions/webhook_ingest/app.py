"""webhook_ingest: e-conomic and HubSpot webhooks -> verified signals on SQS (API Gateway HTTP API).

Wiring only: the routes and their error answers are ``crmsync.webhook_router`` (``crmsync.ingest``
verifies and enqueues).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import runtime
from crmsync.webhook_router import webhook_app

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = webhook_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.context().forget_configs()
    runtime.enqueue_once().config.register_lambda_context(context)  # type: ignore[attr-defined]
    return app.resolve(event, context)
