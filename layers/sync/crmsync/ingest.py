"""Webhook ingestion: verify, turn into signals, enqueue. Fast, and nothing invalid gets through.

A delivery is answered 2xx only once its signals are on the queue; if enqueueing fails the answer
is 503, so the vendor retries instead of the change being lost. HubSpot redeliveries are processed
once: a delivery goes through Powertools Idempotency keyed by its events' identities (their fields
without ``attemptNumber``), kept 25 hours because HubSpot retries for 24. One idempotency record per
delivery (not per event) keeps ingestion at two DynamoDB writes per POST; should HubSpot regroup
retried events into a different batch, the extra signals are harmless: the worker re-reads the
record and finds nothing new. e-conomic deliveries carry no id; a duplicate simply re-reads the
customer and changes nothing. Dataverse deliveries go through the same idempotency, keyed by the
delivery's identity (``crmsync.dataverse_webhooks.delivery_key``), so its one retry is enqueued once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from crmsync.config import ConnectionConfig
from crmsync.context import SyncContext, UnknownTenant
from crmsync.dataverse_webhooks import UNAUTHORISED, dataverse_delivery, parse_context, verify_dataverse_key
from crmsync.errors import UnknownConnection
from crmsync.messages import FactsRefresh
from crmsync.models import ConnectionKind, Signal
from crmsync.webhooks import (
    WebhookRejected,
    economic_booked_invoice,
    economic_signals,
    hubspot_events,
    raw_body,
    refuse_oversized_body,
    request_uri,
    verify_economic_key,
    verify_hubspot,
)

EnqueueOnce = Callable[[str, list[Signal]], Any]


def _connection_secret(
    ctx: SyncContext, tenant_id: str, connection_id: str, kind: ConnectionKind
) -> tuple[ConnectionConfig, dict[str, Any]]:
    try:
        config = ctx.ingest_config(tenant_id)
        conn = config.connection(connection_id)
    except (UnknownTenant, UnknownConnection) as exc:
        # Same answer as a bad secret: the endpoint does not reveal which tenants exist.
        raise WebhookRejected(401, UNAUTHORISED) from exc
    if conn.kind is not kind:
        raise WebhookRejected(401, UNAUTHORISED)
    return conn, ctx.connectors.secret(config, connection_id)


def economic_webhook(
    ctx: SyncContext,
    tenant_id: str,
    connection_id: str,
    query: dict[str, str],
    *,
    body: str | bytes | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    """Verify and enqueue an e-conomic delivery: its data is in the query; the body is never read.

    "Customer updated" (``old=[OLDNUMBER]&new=[NEWNUMBER]``) is a signal; "Invoice booked"
    (``invoice=[INVOICENO]``) refreshes that customer's accounting facts (``crmsync.facts_refresh``)."""
    refuse_oversized_body(body, is_base64)
    _, secret = _connection_secret(ctx, tenant_id, connection_id, ConnectionKind.ECONOMIC)
    expected = str(secret.get("webhook_secret", ""))
    verify_economic_key(query, expected)
    invoice = economic_booked_invoice(query)
    if invoice is not None:
        assert ctx.queue is not None
        ctx.queue.send([FactsRefresh(tenant_id=tenant_id, invoice=invoice)])
        return {"accepted": 1}
    signals = economic_signals(
        tenant_id=tenant_id,
        connection_id=connection_id,
        query=query,
        expected_key=expected,
    )
    assert ctx.queue is not None
    ctx.queue.send(signals)
    return {"accepted": len(signals)}


