"""The webhook routes (Powertools ``Router``) and their error answers, for the webhook_ingest handler.

e-conomic calls ``/webhooks/economic/{tenant}/{connection}`` (GET or POST, its secret in the query),
HubSpot ``/webhooks/hubspot/{tenant}/{connection}`` (POST, signed), Dataverse
``/webhooks/dynamics/{tenant}/{connection}`` (POST, its key in ``?code=`` or a header; see
``crmsync.dataverse_webhooks``). ``crmsync.ingest`` verifies and enqueues; a refused delivery answers 4xx
with its reason and is never enqueued, a queue that cannot take it answers 503 so the vendor retries.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from crmsync import ingest, runtime
from crmsync.signal_queue import EnqueueError
from crmsync.webhooks import WebhookRejected

logger = Logger(child=True)
metrics = Metrics()  # Powertools shares the metric set: the handler's ``log_metrics`` flushes these
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools: __init__ unannotated


@router.route("/webhooks/economic/<tenant_id>/<connection_id>", method=["GET", "POST"])
def economic(tenant_id: str, connection_id: str) -> dict[str, Any]:
    e = router.current_event
    query = e.query_string_parameters or {}
    result = ingest.economic_webhook(
        runtime.context(), tenant_id, connection_id, query, body=e.body, is_base64=bool(e.is_base64_encoded)
    )
    metrics.add_metric(name="EconomicSignals", unit=MetricUnit.Count, value=result["accepted"])
    return result


@router.post("/webhooks/hubspot/<tenant_id>/<connection_id>")
def hubspot(tenant_id: str, connection_id: str) -> dict[str, Any]:
    e = router.current_event
    result = ingest.hubspot_request(
        runtime.context(),
        tenant_id,
        connection_id,
        method=e.request_context.http.method,
        raw_path=e.raw_path,
        raw_query=e.raw_query_string,
        headers=e.headers,
        body=e.body,
        is_base64=bool(e.is_base64_encoded),
        enqueue_once=runtime.enqueue_once(),
    )
    metrics.add_metric(name="HubSpotEvents", unit=MetricUnit.Count, value=result["events"])
    return result


@router.post("/webhooks/dynamics/<tenant_id>/<connection_id>")
def dynamics(tenant_id: str, connection_id: str) -> dict[str, Any]:
    e = router.current_event
    result = ingest.dynamics_webhook(
        runtime.context(),
        tenant_id,
        connection_id,
        query=dict(e.query_string_parameters or {}),
        headers=dict(e.headers or {}),
        body=e.body,
        is_base64=bool(e.is_base64_encoded),
        enqueue_once=runtime.enqueue_once(),
    )
    metrics.add_metric(name="DynamicsSignals", unit=MetricUnit.Count, value=result["signals"])
    if result.get("ignored") == "echo":
        metrics.add_metric(name="DynamicsEchoesDropped", unit=MetricUnit.Count, value=1)
    return result


def rejected(exc: WebhookRejected) -> Response[Any]:
    logger.warning("webhook rejected", extra={"status": exc.status, "reason": exc.message})
    metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
    return Response(exc.status, content_types.APPLICATION_JSON, {"message": exc.message})


def retry_later(exc: Exception) -> Response[Any]:
    logger.error("could not enqueue; the vendor will retry", extra={"error": type(exc).__name__})
    message = "temporarily unable to accept the webhook, retry"
    return Response(503, content_types.APPLICATION_JSON, {"message": message})


def webhook_app() -> APIGatewayHttpResolver:
    """The resolver of the webhook_ingest function: these routes and their error answers."""
    app = APIGatewayHttpResolver()
    app.include_router(router)
    app.exception_handler(WebhookRejected)(rejected)
    app.exception_handler(EnqueueError)(retry_later)
    app.exception_handler(IdempotencyAlreadyInProgressError)(retry_later)
    return app
