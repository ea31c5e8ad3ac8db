"""webhook_ingest: e-conomic and HubSpot webhooks -> verified signals on SQS (API Gateway HTTP API)."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import ingest, runtime
from crmsync.signal_queue import EnqueueError
from crmsync.webhooks import WebhookRejected, refuse_oversized_body, request_uri

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver()


@app.route("/webhooks/economic/<tenant_id>/<connection_id>", method=["GET", "POST"])
def economic(tenant_id: str, connection_id: str) -> dict[str, Any]:
    event = app.current_event
    result = ingest.economic_webhook(
        runtime.context(),
        tenant_id,
        connection_id,
        event.query_string_parameters or {},
        body=event.body,
        is_base64=event.is_base64_encoded,
    )
    metrics.add_metric(name="EconomicSignals", unit=MetricUnit.Count, value=result["accepted"])
    return result


@app.post("/webhooks/hubspot/<tenant_id>/<connection_id>")
def hubspot(tenant_id: str, connection_id: str) -> dict[str, Any]:
    event = app.current_event
    refuse_oversized_body(event.body, event.is_base64_encoded)  # before decoding it
    result = ingest.hubspot_webhook(
        runtime.context(),
        tenant_id,
        connection_id,
        method=event.request_context.http.method,
        uri=request_uri(event.headers, event.raw_path, event.raw_query_string),
        body=_raw_body(event.body, event.is_base64_encoded),
        headers=event.headers,
        now_ms=int(time.time() * 1000),
        enqueue_once=runtime.enqueue_once(),
    )
    metrics.add_metric(name="HubSpotEvents", unit=MetricUnit.Count, value=result["events"])
    return result


def _raw_body(body: str | None, is_base64: bool) -> str | bytes:
    """The body as sent. Not ``decoded_body``: it raises on a base64 body that is not UTF-8 (a 500)."""
    if not body:
        return ""
    if not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise WebhookRejected(400, "body is not valid base64") from exc


@app.exception_handler(WebhookRejected)
def rejected(exc: WebhookRejected) -> Response:
    logger.warning("webhook rejected", extra={"status": exc.status, "reason": exc.message})
    metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=exc.status, content_type=content_types.APPLICATION_JSON, body={"message": exc.message}
    )


@app.exception_handler(EnqueueError)
@app.exception_handler(IdempotencyAlreadyInProgressError)
def retry_later(exc: Exception) -> Response:
    logger.error("could not enqueue; the vendor will retry", extra={"error": type(exc).__name__})
    return Response(
        status_code=503,
        content_type=content_types.APPLICATION_JSON,
        body={"message": "temporarily unable to accept the webhook, retry"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime.context().forget_configs()
    runtime.enqueue_once().config.register_lambda_context(context)  # type: ignore[attr-defined]
    return app.resolve(event, context)
