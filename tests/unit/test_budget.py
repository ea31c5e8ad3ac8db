"""The shared rate budget: windows, the rolling estimate, live before bulk, the daily quota."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crmsync.budget import (
    BudgetLimits,
    Priority,
    RateAsk,
    RateBudget,
    RateState,
    RateTake,
    default_limits,
)
from crmsync.connectors.base import RateLimitedError


class MemoryCounters:
    """The store's day items, in memory (same contract as ``SyncStore.take_rate``)."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, str], RateState] = {}
        self.windows: dict[tuple[str, int], int] = {}  # every window's final count, for the assertions
        self.writes = 0

    def take_rate(self, key: str, ask: RateAsk) -> RateTake:
        self.writes += 1
        state = self.days.get((key, ask.day), RateState())
        if state.today + ask.amount > ask.day_ceiling:
            return RateTake.DAY_SPENT
        if state.window == ask.window:
            if state.in_window + ask.amount > ask.window_ceiling:
                return RateTake.WINDOW_SPENT
            state = replace(state, today=state.today + ask.amount, in_window=state.in_window + ask.amount)
        elif state.window is not None and state.window > ask.window:
            return RateTake.WINDOW_SPENT
        else:
            state = RateState(state.today + ask.amount, ask.window, ask.amount, state.window, state.in_window)
        self.days[(key, ask.day)] = state
        self.windows[(key, ask.window)] = state.in_window
        return RateTake.GRANTED

    def rate_state(self, key: str, day: str) -> RateState:
        return self.days.get((key, day), RateState())


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


LIMITS = BudgetLimits(window_seconds=10, calls_per_window=100, calls_per_day=1_000, bulk_share=0.8)


def budget(counters: MemoryCounters, clock: Clock, priority: Priority = Priority.LIVE, **kw) -> RateBudget:
    limits = kw.pop("limits", LIMITS)
    return RateBudget(
        counters, "TENANT#t#hs", limits, priority=lambda: priority, clock=clock, sleep=clock.sleep, **kw
    )


def calls_in_window(counters: MemoryCounters, clock: Clock) -> int:
    return counters.windows.get(("TENANT#t#hs", int(clock.now // 10)), 0)


def test_instances_share_one_window_and_never_pass_the_limit():
    counters, clock = MemoryCounters(), Clock()
    a, b = budget(counters, clock), budget(counters, clock)
    for _ in range(45):
        a.acquire()
        b.acquire()
    assert calls_in_window(counters, clock) <= 100
    assert clock.slept == [], "90 calls fit into one window"
    for _ in range(20):
        a.acquire()
    assert clock.slept, "the 101st call of the window waits for the next one"
    assert len(counters.windows) >= 2 and all(v <= 100 for v in counters.windows.values())


def test_chunks_save_store_writes():
    counters, clock = MemoryCounters(), Clock()
    gate = budget(counters, clock)
    for _ in range(50):
        gate.acquire()
    assert counters.writes <= 50 / gate.chunk + 1, "one write per chunk counts the window and the day"


def test_bulk_gets_its_share_and_live_still_goes():
    counters, clock = MemoryCounters(), Clock()
    bulk = budget(counters, clock, Priority.BULK, max_wait=0.0)
    with pytest.raises(RateLimitedError) as spent:
        for _ in range(200):
            bulk.acquire()
    assert spent.value.retry_after is not None and spent.value.retry_after <= 10.1
    assert 75 <= calls_in_window(counters, clock) <= 80
    live = budget(counters, clock, Priority.LIVE)
    for _ in range(15):
        live.acquire()
    assert clock.slept == [], "a live change is not queued behind the backfill"


@pytest.mark.parametrize(
    "window_end",
    [
        pytest.param(1_000_010.0, id="within-a-day"),
        # each day's item holds that day's windows: the one before midnight is in yesterday's
        pytest.param(86_400.0 * 20_000, id="at-midnight"),
    ],
)
def test_rolling_estimate_stops_a_double_burst_at_the_window_edge(window_end: float):
    counters, clock = MemoryCounters(), Clock(window_end - 1)  # 1 s before the window ends
    gate = budget(counters, clock, max_wait=0.0, chunk=1)
    for _ in range(100):
        gate.acquire()
    clock.now = window_end + 0.5  # just into the next window: 95 % of the last window still counts
    taken = 0
    with pytest.raises(RateLimitedError):
        for _ in range(100):
            gate.acquire()
            taken += 1
    assert taken <= 10, f"{taken} calls right after a full window"


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param(1, id="one-by-one"),
        # a chunk that does not fit the day's rest does not waste it: the last calls go one at a time
        pytest.param(5, id="chunks"),
    ],
)
def test_daily_quota_raises_with_retry_tomorrow(chunk: int):
    counters, clock = MemoryCounters(), Clock()
    limits = BudgetLimits(window_seconds=10, calls_per_window=1_000, calls_per_day=32)
    gate = budget(counters, clock, limits=limits, chunk=chunk)
    for _ in range(32):
        gate.acquire()
    with pytest.raises(RateLimitedError, match="daily") as spent:
        gate.acquire()
    assert spent.value.retry_after is not None and 0 < spent.value.retry_after <= 86_400
    assert gate.taken == 32


def test_vendor_defaults():
    hubspot, economic = default_limits("hubspot"), default_limits("economic")
    assert (hubspot.window_seconds, hubspot.calls_per_window, hubspot.calls_per_day) == (10, 100, 250_000)
    assert economic.calls_per_day == 50_000
