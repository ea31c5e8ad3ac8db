"""One rate budget per tenant connection, shared by every Lambda instance and every entry point.

The vendors' limits are per account or app, not per Lambda: HubSpot allows 100 (Free/Starter) or 190
(Professional/Enterprise) calls per rolling 10 s per private app and 250,000+ per day; e-conomic's token
bucket is reported per agreement and its fair-use policy is 50,000 calls per 24 h. So the budget lives in
DynamoDB, where all instances see it:

* one item per connection and UTC day holds the day's count, the current window's (``window_seconds``)
  and the previous window's; a take is one conditional update that checks and counts the window and
  the day together (no read-modify-write; the first take of a window moves "current" to "previous"
  in the same write);
* the previous window's count is weighed in as the rolling-window estimate
  ``previous * (1 - elapsed fraction) + current`` so a burst at a window's edge cannot double the rate
  (each instance reads it once per window);
* live changes may spend the whole window; bulk work (transfer pages, backfills) only ``bulk_share`` of
  it, so a salesperson's edit never queues behind a backfill;
* tokens are reserved in small chunks per instance (fewer DynamoDB writes; an unused rest expires with
  its window).

When the window is spent the caller waits for the next one if that is short, else gets a
``RateLimitedError`` (the signal or page goes back to the queue and is retried later). The vendor's own
headers are still honoured by ``connectors.http`` (pacer, ``Retry-After``): this budget keeps crmsync
from reaching them in the first place.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from crmsync.connectors.base import RateLimitedError


class Priority(StrEnum):
    LIVE = "live"
    BULK = "bulk"


class BudgetLimits(BaseModel):
    """A connection's limits (defaults per vendor in ``default_limits``); editable in the tenant config."""

    model_config = ConfigDict(extra="forbid")

    window_seconds: int = Field(ge=1, le=3600)
    calls_per_window: int = Field(ge=1)
    calls_per_day: int = Field(ge=1)
    bulk_share: float = Field(default=0.8, gt=0, le=1, description="share of each window bulk work may use")


def default_limits(kind: str) -> BudgetLimits:
    """HubSpot private app Free/Starter (100 / 10 s, 250,000 / day); e-conomic fair use (50,000 / day);
    Dataverse's service protection (6,000 requests per user per 300 s) with 40,000 a day, the per-user
    entitlement of a Dynamics 365 Enterprise licence (the entitlement depends on the licences: editable)."""
    if kind == "hubspot":
        return BudgetLimits(window_seconds=10, calls_per_window=100, calls_per_day=250_000)
    if kind == "dynamics":
        return BudgetLimits(window_seconds=300, calls_per_window=6_000, calls_per_day=40_000)
    return BudgetLimits(window_seconds=60, calls_per_window=1_000, calls_per_day=50_000)


class RateTake(StrEnum):
    GRANTED = "granted"
    WINDOW_SPENT = "window_spent"
    DAY_SPENT = "day_spent"


@dataclass(frozen=True)
class RateState:
    """A connection's counters for one UTC day: the day's count, the newest window and the one before."""

    today: int = 0
    window: int | None = None
    in_window: int = 0
    previous_window: int | None = None
    in_previous: int = 0

    def used_in(self, window: int) -> int:
        if window == self.window:
            return self.in_window
        return self.in_previous if window == self.previous_window else 0


@dataclass(frozen=True)
class RateAsk:
    """One take: ``amount`` calls in ``window`` (of UTC ``day``) unless a ceiling would be passed."""

    day: str
    window: int
    amount: int
    window_ceiling: int
    day_ceiling: int
    expires_at: int


class Counters(Protocol):
    """The store's side (``SyncStore.take_rate`` / ``rate_state``)."""

    def take_rate(self, key: str, ask: RateAsk) -> RateTake:
        """Count the ask in its window and its day, or neither (one conditional write)."""
        ...

    def rate_state(self, key: str, day: str) -> RateState: ...


class RateBudget:
    """``acquire()`` before every vendor call (``VendorHttp.gate``)."""

    def __init__(
        self,
        counters: Counters,
        key: str,
        limits: BudgetLimits,
        *,
        priority: Callable[[], Priority] = lambda: Priority.LIVE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 12.0,
        chunk: int | None = None,
    ) -> None:
        self.counters = counters
        self.key = key
        self.limits = limits
        self.priority = priority
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.chunk = chunk or max(1, min(10, limits.calls_per_window // 20))
        self._tokens = 0
        self._token_window = -1
        self._previous: tuple[int, int] = (-1, 0)  # (window, count), final once that window is over
        self.waited = 0.0
        self.taken = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:  # a connector may write from a few threads; the local tokens are shared
            self._acquire()

    def _acquire(self) -> None:
        while True:
            now = self.clock()
            window = int(now // self.limits.window_seconds)
            if self._tokens > 0 and self._token_window == window:
                self._tokens -= 1
                return
            granted = self._take(now, window)
            if granted:
                self._tokens, self._token_window = granted - 1, window
                return
            wait = (window + 1) * self.limits.window_seconds - now + 0.01
            if wait > self.max_wait:
                raise RateLimitedError(f"rate budget of {self.key} spent", retry_after=wait)
            self.waited += wait
            self.sleep(wait)

    def _ceiling(self, now: float, window: int) -> int:
        limit = self.limits.calls_per_window
        if self.priority() is Priority.BULK:
            limit = math.floor(limit * self.limits.bulk_share)
        if self._previous[0] != window - 1:
            state = self.counters.rate_state(self.key, self._day(window - 1))
            self._previous = (window - 1, state.used_in(window - 1))
        elapsed = (now % self.limits.window_seconds) / self.limits.window_seconds
        return limit - math.ceil(self._previous[1] * (1 - elapsed))

    def _day(self, window: int) -> str:
        """The UTC day a window starts in (its counters live in that day's item)."""
        return datetime.fromtimestamp(window * self.limits.window_seconds, UTC).strftime("%Y%m%d")

    def _take(self, now: float, window: int) -> int:
        ceiling = self._ceiling(now, window)
        expires = int(now) + 2 * 86400
        for amount in dict.fromkeys((self.chunk, 1)):
            if amount > ceiling:
                continue
            ask = RateAsk(self._day(window), window, amount, ceiling, self.limits.calls_per_day, expires)
            taken = self.counters.take_rate(self.key, ask)
            if taken is RateTake.GRANTED:
                self.taken += amount
                return amount
            if taken is RateTake.DAY_SPENT and amount == 1:
                tomorrow = (int(now) // 86400 + 1) * 86400
                raise RateLimitedError(f"daily quota of {self.key} spent", retry_after=tomorrow - now)
        return 0
