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


# -- token lifecycle: expiry, revocation, tenants apart ------------------------------------------------


def test_a_token_expires_after_its_lifetime_clock_injected(env: Env):
    from datetime import timedelta

    from crmsync import runtime
    from crmsync.models import utcnow
    from crmsync.tokens import DEFAULT_TOKEN_LIFETIME, issue_token

    token = env.tenant("t1")
    short = issue_token(env.store, "t1", name="short", lifetime=timedelta(days=1))
    assert call("GET", "/tenants/t1/config", token)["statusCode"] == 200
    ctx = runtime.context()
    ctx.clock = lambda: utcnow() + timedelta(days=2)
    assert call("GET", "/tenants/t1/config", short)["statusCode"] == 401
    assert call("GET", "/tenants/t1/config", token)["statusCode"] == 200  # 90 days by default
    ctx.clock = lambda: utcnow() + DEFAULT_TOKEN_LIFETIME + timedelta(seconds=1)
    expired = call("GET", "/tenants/t1/config", token)
    assert expired["statusCode"] == 401 and "expired" in expired["json"]["message"]
    # the lead conversion function checks the same token the same way, before the body
    lead = invoke(
        "lead_conversion",
        http_event(
            "POST",
            "/tenants/t1/leads/1/convert",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body="{}",
        ),
    )
    assert lead["statusCode"] == 401


def test_a_token_issued_long_ago_is_refused_without_waiting(env: Env):
    from datetime import timedelta

    from crmsync.models import utcnow
    from crmsync.tokens import issue_token

    env.tenant("t1")
    old = issue_token(env.store, "t1", name="old", now=utcnow() - timedelta(days=91))
    assert call("GET", "/tenants/t1/config", old)["statusCode"] == 401


def test_a_revoked_token_gets_401_on_its_next_request_and_the_others_keep_working(env: Env):
    from crmsync.tokens import hash_token, issue_token, list_tokens, revoke_token

    token = env.tenant("t1")
    extra = issue_token(env.store, "t1", name="ci")
    assert call("GET", "/tenants/t1/config", extra)["statusCode"] == 200
    (listed,) = [t for t in list_tokens(env.store, "t1") if t.name == "ci"]
    assert listed.token_id == hash_token(extra)[: len(listed.token_id)]
    revoke_token(env.store, "t1", listed.token_id)
    assert call("GET", "/tenants/t1/config", extra)["statusCode"] == 401  # no cache: at once
    assert call("GET", "/tenants/t1/config", token)["statusCode"] == 200
    assert [t.name for t in list_tokens(env.store, "t1")] == ["created with the tenant"]


def test_tokens_are_listed_and_revoked_per_tenant_only(env: Env):
    import pytest

    from crmsync.tokens import TokenNotFound, list_tokens, revoke_token

    env.tenant("t1")
    token_b = env.tenant("t2")
    (b_id,) = [t.token_id for t in list_tokens(env.store, "t2")]
    assert b_id not in {t.token_id for t in list_tokens(env.store, "t1")}
    with pytest.raises(TokenNotFound):
        revoke_token(env.store, "t1", b_id)
    assert call("GET", "/tenants/t2/config", token_b)["statusCode"] == 200


def test_only_the_hash_is_stored(env: Env):
    import boto3

    from crmsync.tokens import hash_token

    token = env.tenant("t1")
    items = boto3.client("dynamodb").scan(TableName=env.resources.sync_table_name)["Items"]
    dumped = json.dumps(items)
    assert token not in dumped and hash_token(token) in dumped


def test_a_token_from_before_expiry_existed_lasts_until_the_legacy_date(env: Env):
    from datetime import timedelta

    import boto3

    from crmsync import runtime
    from crmsync.tokens import LEGACY_TOKEN_EXPIRY, hash_token, list_tokens

    env.tenant("t1")
    legacy = "legacy-token-issued-before-names-and-expiry"
    boto3.client("dynamodb").put_item(  # the item issue_token wrote before this change
        TableName=env.resources.sync_table_name,
        Item={"PK": {"S": f"TOKEN#{hash_token(legacy)}"}, "SK": {"S": "TOKEN"}, "tenant_id": {"S": "t1"}},
    )
    ctx = runtime.context()
    ctx.clock = lambda: LEGACY_TOKEN_EXPIRY - timedelta(seconds=1)
    assert call("GET", "/tenants/t1/config", legacy)["statusCode"] == 200
    assert len(list_tokens(env.store, "t1")) == 1  # not listed: it has no listing entry
    ctx.clock = lambda: LEGACY_TOKEN_EXPIRY
    assert call("GET", "/tenants/t1/config", legacy)["statusCode"] == 401
