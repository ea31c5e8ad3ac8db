"""Call the Lambda handlers in-process, the way the Lambda service would (no Docker here).

Builds the events API Gateway (HTTP API, payload 2.0), SQS and DynamoDB Streams deliver, and a
context object with the attributes Powertools reads. Each ``functions/<name>/app.py`` is loaded
under a unique module name, since every handler file is called ``app.py``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

REPO_ROOT = Path(__file__).resolve().parent.parent
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str = "local"
    memory_limit_in_mb: int = 512
    timeout_s: int = 30
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_modules: dict[str, ModuleType] = {}


def load_handler(function_dir: str, handler: str = "app.lambda_handler") -> Handler:
    """Import ``functions/<dir>/<module>.py`` once and return its handler callable."""
    module_file, _, attr = handler.rpartition(".")
    path = REPO_ROOT / "functions" / function_dir / f"{module_file}.py"
    key = str(path)
    if key not in _modules:
        spec = importlib.util.spec_from_file_location(f"fn_{function_dir}_{module_file}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[key] = module
    handler_fn: Handler = getattr(_modules[key], attr)
    return handler_fn


def invoke(function_dir: str, event: dict[str, Any], *, timeout_s: int = 30) -> Any:
    return load_handler(function_dir)(
        event, FakeLambdaContext(function_name=function_dir, timeout_s=timeout_s)
    )


def http_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    host: str = "localhost",
    scheme: str = "https",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event."""
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    hdrs.setdefault("host", host)
    hdrs.setdefault("x-forwarded-proto", scheme)
    raw = body.encode() if isinstance(body, str) else (body or b"")
    try:
        text, is_b64 = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(raw).decode(), True
    params: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        params[k] = f"{params[k]},{v}" if k in params else v
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": hdrs["host"],
            "domainPrefix": hdrs["host"].split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": hdrs.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if params:
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw:
        event["body"] = text
    return event


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event from ``receive_message`` results."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": m.get("Attributes", {}).get(
                        "SentTimestamp", str(int(time.time() * 1000))
                    ),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-1",
            }
            for m in messages
        ]
    }


def stream_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams event from ``get_records`` results."""
    out = []
    for r in records:
        item = dict(r)
        item["eventSourceARN"] = stream_arn
        dyn = dict(item.get("dynamodb", {}))
        if "ApproximateCreationDateTime" in dyn and not isinstance(
            dyn["ApproximateCreationDateTime"], (int, float)
        ):
            dyn["ApproximateCreationDateTime"] = dyn["ApproximateCreationDateTime"].timestamp()
        item["dynamodb"] = dyn
        out.append(item)
    return json.loads(json.dumps({"Records": out}, default=_stream_json))


def _stream_json(value: Any) -> str:
    """Binary attributes travel base64-encoded in Lambda's stream events (boto3 hands us bytes)."""
    return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)
