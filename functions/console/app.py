"""console: the admin console's static files on the same HTTP API as ``/tenants/...``.

Wiring only: the files live next to this handler (``static/``), and what is served with which headers
is ``crmsync.console_assets``. The console itself talks only to the public tenant API with the
tenant's bearer token; this function touches no table, queue or secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from crmsync.console_assets import ConsoleAssets

logger = Logger()
app = APIGatewayHttpResolver()
assets = ConsoleAssets(Path(__file__).parent / "static")


@app.get("/console", compress=True)
@app.get("/console/.*", compress=True)
def console_file() -> Response[str]:
    event = app.current_event
    served = assets.serve(event.path, event.headers.get("if-none-match"))
    return Response(
        status_code=served.status, content_type=served.content_type, body=served.body, headers=served.headers
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
