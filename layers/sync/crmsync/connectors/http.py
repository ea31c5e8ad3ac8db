"""One HTTP session per vendor connection: retries, Retry-After, call accounting.

httpx retries only failed connects, and none of the project's dependencies retries on 429 with
``Retry-After``, so this small wrapper does it: bounded attempts, exponential backoff with full
jitter, the vendor's ``Retry-After`` honoured (capped so a Lambda never sleeps past its budget),
and 4xx other than 429/423 never retried. Error bodies are turned into typed errors by the
vendor-specific ``error_mapper``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from crmsync.connectors.base import RateLimitedError, TransientError, VendorError

RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504, 521, 522, 523, 524})

ErrorMapper = Callable[[httpx.Response], VendorError]
Pacer = Callable[[httpx.Response], float | None]
"""Reads a vendor's rate-limit headers; returns seconds to wait before the next call (None: go on)."""


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


class VendorHttp:
    """A thin httpx wrapper shared by the connectors (one per connection)."""

    def __init__(
        self,
        client: httpx.Client,
        error_mapper: ErrorMapper,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.error_mapper = error_mapper
        self.retry = retry or RetryPolicy()
        self.pacer = pacer
        self.gate: Callable[[], None] | None = None
        """Called before every attempt: the tenant connection's shared rate budget (``crmsync.budget``)."""
        self.paced_seconds = 0.0
        self.calls: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._local = threading.local()

    @property
    def last_response(self) -> httpx.Response | None:
        """This thread's last response (a connector may write from a few threads at once)."""
        return getattr(self._local, "response", None)

    @last_response.setter
    def last_response(self, response: httpx.Response | None) -> None:
        self._local.response = response

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200, 201, 204, 207),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; return the response when its status is in ``ok``, else raise."""
        attempt = 0
        while True:
            if self.gate is not None:
                self.gate()
            with self._count_lock:
                self.calls[method.upper()] += 1
            try:
                response = self.client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise TransientError(f"{method} {url}: {type(exc).__name__}") from exc
                self.retry.sleep(self.retry.backoff(attempt))
                attempt += 1
                continue
            self.last_response = response
            if response.status_code in ok:
                self._pace(response)
                return response
            if response.status_code in RETRY_STATUSES and attempt + 1 < self.retry.attempts:
                wait = retry_after_seconds(response)
                if wait is None and self.pacer is not None and response.status_code == 429:
                    wait = self.pacer(response)
                if wait is None:
                    wait = self.retry.backoff(attempt)
                self.retry.sleep(min(wait, self.retry.max_retry_after))
                attempt += 1
                continue
            error = self.error_mapper(response)
            if (
                response.status_code == 429
                and isinstance(error, RateLimitedError)
                and error.retry_after is None
            ):
                error.retry_after = self.pacer(response) if self.pacer else None
            if response.status_code == 429 and not isinstance(error, RateLimitedError):
                error = RateLimitedError(error.message, retry_after=retry_after_seconds(response))
            raise error

    def _pace(self, response: httpx.Response) -> None:
        """Slow down *before* the vendor says 429 when its headers show the budget nearly spent."""
        if self.pacer is None:
            return
        wait = self.pacer(response)
        if wait:
            wait = min(wait, self.retry.max_retry_after)
            with self._count_lock:
                self.paced_seconds += wait
            self.retry.sleep(wait)
