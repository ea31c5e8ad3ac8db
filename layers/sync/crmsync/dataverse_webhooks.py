"""Dataverse (Dynamics 365) webhooks: verify a ``RemoteExecutionContext`` delivery and turn it into a signal.

Registration (the operator's, with the Plug-in Registration Tool): a service endpoint of type Webhook whose
URL is ``<ApiUrl>/webhooks/dynamics/{tenant}/{connection}``, and one step per message (Create, Update,
Delete, and Assign: a new owner, i.e. account manager, is an Assign, not an Update) on ``account`` and
``contact``, PostOperation, asynchronous. Authentication, either of:

* **WebhookKey** (or HttpQueryString ``code=<key>``): Dataverse appends ``?code=<key>``;
* **HttpHeader**: the header ``x-crmsync-webhook-key: <key>`` (``WEBHOOK_KEY_HEADER``), which keeps the key
  out of URLs and their logs.

``<key>`` is ``webhook_key`` in the connection's secret, compared in constant time. Dataverse signs nothing
and sends no timestamp, so there is no tolerance window: a captured delivery stays valid until the key is
rotated. A replay is harmless twice over: a redelivery is enqueued once (``delivery_key``, kept 25 hours),
and a signal carries no values (the worker re-reads the row), so the most a replay can cause is a re-read.

What is synced: Create/Update/Delete/Assign of ``account`` (customer) and ``contact``. Any other table
(``lead``...) or message (SetState...) is answered 200 with nothing enqueued: the registration is the operator's,
and a 4xx would only fill Dataverse's System Jobs with failures; the scheduled pull's change tracking still
sees every change. A delete is a signal like any other (as HubSpot's deletions): the worker's re-read finds
the row gone. A delivery over 256 KB arrives with ``x-ms-dynamics-msg-size-exceeded`` and without its
InputParameters and images; the fields read here are never stripped, so it is handled the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from crmsync.models import ObjectType, Signal
from crmsync.webhooks import WebhookRejected, json_body

WEBHOOK_KEY_HEADER = "x-crmsync-webhook-key"
"""The header of Dataverse's HttpHeader authentication: register it with the connection's ``webhook_key``."""
WEBHOOK_KEY_QUERY = "code"
"""The query parameter of Dataverse's WebhookKey authentication (``?code=<key>``)."""
UNAUTHORISED = "unknown tenant/connection or wrong credentials"
"""The one 401 message: a wrong key must not tell a caller that the tenant exists."""

DATAVERSE_TABLES = {"account": ObjectType.CUSTOMER, "contact": ObjectType.CONTACT}
SYNCED_MESSAGES = frozenset({"Create", "Update", "Delete", "Assign"})
NIL_GUID = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_WCF_DATE = re.compile(r"/Date\((-?[0-9]{1,15})(?:[+-][0-9]{4})?\)/")


def verify_dataverse_key(*, expected_key: str, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
    """Raise ``WebhookRejected(401)`` unless the delivery carries the connection's key (query or header).

    Every key presented must match: a request with a right ``code`` and a wrong header is not Dataverse's.
    API Gateway joins a repeated parameter or header with commas, so a repeated key never matches."""
    lowered = {name.lower(): value for name, value in headers.items()}
    presented = [v for v in (query.get(WEBHOOK_KEY_QUERY), lowered.get(WEBHOOK_KEY_HEADER)) if v is not None]
    expected = expected_key.encode()
    if not expected_key or not presented:
        raise WebhookRejected(401, UNAUTHORISED)
    # all() over a list: every comparison runs, so the time taken does not say which one failed
    if not all([hmac.compare_digest(value.encode(), expected) for value in presented]):
        raise WebhookRejected(401, UNAUTHORISED)


def _guid(value: object) -> str:
    """A Dataverse GUID in the form the Web API writes it (lower case, hyphenated): ids become URLs."""
    if isinstance(value, str) and _GUID.fullmatch(value):
        return value.lower()
    raise ValueError("must be a GUID (8-4-4-4-12 hexadecimal digits)")


def _wcf_date(value: object) -> datetime:
    r"""WCF's JSON date, ``"\/Date(1506384247000)\/"`` on the wire (``/Date(ms)/`` once decoded)."""
    match = _WCF_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(r"must be a WCF date (\/Date(milliseconds)\/)")
    try:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError("is out of range") from exc


Guid = Annotated[str, BeforeValidator(_guid)]
WcfDate = Annotated[datetime, BeforeValidator(_wcf_date)]


class RemoteExecutionContextIn(BaseModel):
    """The fields of a ``RemoteExecutionContext`` crmsync reads; the rest (InputParameters, images, the
    parent context...) is ignored: the worker re-reads the row, so field values here are never trusted."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    message_name: StrictStr = Field(alias="MessageName", min_length=1, max_length=100)
    primary_entity_name: StrictStr = Field(alias="PrimaryEntityName", min_length=1, max_length=100)
    primary_entity_id: Guid = Field(alias="PrimaryEntityId")
    initiating_user_id: Guid | None = Field(default=None, alias="InitiatingUserId")
    user_id: Guid | None = Field(default=None, alias="UserId")
    operation_id: Guid | None = Field(default=None, alias="OperationId")
    correlation_id: Guid | None = Field(default=None, alias="CorrelationId")
    depth: StrictInt | None = Field(default=None, alias="Depth", ge=0, le=1000)
    operation_created_on: WcfDate | None = Field(default=None, alias="OperationCreatedOn")

    @property
    def acting_user(self) -> str | None:
        """Who made the change: the initiating user (the caller), else the user the step ran as."""
        return self.initiating_user_id or self.user_id


def _malformed(exc: ValidationError) -> WebhookRejected:
    """A 400 naming the bad fields (never their values: they may be customer data)."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors()[:3]
    )
    return WebhookRejected(400, f"not a Dataverse RemoteExecutionContext: {problems}")


