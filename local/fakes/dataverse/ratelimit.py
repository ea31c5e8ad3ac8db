"""Service protection limits: requests and execution time per 300 s sliding window, concurrency.

Facts (api-limits.md): per user (application users too), 6,000 requests / 300 s (``0x80072322``),
1,200,000 ms combined execution time / 300 s (``0x80072321``), 52 concurrent requests (``0x80072326``);
the Web API answers 429 with ``Retry-After`` (seconds). Tests configure tiny limits; ``None`` = off.
"""

from __future__ import annotations

import math
from collections import deque

from local.fakes.dataverse.errors import ApiError

WINDOW_S = 300.0
DEFAULT_REQUESTS = 6000
DEFAULT_EXECUTION_MS = 1_200_000


class RateLimitMixin:
    """Per-user windows. Each request costs ``execution_ms_per_request`` ms of execution time (a constant)."""

    def _limit_state(self, user: str) -> tuple[deque[float], deque[tuple[float, float]]]:
        return self._req_windows.setdefault(user, deque()), self._exec_windows.setdefault(user, deque())

    def _admit(self, user: str, cost: int = 1) -> dict[str, str]:
        """Count ``cost`` requests for ``user`` or raise the 429; returns the debug headers."""
        now = self.clock()
        requests, execution = self._limit_state(user)
        while requests and requests[0] <= now - WINDOW_S:
            requests.popleft()
        while execution and execution[0][0] <= now - WINDOW_S:
            execution.popleft()
        if self.concurrent_requests is not None and self._in_flight.get(user, 0) > self.concurrent_requests:
            self._rate_limited += 1
            raise ApiError(
                429,
                "0x80072326",
                f"Number of concurrent requests exceeded the limit of {self.concurrent_requests}.",
                {"Retry-After": "1"},
            )
        limit = self.requests_per_300s
        if limit is not None and len(requests) + cost > limit:
            self._rate_limited += 1
            wait = requests[0] + WINDOW_S - now if requests else WINDOW_S
            raise ApiError(
                429,
                "0x80072322",
                f"Number of requests exceeded the limit of {limit} over time window of 300 seconds.",
                {
                    "Retry-After": str(max(1, math.ceil(wait))),
                    "x-ms-ratelimit-burst-remaining-xrm-requests": "0",
                },
            )
        exec_limit = self.execution_ms_per_300s
        used_ms = sum(ms for _, ms in execution)
        if exec_limit is not None and used_ms >= exec_limit:
            self._rate_limited += 1
            wait = execution[0][0] + WINDOW_S - now if execution else WINDOW_S
            raise ApiError(
                429,
                "0x80072321",
                f"Combined execution time of incoming requests exceeded limit of {exec_limit:,} milliseconds over "
                "time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of "
                "requests and try again later.",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        for _ in range(cost):
            requests.append(now)
        execution.append((now, float(self.execution_ms_per_request * cost)))
        burst = (limit or DEFAULT_REQUESTS) - len(requests)
        time_left = (exec_limit or DEFAULT_EXECUTION_MS) - used_ms - self.execution_ms_per_request * cost
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(max(0, burst)),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{max(0.0, time_left):,.2f}",
        }
