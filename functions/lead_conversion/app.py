"""lead_conversion: POST /tenants/{tenant_id}/leads/{lead_id}/convert — a CRM lead becomes a customer, once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync import api, api_errors, runtime
from crmsync.leads import LEAD_ID_PATTERN, ConvertRequest, ConvertResult

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
api_errors.register(app)  # the API's error answers: 401/403, LeadError, 409 in progress, 422

TenantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
LeadId = Annotated[str, Path(pattern=LEAD_ID_PATTERN, description="HubSpot or Dynamics lead id")]


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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refusal = runtime.admit_api_request(app.context, event)
    if refusal is not None:
        return api.uncached(refusal)
    runtime.lead_converter().config.register_lambda_context(context)  # type: ignore[attr-defined]
    return api.uncached(app.resolve(event, context))
