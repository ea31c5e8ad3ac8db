"""Per-tenant API request limit (``crmsync/request_quota.py``) through the handlers, moto behind them.

A small quota (5 requests per 60 s window) with a fake clock is installed on the container's store,
so no test waits for a real window. Checked: a tenant over its limit gets 429 with ``Retry-After``
and the usual refusal body, another tenant is not affected, a wrong token spends nothing, the limit
comes before body validation (and is shared with lead conversion), the DynamoDB writes per request,
and the fail-open path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from crmsync import api, request_quota, runtime
from crmsync.budget import BudgetLimits, Counters, RateAsk, RateState, RateTake
from crmsync.request_quota import TenantRequestQuota, quota_key, seconds_until_admitted
from crmsync.store import StoreError
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

WINDOW = 60
LIMIT = 5
T0 = 1_800_000_000 // WINDOW * WINDOW + 45.0  # 45 s into a window: the window's end is 15 s away


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Counting:
    """The store's counters, with the takes (conditional UpdateItems) and state reads counted."""

    def __init__(self, inner: Counters) -> None:
        self.inner = inner
        self.takes = 0
        self.reads = 0

    def take_rate(self, key: str, ask: RateAsk) -> RateTake:
        self.takes += 1
        return self.inner.take_rate(key, ask)

    def rate_state(self, key: str, day: str) -> RateState:
        self.reads += 1
        return self.inner.rate_state(key, day)


class Unreachable:
    """Counters whose table cannot be reached (throttled, or no network)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def take_rate(self, key: str, ask: RateAsk) -> RateTake:
        self.calls += 1
        raise self.error

    def rate_state(self, key: str, day: str) -> RateState:
        self.calls += 1
        raise self.error


def small_quota(counters: Counters | None = None, clock: Clock | None = None, limit: int = LIMIT) -> Any:
    """Install a quota of ``limit`` per window on the handlers' container; returns (quota, counters)."""
    store = runtime.context().store
    counting = Counting(store) if counters is None else counters
    quota = TenantRequestQuota(
        counting, requests_per_window=limit, window_seconds=WINDOW, clock=clock or Clock()
    )
    request_quota.install(store, quota)
    return quota, counting


def call(
    tenant: str, token: str | None, *, method: str = "GET", path: str = "config", body: str | None = None
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = invoke("api", http_event(method, f"/tenants/{tenant}/{path}", headers=headers, body=body))
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def assert_429(response: dict[str, Any], retry_after: int | None = None) -> None:
    assert response["statusCode"] == 429, response
    header = response["headers"]["Retry-After"]
    assert header.isdigit() and int(header) >= 1
    if retry_after is not None:
        assert int(header) == retry_after
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["json"]["statusCode"] == 429
    assert "too many requests" in response["json"]["message"]


def test_a_tenant_over_its_limit_gets_429_with_retry_after_and_the_refusal_body(env: Env):
    token = env.tenant("tenant-a")
    clock = Clock()
    small_quota(clock=clock)
    for _ in range(LIMIT):
        assert call("tenant-a", token)["statusCode"] == 200
    over = call("tenant-a", token)
    # The window held 5 and the one before none: the estimate has room again 12 s into the next
    # window (5 * (1 - 0.2) = 4 < 5), i.e. 15 + 12 s from now.
    assert_429(over, retry_after=28)
    assert set(over["json"]) == {"statusCode", "message"}  # same shape as the 401/413 refusals
    assert call("tenant-a", token)["statusCode"] == 429

    clock.now += 28  # honour Retry-After: the next request is admitted, the one after it is not
    assert call("tenant-a", token)["statusCode"] == 200
    assert_429(call("tenant-a", token))


def test_another_tenant_is_served_while_one_is_refused(env: Env):
    token_a = env.tenant("tenant-a")
    token_b = env.tenant("tenant-b")
    small_quota()
    for _ in range(LIMIT):
        assert call("tenant-a", token_a)["statusCode"] == 200
    assert_429(call("tenant-a", token_a))
    for _ in range(LIMIT):
        got = call("tenant-b", token_b)
        assert got["statusCode"] == 200 and got["json"]["tenant_id"] == "tenant-b"
    assert_429(call("tenant-a", token_a))
    assert_429(call("tenant-b", token_b))  # b has the same limit, counted on its own


def test_wrong_or_missing_tokens_spend_nothing(env: Env):
    token_a = env.tenant("tenant-a")
    token_b = env.tenant("tenant-b")
    _, counting = small_quota()
    for _ in range(3 * LIMIT):
        assert call("tenant-a", "forged-token")["statusCode"] == 401
        assert call("tenant-a", None)["statusCode"] == 401
        assert call("tenant-a", token_b)["statusCode"] == 403  # b's valid token, a's path
    assert counting.takes == 0 and counting.reads == 0
    for _ in range(LIMIT):  # a still has its whole window
        assert call("tenant-a", token_a)["statusCode"] == 200
    assert_429(call("tenant-a", token_a))


def test_the_limit_comes_before_body_validation(env: Env):
    token = env.tenant("tenant-a")
    small_quota()
    invalid = json.dumps({"not": "a config"})
    assert call("tenant-a", token, method="PUT", body=invalid)["statusCode"] == 422  # counts too
    for _ in range(LIMIT - 1):
        assert call("tenant-a", token)["statusCode"] == 200
    assert_429(call("tenant-a", token, method="PUT", body=invalid))
    assert_429(call("tenant-a", token, method="PUT", body="[" * 5000))  # would be a 400 (too deep)
    # lead conversion shares the tenant's bucket and screen
    lead = invoke(
        "lead_conversion",
        http_event(
            "POST",
            "/tenants/tenant-a/leads/123/convert",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=json.dumps({"unknown": True}),
        ),
    )
    lead["json"] = json.loads(lead["body"])
    assert_429(lead)


def test_writes_per_request_are_one_take_per_chunk_and_a_flood_costs_little(env: Env):
    token = env.tenant("tenant-a")
    clock = Clock()
    quota, counting = small_quota(clock=clock, limit=request_quota.DEFAULT_REQUESTS_PER_MINUTE)
    updates: list[str] = []  # every UpdateItem the container sends (the api handler writes nothing else here)
    runtime.context().store._db.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem",
        lambda params, **_: updates.append(params["Key"]["PK"]["S"]),
    )
    for _ in range(50):
        assert call("tenant-a", token)["statusCode"] == 200
    # 600 per window: tokens are taken 10 at a time, and the previous window is read once.
    assert counting.takes == 5 and counting.reads == 1
    # the window's first take opens it (a failed condition, then the opening write): 6 writes, 50 requests
    assert updates == ["TENANT#tenant-a#API#BUDGET"] * 6
    assert quota._buckets["tenant-a"].taken == 50

    # Spend the rest of the window, then flood: refusals are answered from memory for a second.
    for _ in range(request_quota.DEFAULT_REQUESTS_PER_MINUTE - 50):
        assert quota.take("tenant-a") is None
    takes, reads = counting.takes, counting.reads
    for _ in range(100):
        assert_429(call("tenant-a", token))
    assert counting.takes - takes <= 2 and counting.reads - reads == 1
    clock.now += request_quota.REFUSAL_MEMO_SECONDS
    assert_429(call("tenant-a", token))
    assert counting.reads - reads == 2  # asked the table again after the memo ran out


