"""api in-process: per-tenant bearer tokens, record view, config round trip with optimistic locking."""

from __future__ import annotations

import json

from crmsync.models import ObjectType, Record
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env


def call(method: str, path: str, token: str | None, body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    response = invoke(
        "api", http_event(method, path, headers=headers, body=json.dumps(body) if body else None)
    )
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def seed_record(env: Env, tenant: str) -> str:
    record = Record(
        tenant_id=tenant,
        record_id="cus_" + "a" * 32,
        object_type=ObjectType.CUSTOMER,
        fields={"name": "Acme A/S"},
        links={"eco": "7"},
    )
    env.store.save_record(record, new_links={"eco": "7"})
    return record.record_id


def test_token_of_another_tenant_gets_403_and_no_token_401(env: Env):
    token_a = env.tenant("tenant-a")
    token_b = env.tenant("tenant-b")
    rid = seed_record(env, "tenant-a")
    own = call("GET", f"/tenants/tenant-a/records/{rid}", token_a)
    assert own["statusCode"] == 200 and own["json"]["fields"]["name"] == "Acme A/S"
    other = call("GET", f"/tenants/tenant-a/records/{rid}", token_b)
    assert other["statusCode"] == 403
    assert "Acme" not in other["body"]
    assert call("GET", f"/tenants/tenant-a/records/{rid}", None)["statusCode"] == 401
    assert call("GET", f"/tenants/tenant-a/records/{rid}", "forged-token")["statusCode"] == 401
    assert call("GET", "/tenants/tenant-a/config", token_b)["statusCode"] == 403


def test_tenant_b_cannot_see_tenant_a_record_under_its_own_path(env: Env):
    env.tenant("tenant-a")
    token_b = env.tenant("tenant-b")
    rid = seed_record(env, "tenant-a")
    response = call("GET", f"/tenants/tenant-b/records/{rid}", token_b)
    assert response["statusCode"] == 404


def test_config_round_trip_and_stale_version_conflict(env: Env):
    token = env.tenant("t1")
    got = call("GET", "/tenants/t1/config", token)
    assert got["statusCode"] == 200
    config = got["json"]
    config["sync_mode"] = "manual"
    put = call("PUT", "/tenants/t1/config", token, config)
    assert put["statusCode"] == 200 and put["json"]["sync_mode"] == "manual"
    assert put["json"]["version"] == config["version"] + 1
    stale = call("PUT", "/tenants/t1/config", token, config)
    assert stale["statusCode"] == 409


def test_invalid_config_and_bad_ids_are_rejected_with_422(env: Env):
    token = env.tenant("t1")
    config = call("GET", "/tenants/t1/config", token)["json"]
    config["field_policy"]["customer"]["nmae"] = {"direction": "both"}
    assert call("PUT", "/tenants/t1/config", token, config)["statusCode"] == 422
    assert call("GET", "/tenants/t1/records/not-a-record", token)["statusCode"] == 422


def test_openapi_document_lists_the_routes(env: Env):
    response = invoke("api", http_event("GET", "/openapi.json"))
    doc = json.loads(response["body"])
    assert "/tenants/{tenant_id}/records/{record_id}" in doc["paths"]
    assert "put" in doc["paths"]["/tenants/{tenant_id}/config"]


def test_openapi_document_lists_the_conflict_routes_and_validates(env: Env):
    from openapi_spec_validator import validate

    doc = json.loads(invoke("api", http_event("GET", "/openapi.json"))["body"])
    validate(doc)
    paths = doc["paths"]
    for path, method in (
        ("/tenants/{tenant_id}/conflicts", "get"),
        ("/tenants/{tenant_id}/records/{record_id}/resolve", "post"),
        ("/tenants/{tenant_id}/conflicts/{conflict_id}/restore", "post"),
        ("/tenants/{tenant_id}/records/{record_id}/compare", "get"),
        ("/tenants/{tenant_id}/records/{record_id}/timeline", "get"),
        ("/tenants/{tenant_id}/parked", "get"),
        ("/tenants/{tenant_id}/parked/{parked_id}/replay", "post"),
    ):
        assert method in paths[path], path


def test_conflict_routes_are_per_tenant_and_validate_input(env: Env):
    token_a, token_b = env.tenant("t1"), env.tenant("t2")
    record_id = seed_record(env, "t1")
    assert call("GET", f"/tenants/t1/records/{record_id}/compare", token_b)["statusCode"] == 403
    assert call("GET", "/tenants/t1/conflicts", token_b)["statusCode"] == 403
    assert call("GET", "/tenants/t2/conflicts", token_b)["json"] == []
    bad_take = {"fields": {"city": {"take": "both"}}}
    assert call("POST", f"/tenants/t1/records/{record_id}/resolve", token_a, bad_take)["statusCode"] == 422
    value_without_take = {"fields": {"city": {"take": "crm", "value": "x"}}}
    response = call("POST", f"/tenants/t1/records/{record_id}/resolve", token_a, value_without_take)
    assert response["statusCode"] == 422
    missing = "/tenants/t1/conflicts/" + record_id + ".city.20260101T000000000000/restore"
    assert call("POST", missing, token_a)["statusCode"] == 404
    assert call("POST", "/tenants/t1/conflicts/not-an-id/restore", token_a)["statusCode"] == 422
    assert call("POST", "/tenants/t1/parked/nope/replay", token_a)["statusCode"] == 404
    assert call("POST", "/tenants/t1/parked/no%20pe/replay", token_a)["statusCode"] == 422
    view = call("GET", f"/tenants/t1/records/{record_id}/compare", token_a)
    assert view["statusCode"] == 200
    assert {f["field"] for f in view["json"]["fields"]} >= {"name", "city", "account_manager"}
    timeline = call("GET", f"/tenants/t1/records/{record_id}/timeline", token_a)
    assert timeline["statusCode"] == 200 and isinstance(timeline["json"]["entries"], list)
