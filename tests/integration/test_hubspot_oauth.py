"""A HubSpot public app (OAuth refresh token) as a connection: built by the registry, reading and writing
through the connector against the fake, its 30-minute access tokens renewed and shared, and a refused
refresh marking the connection ``needs_attention`` (issue 16 item 1)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest

from crmsync import runtime, service
from crmsync.config import TenantConfig
from crmsync.config_checks import secret_problem
from crmsync.connection_state import CONNECTION_FAILURES, connection_reason
from crmsync.connectors import hubspot_client
from crmsync.connectors.base import AuthError, WriteItem
from crmsync.connectors.hubspot import HubSpotAuth, HubSpotConnector
from crmsync.connectors.oauth import InMemoryTokenCache, RefreshTokenAuth
from crmsync.connectors.registry import ConnectionUnavailable, ConnectorProvider
from crmsync.models import ConnectionKind, ObjectType, required_secret_keys
from crmsync.settings import Settings
from local.fakes.hubspot import HubSpotFake
from tests.integration.conftest import Env

pytestmark = pytest.mark.timeout(60)

CLIENT_ID = "public-app-client-id"
CLIENT_SECRET = "public-app-client-secret"
REFRESH = "na1-public-app-refresh-token"
PUBLIC = {"refresh_token": REFRESH, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
API = "https://api.hubapi.com"
CUSTOMER = ObjectType.CUSTOMER


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def make_fake(clock: Clock, **kw: Any) -> HubSpotFake:
    return HubSpotFake(
        "pat-na1-never-used-here",
        clock=clock,
        client_secret=CLIENT_SECRET,
        oauth_client_id=CLIENT_ID,
        oauth_refresh_token=REFRESH,
        rate_limit_per_10s=None,
        search_rate_limit_per_s=None,
        search_index_lag_s=0,
        strict_spec=True,
        **kw,
    )


def config() -> TenantConfig:
    return TenantConfig.model_validate(
        {
            "tenant_id": "t1",
            "connections": [
                {"connection_id": "eco", "kind": "economic"},
                {"connection_id": "hs", "kind": "hubspot"},
            ],
        }
    )


def provider(fake: HubSpotFake, secret: dict[str, Any] | None = None) -> ConnectorProvider:
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    return ConnectorProvider(Settings(table_name="t"), lambda _name: dict(secret or PUBLIC), client)


def test_a_public_app_connection_reads_and_writes_and_renews_an_expired_token():
    clock = Clock()
    fake = make_fake(clock)
    hs = provider(fake).get(config(), "hs")  # builds and runs ensure_setup (custom properties)
    assert isinstance(hs, HubSpotConnector) and isinstance(hs._auth.inner, RefreshTokenAuth)
    (created,) = hs.write(CUSTOMER, [WriteItem(record_id="rec-1", fields={"name": "Fjordhuset A/S"})])
    assert created.ok and created.external_id
    assert fake.oauth_stats() == {"token_calls": 1, "refused": 0, "expired": 0}

    clock.now += 1800 + 120  # the fake's clock: the access token this instance holds has expired
    (updated,) = hs.write(
        CUSTOMER,
        [WriteItem(record_id="rec-1", external_id=created.external_id, fields={"name": "Fjordhuset ApS"})],
    )
    assert updated.ok
    assert [r.fields["name"] for r in hs.list_all(CUSTOMER)] == ["Fjordhuset ApS"]
    assert fake.oauth_stats() == {"token_calls": 2, "refused": 0, "expired": 1}, "renewed once, on the 401"
    assert fake.record("companies", created.external_id)["properties"]["name"] == "Fjordhuset ApS"
    assert fake.spec_violations == []


def test_a_token_due_for_renewal_is_renewed_before_hubspot_refuses_it():
    clock = Clock()
    fake = make_fake(clock)
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    auth = RefreshTokenAuth(
        CLIENT_ID,
        CLIENT_SECRET,
        REFRESH,
        token_url=f"{API}/oauth/v1/token",
        cache=InMemoryTokenCache(clock),
        cache_key="hs#test",
        client=client,
        clock=clock,
    )
    hs = HubSpotConnector("hs", auth=auth, client=client)
    hs.ensure_setup()
    clock.now += 1800 - 60  # inside the renewal margin (10 % of 30 minutes), still accepted
    assert list(hs.list_all(CUSTOMER)) == []
    assert fake.oauth_stats() == {"token_calls": 2, "refused": 0, "expired": 0}
    assert fake.stats()["unauthorized"] == 0


def test_two_containers_sharing_a_token_cache_make_one_token_call():
    clock = Clock()
    fake = make_fake(clock)
    fake.create("companies", {"name": "Vestkyst Is ApS"})
    shared = InMemoryTokenCache()
    first, second = provider(fake), provider(fake)
    for each in (first, second):
        each.token_cache_factory = lambda _tenant: shared
    names = [[r.fields["name"] for r in p.get(config(), "hs").list_all(CUSTOMER)] for p in (first, second)]
    assert names == [["Vestkyst Is ApS"], ["Vestkyst Is ApS"]]
    assert fake.oauth_stats()["token_calls"] == 1


def test_a_private_app_secret_still_builds_a_token_connector():
    clock = Clock()
    fake = make_fake(clock)
    hs = provider(fake, {"access_token": "pat-na1-never-used-here"}).get(config(), "hs")
    assert hs._auth.inner is None and list(hs.list_all(CUSTOMER)) == []
    assert fake.oauth_stats()["token_calls"] == 0


def test_a_refused_refresh_token_is_an_auth_error_naming_no_secret():
    fake = make_fake(Clock())
    with pytest.raises(AuthError) as caught:
        provider(fake, {**PUBLIC, "refresh_token": "na1-revoked-token"}).get(config(), "hs")
    error = caught.value
    assert error.status == 400 and error.code == "BAD_REFRESH_TOKEN"
    assert isinstance(error, CONNECTION_FAILURES), "the flow contains it to the connection"
    reason = connection_reason(error)
    assert "BAD_REFRESH_TOKEN" in reason and "invalid refresh token" in reason
    for secret in ("na1-revoked-token", CLIENT_SECRET, REFRESH):
        assert secret not in reason and secret not in str(error)


def test_rotation_within_one_instance_uses_the_new_token_and_warns_without_it(monkeypatch):
    warnings: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        hubspot_client.logger, "warning", lambda msg, *a, **kw: warnings.append((msg, kw.get("extra", {})))
    )
    clock = Clock()
    fake = make_fake(clock, rotate_refresh_tokens=True)
    hs = provider(fake).get(config(), "hs")
    for _ in range(2):
        clock.now += 1800 + 1
        assert list(hs.list_all(CUSTOMER)) == []  # each renewal needs the previous grant's refresh token
    assert fake.oauth_stats() == {"token_calls": 3, "refused": 0, "expired": 2}
    assert len(warnings) == 3 and all(extra == {"connection": "hs"} for _, extra in warnings)
    logged = json.dumps(warnings)
    for token in (REFRESH, *fake.refresh_tokens()):
        assert token not in logged

    # Not written back: another container, starting from the secret, holds a token HubSpot replaced.
    with pytest.raises(AuthError, match="BAD_REFRESH_TOKEN"):
        provider(fake).get(config(), "hs")


def test_hubspot_auth_fills_in_429_waits_around_an_inner_auth():
    class Inner(httpx.Auth):
        def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
            request.headers["Authorization"] = "Bearer from-inner"
            yield request

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(
            429,
            json={"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
            headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "2500"},
        )

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        response = client.get(f"{API}/crm/v3/objects/companies", auth=HubSpotAuth(inner=Inner()))
    assert seen == ["Bearer from-inner"] and response.headers["Retry-After"] == "2.5"
    for both_or_neither in ({}, {"access_token": "pat", "inner": Inner()}):
        with pytest.raises(ValueError, match="not both or neither"):
            HubSpotAuth(**both_or_neither)


def test_the_secret_keys_follow_the_kind_of_hubspot_app():
    hubspot = ConnectionKind.HUBSPOT
    assert required_secret_keys(hubspot, PUBLIC) == ("refresh_token", "client_id", "client_secret")
    assert required_secret_keys(hubspot, {"access_token": "pat"}) == ("access_token",)
    assert required_secret_keys(hubspot, {}) == ("access_token",)
    assert required_secret_keys(ConnectionKind.ECONOMIC, PUBLIC) == ConnectionKind.ECONOMIC.secret_keys

    def read(secret: dict[str, Any]) -> Any:
        return lambda _name: secret

    assert secret_problem(read(PUBLIC), "crmsync/t1/hs/test", "hs", hubspot) is None
    lacking = secret_problem(read({"refresh_token": REFRESH, "client_id": CLIENT_ID}), "n", "hs", hubspot)
    assert lacking is not None and lacking.endswith("lacks client_secret")
    assert (secret_problem(read({"client_id": CLIENT_ID}), "n", "hs", hubspot) or "").endswith(
        "lacks access_token"
    )

    fake = make_fake(Clock())
    with pytest.raises(ConnectionUnavailable, match="lacks client_id, client_secret"):
        provider(fake, {"refresh_token": REFRESH}).get(config(), "hs")
    assert fake.oauth_stats()["token_calls"] == 0, "no credential was sent anywhere"


# -- through the sync layer (moto, the served fakes) ------------------------------------------------


def test_a_revoked_public_app_marks_the_connection_needs_attention(env: Env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRETS_MAX_AGE", "0")  # a rewritten secret counts at once
    runtime.reset()
    env.economic.seed(1, contacts_per_customer=0, seed=4)
    env.tenant("t1")
    hubspot = env.hubspot
    public = {
        "refresh_token": hubspot.oauth_refresh_token,
        "client_id": hubspot.oauth_client_id,
        "client_secret": hubspot.oauth_client_secret,
    }
    env.secrets.put_secret_value(SecretId="crmsync/t1/hs/test", SecretString=json.dumps(public))
    hubspot.create("companies", {"name": "Vestkyst Is ApS"})
    ctx = runtime.context()

    assert service.pull(ctx).needs_attention == {}
    assert hubspot.oauth_stats()["token_calls"] == 1 and hubspot.stats()["reads"] > 0
    items = boto3.client("dynamodb").query(  # moto's, as the env's tables
        TableName=env.resources.sync_table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues={":pk": {"S": "TENANT#t1"}, ":sk": {"S": "OAUTH#hs#test#"}},
    )["Items"]
    assert len(items) == 1, "the access token is shared through the sync table"
    assert all(value not in json.dumps(items) for value in public.values()), "no secret is stored there"

    hubspot.revoke_oauth()  # the portal uninstalled the app
    ctx.forget_configs()
    report = service.pull(ctx)
    assert set(report.needs_attention) == {"t1/hs"}
    reason = report.needs_attention["t1/hs"]
    assert "BAD_REFRESH_TOKEN" in reason
    state = ctx.store.connection_states("t1", ["hs"])["hs"]
    assert state.needs_attention and state.error == "AuthError" and state.reason == reason
    for value in public.values():
        assert value not in reason
    assert hubspot.oauth_stats()["refused"] == 1
