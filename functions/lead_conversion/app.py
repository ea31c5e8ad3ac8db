"""lead_conversion: POST /tenants/{tenant_id}/leads/{lead_id}/convert — a CRM lead becomes a customer, once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import api, runtime
from crmsync.leads import ConvertRequest, ConvertResult, LeadError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)

TenantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
LeadId = Annotated[str, Path(pattern=r"^[0-9]{1,20}$", description="HubSpot company or contact id")]


@app.post(
    "/tenants/<tenant_id>/leads/<lead_id>/convert",
    summary="Convert a CRM lead into a customer (exactly once)",
)
def convert(
    tenant_id: TenantId, lead_id: LeadId, request: Annotated[ConvertRequest, Body()]
) -> ConvertResult:
    api.authorized(app.context, runtime.context(), tenant_id, app.current_event.headers)
    result = runtime.lead_converter()(tenant_id, lead_id, request)
    metrics.add_metric(
        name=f"LeadConversion_{result.outcome or result.status}", unit=MetricUnit.Count, value=1
    )
    return result


def _error(status: int, message: str) -> Response[dict[str, str]]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"message": message}
    )


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[dict[str, Any]]:
    status, body = api.validation_errors(exc.errors())
    if status >= 500:
        logger.error("response failed validation", extra={"errors": [e.get("loc") for e in exc.errors()]})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(LeadError)
def lead_error(exc: LeadError) -> Response[dict[str, str]]:
    return _error(exc.status, str(exc))


@app.exception_handler(IdempotencyAlreadyInProgressError)
def in_progress(exc: IdempotencyAlreadyInProgressError) -> Response[dict[str, str]]:
    return _error(409, "this lead is being converted right now; retry to get the result")


@app.exception_handler(api.Unauthorized)
def unauthorized(exc: api.Unauthorized) -> Response[dict[str, str]]:
    return _error(401, str(exc))


@app.exception_handler(api.Forbidden)
def forbidden(exc: api.Forbidden) -> Response[dict[str, str]]:
    return _error(403, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # size, token, then readability and depth: before Powertools validates (a 422 would come first)
    limit = runtime.settings().api_tenant_requests_per_minute
    refusal = api.admit(app.context, event, runtime.context(), requests_per_minute=limit)
    if refusal is not None:
        return refusal
    runtime.lead_converter().config.register_lambda_context(context)  # type: ignore[attr-defined]
    return app.resolve(event, context)
