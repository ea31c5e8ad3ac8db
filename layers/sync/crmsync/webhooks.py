"""Webhook verification and parsing: turn a vendor delivery into signals, or refuse it.

e-conomic signs nothing, so its webhook URL carries a per-connection secret (``key``) compared
in constant time, plus the ``[OLDNUMBER]``/``[NEWNUMBER]`` merge fields. HubSpot deliveries are
checked with the v3 signature (HMAC-SHA256 over method + URI + body + timestamp, base64) and a
5-minute timestamp tolerance, as HubSpot documents. Nothing here touches AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from crmsync.limits import MAX_JSON_DEPTH, MAX_WEBHOOK_BODY_BYTES, json_refusal, too_large
from crmsync.models import ObjectType, Signal

HUBSPOT_TOLERANCE_MS = 300_000
MAX_HUBSPOT_EVENTS = 1000  # HubSpot sends up to 100 per request
_DIGITS = re.compile(r"[0-9]+")

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


def _parse_number(raw: str | None, what: str = "customer number") -> int | None:
    if raw is None or raw.strip() == "" or raw.strip().startswith("["):
        return None  # empty or an unexpanded merge field
    digits = raw.strip()
    # ASCII digits only: int() also reads "1_000", "+7" and other scripts' digits (Arabic-Indic "12").
    if not _DIGITS.fullmatch(digits):
        raise WebhookRejected(400, f"{what} {raw!r} is not a whole number")
    number = int(digits) if len(digits.lstrip("0")) <= 12 else 0  # int() refuses over 4300 digits
    if not 1 <= number <= 999_999_999:
        raise WebhookRejected(400, f"{what} {digits[:20]} is out of range")
    return number


def verify_economic_key(query: dict[str, str], expected_key: str) -> None:
    """e-conomic's classic webhooks carry the secret in their URL (``?key=``): compared in constant time."""
    key = query.get("key", "")
    if not expected_key or not hmac.compare_digest(key.encode(), expected_key.encode()):
        raise WebhookRejected(401, "missing or wrong webhook key")


def economic_booked_invoice(query: dict[str, str]) -> int | None:
    """The invoice of an "Invoice booked" webhook (``?invoice=[INVOICENO]``); None for a customer webhook.

    Call after ``verify_economic_key``. A booking webhook without its number is refused (400)."""
    if "invoice" not in query and "invoiceno" not in query:
        return None
    number = _parse_number(query.get("invoice") or query.get("invoiceno"), "invoice number")
    if number is None:
        raise WebhookRejected(400, "no invoice number in the webhook (expected invoice=[INVOICENO])")
    return number


def economic_signals(
    *,
    tenant_id: str,
    connection_id: str,
    query: dict[str, str],
    expected_key: str,
) -> list[Signal]:
    """Verify an e-conomic customer webhook and return its signal."""
    verify_economic_key(query, expected_key)
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


