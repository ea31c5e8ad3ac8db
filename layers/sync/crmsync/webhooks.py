"""Webhook verification and parsing: turn a vendor delivery into signals, or refuse it.

e-conomic signs nothing, so its webhook URL carries a per-connection secret (``key``) compared
in constant time, plus the ``[OLDNUMBER]``/``[NEWNUMBER]`` merge fields. HubSpot deliveries are
checked with the v3 signature (HMAC-SHA256 over method + URI + body + timestamp, base64) and a
5-minute timestamp tolerance, as HubSpot documents. Nothing here touches AWS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from crmsync.models import ObjectType, Signal

HUBSPOT_TOLERANCE_MS = 300_000

# HubSpot decodes exactly these escapes in the URI before signing (validating-requests docs).
_HUBSPOT_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class WebhookRejected(Exception):
    """The delivery is refused; ``status`` is the HTTP status to answer with (401 or 400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_number(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "" or raw.strip().startswith("["):
        return None  # empty or an unexpanded merge field
    try:
        number = int(raw.strip())
    except ValueError as exc:
        raise WebhookRejected(400, f"customer number {raw!r} is not a whole number") from exc
    if not 1 <= number <= 999_999_999:
        raise WebhookRejected(400, f"customer number {number} is out of range")
    return number


def economic_signals(
    *,
    tenant_id: str,
    connection_id: str,
    query: dict[str, str],
    expected_key: str,
) -> list[Signal]:
    """Verify an e-conomic customer webhook and return its signal."""
    key = query.get("key", "")
    if not expected_key or not hmac.compare_digest(key.encode(), expected_key.encode()):
        raise WebhookRejected(401, "missing or wrong webhook key")
    old = _parse_number(query.get("old") or query.get("oldnumber"))
    new = _parse_number(query.get("new") or query.get("newnumber"))
    number = new or old
    if number is None:
        raise WebhookRejected(
            400, "no customer number in the webhook (expected old=[OLDNUMBER]&new=[NEWNUMBER])"
        )
    hint = {"old_number": str(old)} if old is not None and new is not None and old != new else {}
    return [
        Signal(
            tenant_id=tenant_id,
            connection_id=connection_id,
            object_type=ObjectType.CUSTOMER,
            external_id=str(number),
            source="webhook",
            hint=hint,
        )
    ]


def hubspot_signature_v3(client_secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    """The v3 signature HubSpot sends in ``X-HubSpot-Signature-v3``."""
    for escaped, plain in _HUBSPOT_DECODE.items():
        uri = uri.replace(escaped, plain).replace(escaped.lower(), plain)
    message = f"{method}{uri}{body}{timestamp}".encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot(
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: str,
    headers: dict[str, str],
    now_ms: int,
) -> None:
    """Raise ``WebhookRejected(401)`` unless the v3 signature and timestamp are good."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("x-hubspot-signature-v3")
    timestamp = lowered.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        raise WebhookRejected(401, "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise WebhookRejected(401, "X-HubSpot-Request-Timestamp is not a number") from exc
    if abs(now_ms - ts) > HUBSPOT_TOLERANCE_MS:
        raise WebhookRejected(401, "request timestamp outside the 5-minute tolerance")
    expected = hubspot_signature_v3(client_secret, method.upper(), uri, body, timestamp)
    if not client_secret or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRejected(401, "signature does not match")


@dataclass(frozen=True)
class HubSpotEvent:
    """One notification; ``key`` identifies it across redeliveries (``attemptNumber`` excluded)."""

    object_type: ObjectType
    object_id: str
    event_type: str
    key: str
    raw: dict[str, Any]


_HUBSPOT_OBJECTS = {"company": ObjectType.CUSTOMER, "contact": ObjectType.CONTACT}


def hubspot_events(body: str, *, portal_id: int | None) -> list[HubSpotEvent]:
    """Parse a (verified) delivery; events for objects crmsync does not sync are skipped."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise WebhookRejected(400, "body is not JSON") from exc
    if not isinstance(payload, list):
        raise WebhookRejected(400, "body must be a JSON array of events")
    events: list[HubSpotEvent] = []
    for raw in payload:
        if not isinstance(raw, dict):
            raise WebhookRejected(400, "every event must be a JSON object")
        event_type = str(raw.get("subscriptionType") or raw.get("eventType") or "")
        if "." not in event_type or raw.get("objectId") is None:
            raise WebhookRejected(400, "event without subscriptionType/objectId")
        if portal_id is not None and raw.get("portalId") not in (portal_id, str(portal_id)):
            raise WebhookRejected(401, "event from another HubSpot portal")
        prefix = event_type.split(".", 1)[0]
        object_type = _HUBSPOT_OBJECTS.get(prefix)
        if object_type is None:
            continue
        object_id = str(raw["objectId"])
        if event_type == "contact.associationChange" and raw.get("fromObjectId") is not None:
            object_id = str(
                raw["fromObjectId"]
                if raw.get("associationType", "").startswith("CONTACT")
                else raw.get("toObjectId")
            )
        identity = {k: v for k, v in raw.items() if k != "attemptNumber"}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
        events.append(HubSpotEvent(object_type, object_id, event_type, key, raw))
    return events


def request_uri(headers: dict[str, str], raw_path: str, raw_query: str) -> str:
    """The full URI the sender called, rebuilt from an API Gateway HTTP API event."""
    lowered = {k.lower(): v for k, v in headers.items()}
    proto = lowered.get("x-forwarded-proto", "https")
    host = lowered.get("host", "")
    uri = f"{proto}://{host}{raw_path}"
    return f"{uri}?{raw_query}" if raw_query else uri


def decode_query(raw_query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        out[unquote(name)] = unquote(value.replace("+", " "))
    return out
