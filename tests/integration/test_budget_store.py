"""The rate budget on DynamoDB (moto): conditional counters shared by instances, wired into the connectors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from crmsync import runtime
from crmsync.budget import BudgetLimits, Priority, RateAsk, RateBudget, RateState, RateTake
from crmsync.connectors.base import RateLimitedError
from crmsync.models import ObjectType
from tests.integration.conftest import Env


def test_store_counters_are_conditional_and_shared(env: Env):
    """The generic conditional counter (the mass-delete guard counts deletes per hour with it)."""
    key = "TENANT#t1#DELETES"
    assert env.store.take_budget(key, "h1", 5, 10, 2_000_000_000)
    assert env.store.take_budget(key, "h1", 5, 10, 2_000_000_000)
    assert not env.store.take_budget(key, "h1", 1, 10, 2_000_000_000), "the hour is spent"
    assert env.store.budget_used(key, "h1") == 10
    assert env.store.budget_used(key, "h2") == 0


def test_one_write_counts_a_window_and_its_day(env: Env):
    key, day, expires = "TENANT#t1#hs", "20261127", 2_000_000_000
    ops = env.store.ops
    assert env.store.take_rate(key, RateAsk(day, 100, 5, 10, 1_000, expires)) is RateTake.GRANTED
    assert env.store.ops - ops == 2, "the day's first take: the condition fails, then it opens the window"
    ops = env.store.ops
    assert env.store.take_rate(key, RateAsk(day, 100, 5, 10, 1_000, expires)) is RateTake.GRANTED
    assert env.store.ops - ops == 1, "a take in an open window: one conditional write"
    assert env.store.take_rate(key, RateAsk(day, 100, 1, 10, 1_000, expires)) is RateTake.WINDOW_SPENT
    assert env.store.take_rate(key, RateAsk(day, 101, 3, 10, 1_000, expires)) is RateTake.GRANTED
    assert env.store.rate_state(key, day) == RateState(
        today=13, window=101, in_window=3, previous_window=100, in_previous=10
    )
    assert env.store.take_rate(key, RateAsk(day, 103, 1, 10, 1_000, expires)) is RateTake.GRANTED
    state = env.store.rate_state(key, day)
    assert (state.used_in(103), state.used_in(102), state.used_in(101)) == (1, 0, 3)
    assert env.store.take_rate(key, RateAsk(day, 103, 5, 10, 16, expires)) is RateTake.DAY_SPENT
    assert env.store.take_rate(key, RateAsk(day, 102, 1, 10, 1_000, expires)) is RateTake.WINDOW_SPENT, (
        "a late clock"
    )
    assert env.store.rate_state(key, "20261128") == RateState(), "each day its own item"
    assert env.store.rate_state("TENANT#t2#hs", day) == RateState(), "and each tenant connection"


def test_an_instance_that_loses_the_race_to_open_a_window_adds_to_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    """Two instances find the window not open yet; the other opens it between this one's two writes.
    This one's opening write then fails its condition and it adds to the window instead: no count is
    overwritten. (The interleaving is forced: moto's in-process backend is not atomic under threads.)"""
    key, day = "TENANT#t1#hs", "20261127"
    assert env.store.take_rate(key, RateAsk(day, 7, 2, 100, 10_000, 2_000_000_000)) is RateTake.GRANTED
    call = env.store._call
    raced: list[str] = []

    def racing(op: str, **kwargs: Any) -> Any:
        if op == "update_item" and kwargs["UpdateExpression"].startswith("SET pw") and not raced:
            raced.append("the other instance opens window 8 with 4 calls")
            call(
                op,
                **{
                    **kwargs,
                    "ExpressionAttributeValues": {**kwargs["ExpressionAttributeValues"], ":n": {"N": "4"}},
                },
            )
        return call(op, **kwargs)

    monkeypatch.setattr(env.store, "_call", racing)
    ops = env.store.ops
    assert env.store.take_rate(key, RateAsk(day, 8, 3, 100, 10_000, 2_000_000_000)) is RateTake.GRANTED
    assert raced and env.store.ops - ops == 4, "add (fails), open (+ the other's), add"
    assert env.store.rate_state(key, day) == RateState(
        today=9, window=8, in_window=7, previous_window=7, in_previous=2
    )


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
    day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    assert env.store.rate_state("TENANT#t1#hs", day).used_in(int(now // 3600)) <= 30


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
    day = datetime.now(UTC).strftime("%Y%m%d")
    state = env.store.rate_state(f"TENANT#t1#{hubspot.connection_id}", day)
    assert state.today >= made, "every call took a token from the shared budget"
    assert state.window is not None and abs(state.window - time.time() // 10) <= 2
