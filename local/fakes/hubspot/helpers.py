"""Signatures (v3/v1), timestamp helpers, string coercion and HubSpot's error bodies (``ApiError``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from local.fakes.hubspot.constants import KB_LINK


def sign_v3(client_secret: str, method: str, uri: str, body: str, timestamp_ms: int | str) -> str:
    """HubSpot's v3 request signature: base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    source = f"{method}{uri}{body}{timestamp_ms}".encode()
    return base64.b64encode(hmac.new(client_secret.encode(), source, hashlib.sha256).digest()).decode()


def sign_v1(client_secret: str, body: str) -> str:
    """HubSpot's v1 signature (hex SHA-256 of secret + body), sent next to v3 like HubSpot does."""
    return hashlib.sha256(f"{client_secret}{body}".encode()).hexdigest()


def iso_ms(ms: int) -> str:
    """Epoch ms -> HubSpot's ISO 8601 UTC with millisecond precision (``2024-01-15T14:22:10.456Z``)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@lru_cache(maxsize=65536)
def to_ms(raw: str) -> int | None:
    """Parse an epoch-ms string or an ISO 8601 date/datetime (HubSpot accepts both on input)."""
    text = raw.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _as_ms(value: datetime | int | str) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int):
        return value
    parsed = to_ms(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed


def _str_value(value: Any) -> str:
    """HubSpot stores every property value as a string; JSON numbers/bools are coerced like the API."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class ApiError(Exception):
    """An error response: HTTP status plus a body in the spec's ``Error`` shape (or the 429 shape)."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error_body(
    category: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    if sub_category:
        body["subCategory"] = sub_category
    body["links"] = dict(KB_LINK)
    return body


def _err(status: int, category: str, message: str, **kw: Any) -> ApiError:
    return ApiError(status, error_body(category, message, **kw))


def _bad(message: str, **kw: Any) -> ApiError:
    return _err(400, "VALIDATION_ERROR", message, **kw)


@dataclass
class PropertyProblem:
    """One invalid property value; rendered like HubSpot's ``Property values were not valid`` list."""

    name: str
    error: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.error, "name": self.name}


def _property_error(problems: list[PropertyProblem]) -> ApiError:
    rendered = json.dumps([p.as_dict() for p in problems])
    return _bad(
        f"Property values were not valid: {rendered}",
        errors=[
            {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}} for p in problems
        ],
        context={"propertyName": [p.name for p in problems]},
    )


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _strings(properties: Any) -> dict[str, str]:
    if not isinstance(properties, Mapping):
        return {}
    return {k: _str_value(v) for k, v in properties.items()}
