"""The OAuth token cache on DynamoDB (moto): one lease holder, expired leases taken over, shared tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from crmsync.connectors.oauth import CachedToken, ClientCredentialsAuth
from crmsync.store.tokens_cache import TenantTokenCache, TokenCacheRepo
from local.template_resources import create_resources


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def repo() -> Iterator[TokenCacheRepo]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        resources = create_resources(dynamodb, boto3.client("sqs", region_name="eu-west-1"))
        yield TokenCacheRepo(dynamodb, resources.sync_table_name)


def test_only_one_holder_and_an_expired_lease_can_be_taken_over(repo: TokenCacheRepo) -> None:
    clock = Clock()
    cache = repo.token_cache("t1", clock)
    assert cache.try_lease("dv", "a", 30)
    assert cache.try_lease("dv", "a", 30), "the holder may extend its lease"
    assert not cache.try_lease("dv", "b", 30)
    cache.release("dv", "b")  # not b's: no effect
    assert not cache.try_lease("dv", "b", 30)
    assert repo.token_cache("t2", clock).try_lease("dv", "b", 30), "each tenant its own item"
    clock.now += 31
    assert cache.try_lease("dv", "b", 30), "a lease that ran out is taken over"
    assert not cache.try_lease("dv", "a", 30)
    cache.release("dv", "b")
    assert cache.try_lease("dv", "a", 30)


def test_tokens_are_shared_with_their_expiry_as_ttl(repo: TokenCacheRepo) -> None:
    clock = Clock()
    cache = repo.token_cache("t1", clock)
    assert cache.get("dv") is None
    assert cache.try_lease("dv", "a", 30)
    token = CachedToken(access_token="at-1", expires_at=clock.now + 4500.5, renew_at=clock.now + 4200)
    cache.put("dv", token, "a")
    cache.release("dv", "a")
    assert TenantTokenCache(repo, "t1", clock).get("dv") == token
    item: dict[str, Any] = repo._get("TENANT#t1", "OAUTH#dv") or {}
    assert item["ttl"]["N"] == str(int(clock.now + 4501)) and "holder" not in item
    assert repo.token_cache("t2", clock).get("dv") is None


def test_instances_share_one_token_through_dynamodb(repo: TokenCacheRepo) -> None:
    clock = Clock()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"access_token": f"at-{len(calls)}", "expires_in": 3700})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    auths = [
        ClientCredentialsAuth(
            "tenant-1",
            "client",
            "secret",
            "https://org.crm4.dynamics.com",
            cache=repo.token_cache("t1", clock),
            cache_key="dv",
            client=client,
            clock=clock,
        )
        for _ in range(3)
    ]
    assert [a.access_token() for a in auths] == ["at-1"] * 3 and len(calls) == 1
    clock.now += 3700 - 300
    assert auths[2].access_token() == "at-2" and auths[0].access_token() == "at-2" and len(calls) == 2
