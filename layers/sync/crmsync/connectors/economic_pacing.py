"""Pacing from e-conomic's token-bucket headers.

Slowing down before the bucket is empty is cheaper than running into 429s and waiting them out."""

from __future__ import annotations

import re

import httpx

_RATE_HEADER = re.compile(r"token-limit-(\d+)-per-(\d+)-seconds:\s*(\d+)\s*/\s*(\d+)")
PACE_RESERVE = 0.02
"""Keep this share of the token bucket in reserve (at least 5 calls' worth) before pausing."""


def economic_pacer(response: httpx.Response) -> float | None:
    """Honour ``X-RateLimiting`` (``token-limit-10000-per-60-seconds: 9950/10000``) and ``X-CallCost``.

    e-conomic's bucket refills ``limit`` tokens per ``window`` seconds. When what is left drops under the
    reserve, wait as long as the bucket needs to refill the shortfall at its average rate, so a worker
    slows down instead of running into 429s (a 429 without ``Retry-After`` waits the same way).
    """
    match = _RATE_HEADER.search(response.headers.get("X-RateLimiting", ""))
    if match is None:
        return None
    limit, window, used = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if limit <= 0:
        return None
    try:
        cost = max(1, int(response.headers.get("X-CallCost", "1")))
    except ValueError:
        cost = 1
    reserve = max(5 * cost, int(limit * PACE_RESERVE))
    shortfall = reserve - (limit - used)
    if response.status_code == 429:
        shortfall = max(shortfall, cost)
    if shortfall <= 0:
        return None
    return shortfall * window / limit
