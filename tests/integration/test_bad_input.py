"""Bad input through the handlers in-process: never a 5xx, and the token is checked before the body.

Deep JSON (json.loads recursing past Python's limit) and oversize bodies were 500s; the API
validated bodies (422) before checking the token, so a caller without one learned the schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crmsync.limits import (
    MAX_API_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_WEBHOOK_BODY_BYTES,
    json_depth_exceeds,
    json_refusal,
    too_large,
)
from crmsync.models import ObjectType, Record
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import WEBHOOK_SECRET, Env
from tests.integration.test_webhook_ingest import HOST, hs_change, hubspot_event

DEEP = 1000
RECORD_ID = "cus_" + "a" * 32


def deep_json(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = json.loads(response["body"]) if response.get("body") else {}
    assert response["statusCode"] < 500, response
    return response["statusCode"], body


def api_call(
    function: str, method: str, path: str, token: str | None, body: str | bytes | None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return answer(invoke(function, http_event(method, path, headers=headers, body=body)))


def seed_record(env: Env, tenant: str) -> Record:
    record = Record(
        tenant_id=tenant,
        record_id=RECORD_ID,
        object_type=ObjectType.CUSTOMER,
        fields={"name": "Acme A/S", "city": "Odense"},
        links={"eco": "7"},
    )
    env.store.save_record(record, new_links={"eco": "7"})
    stored = env.store.get_record(tenant, RECORD_ID)
    assert stored is not None
    return stored


# -- the scanner itself ------------------------------------------------------------------------------


def test_depth_is_counted_without_recursion_and_ignores_brackets_in_strings():
    assert not json_depth_exceeds(deep_json(MAX_JSON_DEPTH))
    assert json_depth_exceeds(deep_json(MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds("[" * 200_000)  # unterminated: still no RecursionError
    assert not json_depth_exceeds(json.dumps({"name": "[" * 500 + '{"\\"' * 100}))
    assert json_depth_exceeds('["\\\\"' + ",[" * 40 + "]" * 41)  # an escaped backslash ends the string
    assert not json_depth_exceeds(json.dumps([hs_change(i) for i in range(100)]))
    assert json_refusal('{"n": ' + "7" * 5000 + "}") == "has a number of more than 100 digits"
    assert json_refusal(json.dumps({"n": "7" * 5000, "id": 2**63})) is None


def test_size_is_counted_in_bytes_as_sent():
    assert too_large("é" * 3, 5) and not too_large("é" * 2, 5)  # UTF-8: 2 bytes each
    assert not too_large(None, 0) and not too_large("", 0)
    assert too_large("x" * (MAX_API_BODY_BYTES + 1), MAX_API_BODY_BYTES)
    import base64

    assert too_large(base64.b64encode(b"x" * 101).decode(), 100, is_base64=True)
    assert not too_large(base64.b64encode(b"x" * 100).decode(), 100, is_base64=True)


# -- webhooks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [DEEP, 100_000])
def test_signed_hubspot_delivery_nested_too_deep_is_a_400_and_enqueues_nothing(env: Env, levels: int):
    env.tenant("t1")
    status, body = answer(invoke("webhook_ingest", hubspot_event(env, "t1", [], body=deep_json(levels))))
    assert status == 400 and "deeper than" in body["message"]
    assert env.queued() == []


def test_signed_hubspot_event_with_a_deep_extra_field_is_a_400_but_its_depth_limit_passes(env: Env):
    env.tenant("t1")
    too_deep = json.dumps([{**hs_change(11), "extra": json.loads(deep_json(MAX_JSON_DEPTH))}])
    status, body = answer(invoke("webhook_ingest", hubspot_event(env, "t1", [], body=too_deep)))
    assert status == 400 and "deeper than" in body["message"]
    assert env.queued() == []
    at_limit = json.dumps([{**hs_change(12), "extra": json.loads(deep_json(MAX_JSON_DEPTH - 2))}])
    status, _ = answer(invoke("webhook_ingest", hubspot_event(env, "t1", [], body=at_limit)))
    assert status == 200
    assert [s["external_id"] for s in env.queued()] == ["12"]


def test_signed_hubspot_delivery_with_an_integer_python_cannot_read_is_a_400(env: Env):
    """json.loads refuses integers of over 4,300 digits with a ValueError (a 500)."""
    env.tenant("t1")
    body = json.dumps([hs_change(11)]).replace('"objectId": 11', '"objectId": ' + "1" * 5000)
    status, result = answer(invoke("webhook_ingest", hubspot_event(env, "t1", [], body=body)))
    assert status == 400 and "digits" in result["message"]
    assert env.queued() == []


def test_unsigned_hubspot_delivery_nested_too_deep_is_a_401_and_enqueues_nothing(env: Env):
    env.tenant("t1")
    event = hubspot_event(env, "t1", [], body=deep_json(DEEP), secret="not-the-secret")
    status, _ = answer(invoke("webhook_ingest", event))
    assert status == 401
    assert env.queued() == []


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
def test_oversize_hubspot_delivery_is_a_413_signed_or_not(env: Env, secret: str | None):
    env.tenant("t1")
    event = hs_change(11, value="x" * (MAX_WEBHOOK_BODY_BYTES // 2))
    body = json.dumps([event, {**event, "eventId": 2}, {**event, "eventId": 3}])
    status, result = answer(invoke("webhook_ingest", hubspot_event(env, "t1", [], body=body, secret=secret)))
    assert status == 413 and str(MAX_WEBHOOK_BODY_BYTES) in result["message"]
    assert env.queued() == []


def test_a_full_hubspot_delivery_of_100_events_fits(env: Env):
    """HubSpot sends under 100 events per request: with long property values, it still fits."""
    env.tenant("t1")
    events = [hs_change(1000 + i, "name", "n" * 8000, event_id=i) for i in range(100)]
    status, result = answer(invoke("webhook_ingest", hubspot_event(env, "t1", events)))
    assert status == 200 and result["signals"] == 100
    assert len(env.queued()) == 100


def test_oversize_economic_delivery_is_a_413(env: Env):
    env.tenant("t1")
    event = http_event(
        "POST",
        "/webhooks/economic/t1/eco",
        query=f"key={WEBHOOK_SECRET}&new=5",
        body="x" * (MAX_WEBHOOK_BODY_BYTES + 1),
        host=HOST,
    )
    status, _ = answer(invoke("webhook_ingest", event))
    assert status == 413
    assert env.queued() == []


# -- the API -----------------------------------------------------------------------------------------

API_CASES = [
    ("api", "POST", "/tenants/t1/transfers"),
    ("api", "POST", f"/tenants/t1/records/{RECORD_ID}/resolve"),
    ("api", "PUT", "/tenants/t1/config"),
    ("lead_conversion", "POST", "/tenants/t1/leads/1/convert"),
]


@pytest.mark.parametrize(("function", "method", "path"), API_CASES)
def test_deep_api_body_is_a_401_without_a_token_and_a_400_with_one(
    env: Env, function: str, method: str, path: str
):
    token = env.tenant("t1")
    assert api_call(function, method, path, None, deep_json(DEEP))[0] == 401
    assert api_call(function, method, path, "forged", deep_json(DEEP))[0] == 401
    status, body = api_call(function, method, path, token, deep_json(DEEP))
    assert status == 400 and "deeper than" in body["message"]
    assert api_call(function, method, path, token, '{"a": ' * 5000)[0] == 400
    huge_number = '{"source": ' + "1" * 5000 + "}"  # json.loads raised ValueError: a 500
    assert api_call(function, method, path, None, huge_number)[0] == 401
    status, body = api_call(function, method, path, token, huge_number)
    assert status == 400 and "digits" in body["message"]
    assert env.queued() == []


@pytest.mark.parametrize(("function", "method", "path"), API_CASES)
def test_invalid_body_is_a_401_without_a_token_403_with_another_tenants_and_422_with_its_own(
    env: Env, function: str, method: str, path: str
):
    token = env.tenant("t1")
    other = env.tenant("t2")
    invalid = json.dumps({"unexpected": ["shape"], "fields": 5, "object_type": "spaceship"})
    status, body = api_call(function, method, path, None, invalid)
    assert status == 401 and "detail" not in body  # nothing about the schema
    assert api_call(function, method, path, "forged-token", invalid)[0] == 401
    assert api_call(function, method, path, other, invalid)[0] == 403
    status, body = api_call(function, method, path, token, invalid)
    assert status == 422 and body["detail"]
    assert env.queued() == []


def test_unauthenticated_requests_learn_nothing_about_routes_or_content_types(env: Env):
    env.tenant("t1")
    assert api_call("api", "POST", "/tenants/t1/no-such-route", None, "{}")[0] == 401
    response = invoke(
        "api",
        http_event("POST", "/tenants/t1/transfers", headers={"Content-Type": "text/plain"}, body="x"),
    )
    assert response["statusCode"] == 401
    assert invoke("api", http_event("GET", "/openapi.json"))["statusCode"] == 200  # public


def test_oversize_resolve_is_a_413_and_writes_nothing(env: Env):
    token = env.tenant("t1")
    before = seed_record(env, "t1")
    huge = json.dumps({"fields": {"name": {"take": "value", "value": "N" * 1_000_000}}})
    path = f"/tenants/t1/records/{RECORD_ID}/resolve"
    for who in (token, None):
        status, body = api_call("api", "POST", path, who, huge)
        assert status == 413 and str(MAX_API_BODY_BYTES) in body["message"]
    after = env.store.get_record("t1", RECORD_ID)
    assert after is not None and after.version == before.version and after.fields == before.fields
    assert env.store.conflicts("t1") == []
    assert env.queued() == []


@pytest.mark.parametrize(("function", "method", "path"), API_CASES)
def test_oversize_body_is_a_413_on_every_route(env: Env, function: str, method: str, path: str):
    token = env.tenant("t1")
    body = json.dumps({"pad": "x" * MAX_API_BODY_BYTES})
    assert api_call(function, method, path, token, body)[0] == 413
    assert api_call(function, method, path, None, body)[0] == 413
    assert env.queued() == []