@pytest.mark.parametrize(
    "error",
    [
        StoreError("update_item: ProvisionedThroughputExceededException"),
        EndpointConnectionError(endpoint_url="x"),
    ],
)
def test_fail_open_when_the_counters_cannot_be_reached(error: Exception):
    unreachable = Unreachable(error)
    quota = TenantRequestQuota(unreachable, requests_per_window=1, clock=Clock())
    for _ in range(3):  # over the limit of 1, still admitted: the counter is down, not the tenant
        assert quota.take("tenant-a") is None
    assert unreachable.calls >= 3 and quota.failed_open == 3


def test_fail_open_through_the_handler(env: Env):
    token = env.tenant("tenant-a")
    unreachable = Unreachable(StoreError("update_item: ThrottlingException"))
    quota, _ = small_quota(counters=unreachable, limit=1)
    for _ in range(3):
        got = call("tenant-a", token)
        assert got["statusCode"] == 200 and got["json"]["tenant_id"] == "tenant-a"
    assert quota.failed_open == 3


def test_no_quota_no_limit_and_non_tenant_routes_are_unaffected(env: Env):
    token = env.tenant("tenant-a")
    _, counting = small_quota(limit=1)
    assert invoke("api", http_event("GET", "/openapi.json"))["statusCode"] == 200
    assert counting.takes == 0
    event = http_event("GET", "/tenants/tenant-a/config", headers={"Authorization": f"Bearer {token}"})
    for _ in range(3):  # screen_request without a quota (e.g. a caller that does not meter) admits
        assert api.screen_request(event, env.store).refusal is None


def test_the_handlers_default_quota_is_per_container_and_overridable(env: Env):
    store = runtime.context().store
    default = request_quota.quota_for(store)
    assert default.requests_per_window == request_quota.DEFAULT_REQUESTS_PER_MINUTE
    assert request_quota.quota_for(store) is default  # kept: its local tokens save writes
    assert request_quota.quota_for(store, 120).requests_per_window == 120
    small, _ = small_quota()
    assert request_quota.quota_for(store, 600) is small  # an installed quota wins over the setting
    runtime.reset()
    assert request_quota.quota_for(runtime.context().store) is not default


LIMITS = BudgetLimits(window_seconds=60, calls_per_window=10, calls_per_day=10_000)
START = 1_800_000_000 // 60 * 60.0


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        # this window full, the previous one empty: in the next, once 10 * (1 - e) <= 9 (6 s in)
        (RateState(window=30_000_000, in_window=10), START + 30, 36.01),
        # room in this window but the previous one still weighs: 8 used, previous 10 -> 10*(1-e) <= 1
        (RateState(window=30_000_000, in_window=8, previous_window=29_999_999, in_previous=10), START, 54.01),
        # already room (another container's chunk ran out unused, say): come back at once
        (RateState(window=30_000_000, in_window=2), START + 10, 0.0),
    ],
)
def test_seconds_until_admitted(state: RateState, now: float, expected: float):
    assert now // 60 == 30_000_000
    assert seconds_until_admitted(LIMITS, state, now) == pytest.approx(expected)


def test_quota_key_sits_under_the_tenant():
    assert quota_key("acme") == "TENANT#acme#API"


def test_the_deployments_limit_reaches_the_handlers_from_the_template(monkeypatch) -> None:
    """template.yaml's ApiTenantRequestsPerMinute -> API_TENANT_REQUESTS_PER_MINUTE -> Settings."""
    from crmsync.settings import Settings
    from local.template_resources import load_template

    template = load_template("template.yaml")
    assert template["Parameters"]["ApiTenantRequestsPerMinute"]["Default"] == 600
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["API_TENANT_REQUESTS_PER_MINUTE"] == {"Ref": "ApiTenantRequestsPerMinute"}
    env = {"TABLE_NAME": "t"}
    assert (
        Settings.from_env({**env, "API_TENANT_REQUESTS_PER_MINUTE": "42"}).api_tenant_requests_per_minute
        == 42
    )
    assert Settings.from_env(env).api_tenant_requests_per_minute is None
