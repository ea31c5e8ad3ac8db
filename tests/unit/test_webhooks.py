"""Webhook verification: HubSpot v3 signatures (vendor test vector), tolerance, e-conomic keys."""

from __future__ import annotations

import json

import pytest

from crmsync.models import ObjectType
from crmsync.webhooks import (
    WebhookRejected,
    economic_booked_invoice,
    economic_signals,
    hubspot_events,
    hubspot_signature_v3,
    request_uri,
    verify_economic_key,
    verify_hubspot,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


def test_v3_signature_matches_hubspot_sdk_vector():
    # hubspot-api-python tests/spec/utils/test_signature.py (its body is the literal Python-repr string)
    sig = hubspot_signature_v3(
        SECRET, "POST", "https://www.example.com/webhook_uri", "{'example_field':'example_value'}", "15000000"
    )
    assert sig == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


def _signed(body: str, ts: int, uri: str = "https://api.example.com/webhooks/hubspot/t1/hs") -> dict:
    return {
        "X-HubSpot-Signature-v3": hubspot_signature_v3(SECRET, "POST", uri, body, str(ts)),
        "X-HubSpot-Request-Timestamp": str(ts),
    }


def test_verify_accepts_good_signature_within_tolerance():
    body = "[]"
    verify_hubspot(
        client_secret=SECRET,
        method="POST",
        uri="https://api.example.com/webhooks/hubspot/t1/hs",
        body=body,
        headers=_signed(body, 1_000_000),
        now_ms=1_000_000 + 299_000,
    )


@pytest.mark.parametrize("now_ms", [1_000_000 + 301_000, 1_000_000 - 301_000])
def test_verify_rejects_stale_or_future_timestamp(now_ms):
    body = "[]"
    with pytest.raises(WebhookRejected) as err:
        verify_hubspot(
            client_secret=SECRET,
            method="POST",
            uri="https://api.example.com/webhooks/hubspot/t1/hs",
            body=body,
            headers=_signed(body, 1_000_000),
            now_ms=now_ms,
        )
    assert err.value.status == 401


def test_verify_rejects_tampered_body_and_missing_headers():
    headers = _signed("[]", 1_000)
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_hubspot(
            client_secret=SECRET,
            method="POST",
            uri="https://api.example.com/webhooks/hubspot/t1/hs",
            body='[{"x":1}]',
            headers=headers,
            now_ms=1_000,
        )
    with pytest.raises(WebhookRejected, match="missing"):
        verify_hubspot(client_secret=SECRET, method="POST", uri="u", body="[]", headers={}, now_ms=1_000)


def test_signature_uses_decoded_uri_characters():
    encoded = "https://h.example/webhooks/hubspot/t1/hs?x=a%3Ab"
    decoded = "https://h.example/webhooks/hubspot/t1/hs?x=a:b"
    assert hubspot_signature_v3(SECRET, "POST", encoded, "", "1") == hubspot_signature_v3(
        SECRET, "POST", decoded, "", "1"
    )


def test_hubspot_events_map_objects_and_ignore_attempt_number_in_identity():
    event = {
        "objectId": 55,
        "subscriptionType": "company.propertyChange",
        "eventId": 1,
        "portalId": 7,
        "occurredAt": 1,
        "propertyName": "city",
        "propertyValue": "Odense",
        "attemptNumber": 0,
    }
    first = hubspot_events(json.dumps([event]), portal_id=7)
    again = hubspot_events(json.dumps([event | {"attemptNumber": 3}]), portal_id=7)
    assert first[0].object_type is ObjectType.CUSTOMER and first[0].object_id == "55"
    assert first[0].key == again[0].key
    deals = hubspot_events(json.dumps([event | {"subscriptionType": "deal.creation"}]), portal_id=None)
    assert deals == []


def test_hubspot_events_reject_other_portal_and_non_arrays():
    event = {"objectId": 1, "subscriptionType": "contact.creation", "portalId": 8}
    with pytest.raises(WebhookRejected) as err:
        hubspot_events(json.dumps([event]), portal_id=7)
    assert err.value.status == 401
    with pytest.raises(WebhookRejected) as err:
        hubspot_events('{"objectId": 1}', portal_id=None)
    assert err.value.status == 400


def test_economic_key_checked_and_renumbering_hint():
    (signal,) = economic_signals(
        tenant_id="t1",
        connection_id="eco",
        query={"key": "s3cret", "old": "7", "new": "8"},
        expected_key="s3cret",
    )
    assert signal.external_id == "8" and signal.hint == {"old_number": "7"}
    with pytest.raises(WebhookRejected) as err:
        economic_signals(
            tenant_id="t1", connection_id="eco", query={"key": "nope", "new": "8"}, expected_key="s3cret"
        )
    assert err.value.status == 401
    with pytest.raises(WebhookRejected) as err:
        economic_signals(
            tenant_id="t1", connection_id="eco", query={"key": "s3cret", "new": "abc"}, expected_key="s3cret"
        )
    assert err.value.status == 400
    with pytest.raises(WebhookRejected) as err:
        economic_signals(
            tenant_id="t1",
            connection_id="eco",
            query={"key": "s3cret", "new": "[NEWNUMBER]"},
            expected_key="s3cret",
        )
    assert err.value.status == 400


def test_request_uri_rebuilds_what_the_sender_signed():
    assert request_uri(
        {"Host": "abc.execute-api.eu-west-1.amazonaws.com"}, "/webhooks/hubspot/t1/hs", ""
    ) == ("https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/hubspot/t1/hs")
    assert request_uri({"host": "127.0.0.1:3000", "x-forwarded-proto": "http"}, "/p", "a=1") == (
        "http://127.0.0.1:3000/p?a=1"
    )


def test_events_for_crmsyncs_own_writes_are_dropped_and_everyone_elses_kept():
    base = {
        "objectId": 11,
        "portalId": 7,
        "appId": 4242,
        "subscriptionType": "company.propertyChange",
        "propertyName": "phone",
        "propertyValue": "+45 1",
        "occurredAt": 1,
        "eventId": 1,
    }
    ours = base | {"changeSource": "INTEGRATION", "sourceId": "4242"}
    person = base | {"changeSource": "CRM_UI", "sourceId": "userId:1001", "objectId": 12}
    other_app = base | {"changeSource": "INTEGRATION", "sourceId": "999", "objectId": 13}
    workflow = base | {"changeSource": "AUTOMATION_PLATFORM", "sourceId": "4242", "objectId": 14}
    merge = ours | {"subscriptionType": "company.merge", "objectId": 15, "mergedObjectIds": [16]}
    events = hubspot_events(json.dumps([ours, person, other_app, workflow, merge]), portal_id=7)
    assert sorted({e.object_id for e in events}) == ["12", "13", "14", "15", "16"], (
        "only the echo of crmsync's own property write is dropped; a merge is always followed"
    )


def test_an_invoice_booked_webhook_names_its_invoice_and_is_checked_like_the_others():
    with pytest.raises(WebhookRejected) as wrong:
        verify_economic_key({"key": "nope", "invoice": "7"}, "k")
    assert wrong.value.status == 401
    verify_economic_key({"key": "k", "invoice": "7"}, "k")
    assert economic_booked_invoice({"key": "k", "invoice": "7"}) == 7
    assert economic_booked_invoice({"key": "k", "old": "1", "new": "1"}) is None, "a customer webhook"
    for bad in ("[INVOICENO]", "", "x7", "0", "1" * 30):
        with pytest.raises(WebhookRejected) as refused:
            economic_booked_invoice({"key": "k", "invoice": bad})
        assert refused.value.status == 400 and "invoice" in str(refused.value)
