"""Per-tenant API request limit: one tenant (or a leaked token's holder) cannot starve the others.

The HTTP API's stage throttle (100 rps, burst 200 in ``template.yaml``) is shared by every tenant and
by unauthenticated junk. HTTP APIs have no usage plans, and REST API usage plans would need a second,
per-tenant API key while AWS documents their throttling and quotas as best-effort targets ("Don't rely
on usage plans to control costs or block access", AWS::ApiGateway::UsagePlan). So the stage throttle
stays the global ceiling and each tenant gets its own bucket, checked by ``api.screen_request`` right
after the bearer token is verified and before the body is read: a 401/403 never spends a tenant's
requests, and a tenant over its limit learns nothing about its body (429 before 400/415/422).

The bucket is the vendors' ``RateBudget`` (``crmsync.budget``) on key ``TENANT#<t>#API``: one
conditional UpdateItem per take, shared by every container of the api and lead_conversion functions,
the previous window weighed in so a burst at a window's edge cannot double the rate, and tokens
reserved ``chunk`` at a time per container (600 per window gives chunks of 10, so about one write per
ten requests; a container's unused rest expires with its window, so a tenant may be refused a few
requests early, never admitted past its limit). ``max_wait=0``: a request is never held, the caller
gets 429 and ``Retry-After``: whole seconds (at least 1) until the rolling estimate has room for one
more request (``seconds_until_admitted``, from the bucket's counters: one GetItem per refusal). Not
simply "the window's end": right after a full window the estimate still counts most of it, and a
client told to come back at the boundary would be refused again and told to wait a whole window.

Default: ``DEFAULT_REQUESTS_PER_MINUTE`` = 600 per 60 s window, 10 requests a second on average.
Every front-end call counts (the link screen's pages, config, conflicts and compare views, transfer
progress polls, mode switches, lead conversions from the CRM). A busy tenant with ten people in the
admin console and a transfer being polled every 2 s stays under ~200 a minute: 3x headroom. At the
limit, one tenant takes a tenth of the stage's 100 rps, so it takes ten tenants at their limits to
fill it; within one window a tenant may still burst its 600 (the stage throttle caps that at 100 rps,
a few seconds). Deployments override it with ``requests_per_minute`` (``admit``'s caller passes it
from its settings); tests install a small quota with a fake clock (``install``).

After a refusal the container answers that tenant from memory for ``REFUSAL_MEMO_SECONDS``, so a
tenant hammering a spent bucket costs at most a couple of failed conditional writes a second per
container instead of two per request.

Fail open: when DynamoDB cannot be reached for the take (throttled on the bucket's item, a timeout,
an outage), the request is served and a warning logged (tenant id and error type only, no request
data). The token was just verified, so only a known tenant is ever let through, and the stage
throttle still caps the total; refusing every tenant's requests because a counter is unavailable
would turn a metering problem into an outage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError

from crmsync.budget import BudgetLimits, Counters, RateBudget, RateState
from crmsync.connectors.base import RateLimitedError
from crmsync.store import StoreError

logger = Logger(child=True)

DEFAULT_REQUESTS_PER_MINUTE = 600
WINDOW_SECONDS = 60
REFUSAL_MEMO_SECONDS = 1.0


def quota_key(tenant_id: str) -> str:
    """The bucket's key: under the tenant, like its connections' budgets (``API`` is no connection id:
    those are lower case)."""
    return f"TENANT#{tenant_id}#API"


def retry_after_seconds(seconds: float | None) -> int:
    """``Retry-After`` is whole seconds; round up and never answer 0 (a client would retry at once)."""
    return max(1, math.ceil(seconds if seconds is not None else WINDOW_SECONDS))


def seconds_until_admitted(limits: BudgetLimits, state: RateState, now: float) -> float:
    """When ``RateBudget``'s rolling estimate next has room for one request (if nobody takes it first).

    The ceiling at elapsed fraction ``e`` of a window is ``limit - ceil(previous * (1 - e))``; a take
    fits while the window's count stays under it. With room left in this window that happens once
    ``previous`` has decayed enough; without, in the next window, where this one is the previous.
    Near midnight the previous window sits in yesterday's item, which ``state`` lacks: the answer is
    then a little early (a hint, and a second 429 costs the client little).
    """
    size, limit = limits.window_seconds, limits.calls_per_window
    window = int(now // size)
    start = window * size
    used, previous = state.used_in(window), state.used_in(window - 1)
    room = limit - used - 1  # how much of the previous window may still be weighed in
    if room >= 0:
        at = start + (size * (1 - room / previous) if previous > room else 0.0)
    else:
        at = start + size + (size * (1 - (limit - 1) / used) if used > limit - 1 else 0.0)
    return max(0.0, at - now + 0.01)  # past the instant, like RateBudget's own waits


class TenantRequestQuota:
    """The request buckets of one container, one ``RateBudget`` per tenant (kept for the local tokens)."""

    def __init__(
        self,
        counters: Counters,
        *,
        requests_per_window: int = DEFAULT_REQUESTS_PER_MINUTE,
        window_seconds: int = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self.limits = BudgetLimits(
            window_seconds=window_seconds,
            calls_per_window=requests_per_window,
            calls_per_day=requests_per_window * math.ceil(86400 / window_seconds),  # never the binding one
            bulk_share=1.0,
        )
        self.clock = clock
        self.failed_open = 0
        self.installed = False
        """Set by ``install``: kept whatever limit ``quota_for`` is asked for (a test's small quota)."""
        self._buckets: dict[str, RateBudget] = {}
        self._refused: dict[str, tuple[float, float]] = {}  # tenant -> (answer from memory until, retry at)

    @property
    def requests_per_window(self) -> int:
        return self.limits.calls_per_window

    def _bucket(self, tenant_id: str) -> RateBudget:
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            bucket = RateBudget(
                self.counters, quota_key(tenant_id), self.limits, clock=self.clock, max_wait=0
            )
            self._buckets[tenant_id] = bucket
        return bucket

    def _wait(self, tenant_id: str, now: float, refused: RateLimitedError) -> float:
        """Seconds until the tenant's next request fits; the budget's own answer (the window's end) if
        the counters cannot be read."""
        window_start = int(now // self.limits.window_seconds) * self.limits.window_seconds
        day = datetime.fromtimestamp(window_start, UTC).strftime("%Y%m%d")  # the item RateBudget counts in
        try:
            state = self.counters.rate_state(quota_key(tenant_id), day)
        except (StoreError, BotoCoreError):
            return (
                refused.retry_after if refused.retry_after is not None else float(self.limits.window_seconds)
            )
        return seconds_until_admitted(self.limits, state, now)

    def take(self, tenant_id: str) -> int | None:
        """Spend one request of the tenant's window: None when admitted, else ``Retry-After`` seconds."""
        now = self.clock()
        memo = self._refused.get(tenant_id)
        if memo is not None and now < memo[0]:
            return retry_after_seconds(memo[1] - now)
        try:
            self._bucket(tenant_id).acquire()
        except RateLimitedError as exc:
            wait = self._wait(tenant_id, now, exc)
            self._refused[tenant_id] = (now + min(wait, REFUSAL_MEMO_SECONDS), now + wait)
            return retry_after_seconds(wait)
        except (StoreError, BotoCoreError) as exc:
            self.failed_open += 1
            logger.warning(
                "tenant request limit not checked (store unavailable); request served",
                extra={"tenant": tenant_id, "error": type(exc).__name__},
            )
            return None
        self._refused.pop(tenant_id, None)
        return None


_current: tuple[Counters, TenantRequestQuota] | None = None
"""The container's quota and the store it was made for: a Lambda container has one context (and one
store), so one is kept; a rebuilt context (``runtime.reset``) gets a new one and the old is dropped."""


def quota_for(counters: Counters, requests_per_minute: int | None = None) -> TenantRequestQuota:
    """The container's quota over ``counters``: one ``install``-ed, else one of ``requests_per_minute``
    (the default when None), built once and kept (its local tokens save writes)."""
    global _current
    quota = _current[1] if _current is not None and _current[0] is counters else None
    if quota is not None and quota.installed:
        return quota
    wanted = None
    if requests_per_minute is not None:
        wanted = max(1, requests_per_minute * WINDOW_SECONDS // 60)
    if quota is None or (wanted is not None and quota.requests_per_window != wanted):
        quota = TenantRequestQuota(counters, requests_per_window=wanted or DEFAULT_REQUESTS_PER_MINUTE)
        _current = (counters, quota)
    return quota


def install(counters: Counters, quota: TenantRequestQuota) -> TenantRequestQuota:
    """Use ``quota`` for requests over ``counters`` (tests: a small limit and a fake clock)."""
    global _current
    quota.installed = True
    _current = (counters, quota)
    return quota