def hubspot_webhook(
    ctx: SyncContext,
    tenant_id: str,
    connection_id: str,
    *,
    method: str,
    uri: str,
    body: str | bytes,
    headers: dict[str, str],
    now_ms: int,
    enqueue_once: EnqueueOnce,
) -> dict[str, Any]:
    """Verify, parse and enqueue a HubSpot delivery; ``body`` is the raw body as sent (signed as bytes).

    Size first (413), then the signature (401), then the nesting and the events (400): nothing
    is enqueued unless all of them pass."""
    refuse_oversized_body(body)
    conn, secret = _connection_secret(ctx, tenant_id, connection_id, ConnectionKind.HUBSPOT)
    verify_hubspot(
        client_secret=str(secret.get("client_secret", "")),
        method=method,
        uri=uri,
        body=body,
        headers=headers,
        now_ms=now_ms,
    )
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise WebhookRejected(400, "body is not UTF-8 JSON") from exc
    events = hubspot_events(text, portal_id=conn.hubspot_portal_id)
    if not events:
        return {"events": 0, "signals": 0}
    objects = sorted({(event.object_type, event.object_id) for event in events})
    signals = [
        Signal(
            tenant_id=tenant_id,
            connection_id=connection_id,
            object_type=object_type,
            external_id=object_id,
            source="webhook",
        )
        for object_type, object_id in objects
    ]
    identity = "|".join(sorted(event.key for event in events))
    key = hashlib.sha256(f"{tenant_id}|{connection_id}|{identity}".encode()).hexdigest()
    enqueue_once(key, signals)
    return {"events": len(events), "signals": len(signals)}


def hubspot_request(
    ctx: SyncContext,
    tenant_id: str,
    connection_id: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: str | None,
    is_base64: bool,
    enqueue_once: EnqueueOnce,
) -> dict[str, Any]:
    """``hubspot_webhook`` for an API Gateway request: the size checked before the body is decoded, the
    signed URI rebuilt from the request, the raw bytes as sent."""
    refuse_oversized_body(body, is_base64)
    return hubspot_webhook(
        ctx,
        tenant_id,
        connection_id,
        method=method,
        uri=request_uri(headers, raw_path, raw_query),
        body=raw_body(body, is_base64),
        headers=headers,
        now_ms=int(time.time() * 1000),
        enqueue_once=enqueue_once,
    )


def dynamics_webhook(
    ctx: SyncContext,
    tenant_id: str,
    connection_id: str,
    *,
    query: dict[str, str],
    headers: dict[str, str],
    body: str | None,
    is_base64: bool,
    enqueue_once: EnqueueOnce,
) -> dict[str, Any]:
    """Verify, parse and enqueue (once) a Dataverse delivery from an API Gateway request.

    Size first (413), then the key (401: unknown tenant, another vendor's connection and a wrong key
    answer alike), then the body (400); a table or message crmsync does not sync and crmsync's own
    write are answered 200 with nothing enqueued (``crmsync.dataverse_webhooks``)."""
    refuse_oversized_body(body, is_base64)
    conn, secret = _connection_secret(ctx, tenant_id, connection_id, ConnectionKind.DYNAMICS)
    verify_dataverse_key(expected_key=str(secret.get("webhook_key", "")), query=query, headers=headers)
    context = parse_context(raw_body(body, is_base64))
    delivery = dataverse_delivery(
        context,
        tenant_id=tenant_id,
        connection_id=connection_id,
        application_user_id=conn.dynamics.application_user_id if conn.dynamics else None,
    )
    if delivery.signal is None:
        return {"signals": 0, "ignored": delivery.ignored}
    enqueue_once(delivery.key, [delivery.signal])
    return {"signals": 1}


def make_enqueue_once(ctx: SyncContext, idempotency_table: str, boto3_client: Any = None) -> EnqueueOnce:
    """Wrap "send this signal" in Powertools Idempotency so a redelivered group is sent once."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=boto3_client)
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=25 * 3600)

    @idempotent_function(  # type: ignore[misc]  # Powertools' decorator factory is untyped
        data_keyword_argument="delivery", config=config, persistence_store=persistence
    )
    def send_delivery(delivery: dict[str, Any]) -> dict[str, Any]:
        assert ctx.queue is not None
        sent = ctx.queue.send(Signal.model_validate(s) for s in delivery["signals"])
        return {"enqueued": sent}

    def enqueue_once(key: str, signals: list[Signal]) -> Any:
        return send_delivery(delivery={"key": key, "signals": [s.model_dump(mode="json") for s in signals]})

    enqueue_once.config = config  # type: ignore[attr-defined]
    return enqueue_once