def parse_context(body: str | bytes) -> RemoteExecutionContextIn:
    """Parse a (verified) delivery body; ``WebhookRejected(400/413)`` for anything but a context object.

    Size, encoding, nesting and JSON are checked by ``webhooks.json_body``."""
    payload = json_body(body)
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object (a RemoteExecutionContext)")
    try:
        context = RemoteExecutionContextIn.model_validate(payload)
    except ValidationError as exc:
        raise _malformed(exc) from exc
    if context.primary_entity_id == NIL_GUID:
        raise WebhookRejected(400, "PrimaryEntityId is the empty GUID (a PreValidation step?)")
    return context


def own_write(context: RemoteExecutionContextIn, application_user_id: str | None) -> bool:
    """Is this the echo of crmsync's own write (made by its application user)?

    Only the write itself (``Depth`` 1): a plug-in or workflow that reacts to crmsync's write runs deeper
    under the same initiating user, and what it changed must still be read. Without a configured
    application user nothing is dropped here; the engine still recognises its own writes when it compares
    the re-read row with what it wrote (one vendor read per echo)."""
    if not application_user_id or context.acting_user is None:
        return False
    return context.acting_user == application_user_id.lower() and (context.depth or 1) <= 1


def delivery_key(tenant_id: str, connection_id: str, context: RemoteExecutionContextIn) -> str:
    """The idempotency key of one delivery: the same for Dataverse's retry of it, another for any other.

    OperationId (the system job) + PrimaryEntityId + MessageName identify an asynchronous step's delivery.
    A synchronous step has no system job (its OperationId is the empty GUID), so the correlation id, depth
    and operation time are part of the key too; a retry repeats all of them."""
    created = context.operation_created_on.isoformat() if context.operation_created_on else ""
    identity = "|".join(
        [
            tenant_id,
            connection_id,
            context.operation_id or "",
            context.correlation_id or "",
            context.primary_entity_name,
            context.primary_entity_id,
            context.message_name,
            str(context.depth),
            created,
        ]
    )
    return hashlib.sha256(f"dynamics|{identity}".encode()).hexdigest()


@dataclass(frozen=True)
class DataverseDelivery:
    """What one delivery means: a signal to enqueue once under ``key``, or why nothing is enqueued."""

    signal: Signal | None
    key: str
    ignored: str | None = None  # "echo" (crmsync's own write), "table" or "message" (not synced)


def dataverse_delivery(
    context: RemoteExecutionContextIn, *, tenant_id: str, connection_id: str, application_user_id: str | None
) -> DataverseDelivery:
    """The signal of a parsed context (a change or delete of a synced row), or why there is none."""
    key = delivery_key(tenant_id, connection_id, context)
    object_type = DATAVERSE_TABLES.get(context.primary_entity_name)
    if object_type is None:
        return DataverseDelivery(None, key, "table")
    if context.message_name not in SYNCED_MESSAGES:
        return DataverseDelivery(None, key, "message")
    if own_write(context, application_user_id):
        return DataverseDelivery(None, key, "echo")
    signal = Signal(
        tenant_id=tenant_id,
        connection_id=connection_id,
        object_type=object_type,
        external_id=context.primary_entity_id,
        source="webhook",
    )
    return DataverseDelivery(signal, key)
