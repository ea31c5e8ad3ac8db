"""The rate budget on DynamoDB (moto): conditional counters shared by instances, wired into the connectors."""

from __future__ import annotations

import time

import pytest

from crmsync import runtime
from crmsync.budget import BudgetLimits, Priority, RateBudget
from crmsync.connectors.base import RateLimitedError
from crmsync.models import ObjectType
from tests.integration.conftest import Env


def test_store_counters_are_conditional_and_shared(env: Env):
    key = "TENANT#t1#hs"
    assert env.store.take_budget(key, "w1", 5, 10, 2_000_000_000)
    assert env.store.take_budget(key, "w1", 5, 10, 2_000_000_000)
    assert not env.store.take_budget(key, "w1", 1, 10, 2_000_000_000), "the window is spent"
    assert env.store.budget_used(key, "w1") == 10
    assert env.store.budget_used(key, "w2") == 0


def test_two_instances_never_pass_the_window(env: Env):
    limits = BudgetLimits(window_seconds=3600, calls_per_window=30, calls_per_day=1_000)
    now = 7_200.0 * 1000
    gates = [
        RateBudget(env.store, "TENANT#t1#hs", limits, clock=lambda: now, max_wait=0.0, chunk=4)
        for _ in range(2)
    ]
    granted = 0
    with pytest.raises(RateLimitedError):
        for _ in range(40):
            for gate in gates:
                gate.acquire()
                granted += 1
    assert granted <= 30
    assert env.store.budget_used("TENANT#t1#hs", f"w{int(now // 3600)}") <= 30


def test_connectors_spend_the_tenant_budget(env: Env):
    env.tenant("t1")
    ctx = runtime.context()
    config = ctx.config("t1")
    hubspot = next(c for c in config.connections if c.kind.value == "hubspot")
    connector = ctx.connectors.get(config, hubspot.connection_id)
    assert connector.http.gate is not None
    before = connector.http.total_calls
    list(connector.list_all(ObjectType.CUSTOMER))
    made = connector.http.total_calls - before
    assert made >= 1
    ctx.priority = Priority.LIVE
    window = int(time.time() // 10)
    window_items = [
        env.store.budget_used(f"TENANT#t1#{hubspot.connection_id}", f"w{w}")
        for w in range(window - 2, window + 1)
    ]
    assert sum(window_items) >= made, "every call took a token from the shared budget"