def hubspot_signature_v3(client_secret: str, method: str, uri: str, body: str | bytes, timestamp: str) -> str:
    """The v3 signature HubSpot sends in ``X-HubSpot-Signature-v3`` (over the body's UTF-8 bytes)."""
    for escaped, plain in _HUBSPOT_DECODE.items():
        uri = uri.replace(escaped, plain).replace(escaped.lower(), plain)
    raw = body if isinstance(body, bytes) else body.encode()
    message = f"{method}{uri}".encode() + raw + timestamp.encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot(
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: str | bytes,
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
# ASCII digits only: str.isdigit() also passes "²" and other scripts' digits.
_HUBSPOT_ID = re.compile(r"[1-9][0-9]{0,18}")


def _hubspot_id(value: object) -> str:
    """A HubSpot object id (a positive int64, sent as a number or a string of digits), as a string."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63:
        return str(value)
    if isinstance(value, str) and _HUBSPOT_ID.fullmatch(value) and int(value) < 2**63:
        return value
    raise ValueError("must be a HubSpot object id (a positive whole number)")


HubSpotId = Annotated[str, BeforeValidator(_hubspot_id)]


class HubSpotEventIn(BaseModel):
    """The fields of one HubSpot event crmsync reads, validated before any of them becomes a signal.

    Other fields pass through untouched (they are part of the event's identity for de-duplication).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    subscription_type: StrictStr | None = Field(default=None, alias="subscriptionType")
    event_type: StrictStr | None = Field(default=None, alias="eventType")
    object_id: HubSpotId = Field(alias="objectId")
    portal_id: StrictInt | StrictStr | None = Field(default=None, alias="portalId")
    association_type: StrictStr | None = Field(default=None, alias="associationType")
    from_object_id: HubSpotId | None = Field(default=None, alias="fromObjectId")
    to_object_id: HubSpotId | None = Field(default=None, alias="toObjectId")
    merged_object_ids: list[HubSpotId] | None = Field(default=None, alias="mergedObjectIds")


def _invalid_event(index: int, exc: ValidationError) -> WebhookRejected:
    """A 400 naming the event and its bad fields (never their values: they may be customer data)."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}"
        for error in exc.errors()[:3]
    )
    return WebhookRejected(400, f"event {index} is malformed: {problems}")


def own_change(raw: dict[str, Any]) -> bool:
    """Is this event the echo of crmsync's own write?

    HubSpot stamps every event with who made the change: an app's API write carries
    ``changeSource: "INTEGRATION"`` and ``sourceId`` = that app's id, and ``appId`` is the app the
    delivery is for. When both ids are crmsync's app, the change is one crmsync wrote and already
    recorded from the write's answer (creates are upserts, so even a lost answer is repaired by
    writing again): re-reading it would only cost a vendor read and a signal. A person's edit, a
    workflow, an import or another integration has another source and is always kept; so is a
    merge (only people merge).
    """
    app_id = raw.get("appId")
    return (
        raw.get("changeSource") == "INTEGRATION"
        and isinstance(app_id, int | str)
        and not isinstance(app_id, bool)
        and str(raw.get("sourceId")) == str(app_id)
        and not str(raw.get("subscriptionType") or raw.get("eventType") or "").endswith(".merge")
    )


def refuse_oversized_body(body: str | bytes | None, is_base64: bool = False) -> None:
    """Raise ``WebhookRejected(413)`` for a body over ``MAX_WEBHOOK_BODY_BYTES`` (checked before anything
    else: before the secret is fetched, the signature computed or the body parsed)."""
    if too_large(body, MAX_WEBHOOK_BODY_BYTES, is_base64):
        raise WebhookRejected(413, f"body larger than {MAX_WEBHOOK_BODY_BYTES} bytes")


def json_body(body: str | bytes) -> Any:
    """A (verified) delivery's JSON, or ``WebhookRejected`` 400/413: too big, not UTF-8, too deep, not JSON.

    The nesting is counted before parsing (``json.loads`` recurses once per level: a body nested
    1,000 deep raised ``RecursionError``, a 500 the vendor would retry for a day)."""
    refuse_oversized_body(body)
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise WebhookRejected(400, "body is not UTF-8 JSON") from exc
    reason = json_refusal(text, MAX_JSON_DEPTH)
    if reason is not None:
        raise WebhookRejected(400, f"body {reason}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise WebhookRejected(400, "body is not JSON") from exc
    except ValueError as exc:  # e.g. an integer over Python's 4,300-digit limit
        raise WebhookRejected(400, "body is not JSON crmsync can read") from exc


def hubspot_events(body: str, *, portal_id: int | None) -> list[HubSpotEvent]:
    """Parse a (verified) delivery; events for objects crmsync does not sync are skipped."""
    payload = json_body(body)
    if not isinstance(payload, list):
        raise WebhookRejected(400, "body must be a JSON array of events")
    if len(payload) > MAX_HUBSPOT_EVENTS:
        # HubSpot batches at most 100 events per request; enqueueing an unbounded batch could outlast
        # the function's timeout (a 5xx, retried for a day) halfway through.
        raise WebhookRejected(413, f"too many events in one delivery (at most {MAX_HUBSPOT_EVENTS})")
    events: list[HubSpotEvent] = []
    for index, raw in enumerate(payload):
        if not isinstance(raw, dict):
            raise WebhookRejected(400, "every event must be a JSON object")
        if raw.get("objectId") is None or not (raw.get("subscriptionType") or raw.get("eventType")):
            raise WebhookRejected(400, "event without subscriptionType/objectId")
        try:
            event = HubSpotEventIn.model_validate(raw)
        except ValidationError as exc:
            raise _invalid_event(index, exc) from exc
        event_type = event.subscription_type or event.event_type or ""
        if "." not in event_type:
            raise WebhookRejected(400, "event without subscriptionType/objectId")
        if portal_id is not None and event.portal_id not in (portal_id, str(portal_id)):
            raise WebhookRejected(401, "event from another HubSpot portal")
        prefix = event_type.split(".", 1)[0]
        object_type = _HUBSPOT_OBJECTS.get(prefix)
        if object_type is None or own_change(raw):
            continue
        object_id = event.object_id
        if event_type == "contact.associationChange" and event.from_object_id is not None:
            # the contact is the "from" side of CONTACT_TO_*, the "to" side of *_TO_CONTACT
            contact_id = (
                event.from_object_id
                if (event.association_type or "").startswith("CONTACT")
                else event.to_object_id
            )
            if event.association_type is None or contact_id is None:
                raise WebhookRejected(
                    400, f"event {index} is malformed: associationChange without associationType/toObjectId"
                )
            object_id = contact_id
        identity = {k: v for k, v in raw.items() if k != "attemptNumber"}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
        events.append(HubSpotEvent(object_type, object_id, event_type, key, raw))
        if event_type.endswith(".merge") and event.merged_object_ids:
            # The merged-away ids get no events of their own: their records must follow the survivor.
            for merged_id in event.merged_object_ids:
                events.append(HubSpotEvent(object_type, merged_id, event_type, f"{key}:{merged_id}", raw))
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


def raw_body(body: str | None, is_base64: bool) -> str | bytes:
    """The body as sent (HubSpot signs the bytes). Not Powertools' ``decoded_body``: it raises on a base64
    body that is not UTF-8 (a 500 instead of a 400)."""
    if not body:
        return ""
    if not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise WebhookRejected(400, "body is not valid base64") from exc
