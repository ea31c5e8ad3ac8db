"""webhook_ingest in-process: valid deliveries become signals; invalid ones get 4xx and enqueue nothing."""

from __future__ import annotations

import json
import time

from crmsync.webhooks import hubspot_signature_v3
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import WEBHOOK_SECRET, Env

HOST = "abc123.execute-api.eu-west-1.amazonaws.com"


def economic_event(tenant: str, query: str) -> dict:
    path = f"/webhooks/economic/{tenant}/eco"
    return http_event(
        "POST",
        path,
        query=query,
        body="{}",
        host=HOST,
        route_key="POST /webhooks/economic/{tenant_id}/{connection_id}",
        path_parameters={"tenant_id": tenant, "connection_id": "eco"},
    )


def hubspot_event(
    env: Env,
    tenant: str,
    events: list[dict],
    *,
    secret: str | None = None,
    ts: int | None = None,
    body: str | None = None,
) -> dict:
    path = f"/webhooks/hubspot/{tenant}/hs"
    raw = body if body is not None else json.dumps(events)
    ts = ts if ts is not None else int(time.time() * 1000)
    sig = hubspot_signature_v3(
        secret or env.hubspot.client_secret, "POST", f"https://{HOST}{path}", raw, str(ts)
    )
    return http_event(
        "POST",
        path,
        body=raw,
        host=HOST,
        headers={
            "X-HubSpot-Signature-v3": sig,
            "X-HubSpot-Request-Timestamp": str(ts),
            "Content-Type": "application/json",
        },
        route_key="POST /webhooks/hubspot/{tenant_id}/{connection_id}",
        path_parameters={"tenant_id": tenant, "connection_id": "hs"},
    )


def hs_change(
    object_id: int,
    prop: str = "city",
    value: str = "Odense",
    event_id: int = 1,
    attempt: int = 0,
    portal: int = 62515,
) -> dict:
    return {
        "objectId": object_id,
        "propertyName": prop,
        "propertyValue": value,
        "changeSource": "CRM_UI",
        "eventId": event_id,
        "subscriptionId": 10,
        "portalId": portal,
        "appId": 54321,
        "occurredAt": 1_790_000_000_000 + event_id,
        "subscriptionType": "company.propertyChange",
        "attemptNumber": attempt,
    }


def test_economic_webhook_with_key_enqueues_one_signal_with_renumber_hint(env: Env):
    env.tenant("t1")
    response = invoke("webhook_ingest", economic_event("t1", f"key={WEBHOOK_SECRET}&old=41&new=42"))
    assert response["statusCode"] == 200
    (signal,) = env.queued()
    assert (signal["tenant_id"], signal["external_id"], signal["hint"]) == ("t1", "42", {"old_number": "41"})


def test_economic_webhook_with_wrong_key_is_401_and_enqueues_nothing(env: Env):
    env.tenant("t1")
    response = invoke("webhook_ingest", economic_event("t1", "key=guess&old=1&new=1"))
    assert response["statusCode"] == 401
    assert "key" in json.loads(response["body"])["message"]
    unknown = invoke("webhook_ingest", economic_event("nobody", f"key={WEBHOOK_SECRET}&new=1"))
    assert unknown["statusCode"] == 401
    assert env.queued() == []


def test_economic_webhook_without_number_is_400(env: Env):
    env.tenant("t1")
    response = invoke("webhook_ingest", economic_event("t1", f"key={WEBHOOK_SECRET}&old=&new="))
    assert response["statusCode"] == 400
    assert env.queued() == []


def test_hubspot_signed_batch_becomes_one_signal_per_object(env: Env):
    env.tenant("t1")
    events = [
        hs_change(11, "city", event_id=1),
        hs_change(11, "phone", "1", event_id=2),
        hs_change(12, event_id=3),
    ]
    response = invoke("webhook_ingest", hubspot_event(env, "t1", events))
    assert response["statusCode"] == 200
    assert sorted(s["external_id"] for s in env.queued()) == ["11", "12"]


def test_hubspot_bad_signature_or_stale_timestamp_is_401_and_enqueues_nothing(env: Env):
    env.tenant("t1")
    forged = invoke("webhook_ingest", hubspot_event(env, "t1", [hs_change(11)], secret="not-the-secret"))
    stale = invoke(
        "webhook_ingest",
        hubspot_event(env, "t1", [hs_change(11)], ts=int(time.time() * 1000) - 6 * 60 * 1000),
    )
    assert forged["statusCode"] == 401 and stale["statusCode"] == 401
    assert env.queued() == []


def test_hubspot_event_from_another_portal_is_rejected(env: Env):
    env.tenant("t1")
    response = invoke("webhook_ingest", hubspot_event(env, "t1", [hs_change(11, portal=999)]))
    assert response["statusCode"] == 401
    assert env.queued() == []


def test_hubspot_malformed_body_is_400(env: Env):
    env.tenant("t1")
    response = invoke("webhook_ingest", hubspot_event(env, "t1", [], body='{"not": "an array"'))
    assert response["statusCode"] == 400
    assert env.queued() == []


def test_hubspot_redelivery_is_enqueued_once(env: Env):
    env.tenant("t1")
    first = invoke("webhook_ingest", hubspot_event(env, "t1", [hs_change(11, event_id=7)]))
    # HubSpot retries with a new attemptNumber and a fresh timestamp/signature
    again = invoke("webhook_ingest", hubspot_event(env, "t1", [hs_change(11, event_id=7, attempt=1)]))
    assert first["statusCode"] == again["statusCode"] == 200
    assert len(env.queued()) == 1
    # a genuinely new event for the same object is not swallowed
    invoke("webhook_ingest", hubspot_event(env, "t1", [hs_change(11, event_id=8)]))
    assert len(env.queued()) == 1


def test_enqueue_failure_answers_503_so_the_vendor_retries(env: Env, monkeypatch):
    env.tenant("t1")
    env.sqs.delete_queue(QueueUrl=env.resources.signals_queue_url)
    response = invoke("webhook_ingest", economic_event("t1", f"key={WEBHOOK_SECRET}&new=5"))
    assert response["statusCode"] == 503
