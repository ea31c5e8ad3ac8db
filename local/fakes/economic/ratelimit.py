"""e-conomic's token bucket (one bucket shared by both APIs)."""

from __future__ import annotations

import math
import time


class _TokenBucket:
    """e-conomic's token bucket: ``limit`` tokens refilled evenly over ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.tokens = float(limit)
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.limit, self.tokens + (now - self._at) * self.limit / self.window)
        self._at = now

    def take(self, cost: int) -> float | None:
        """Spend ``cost`` tokens; returns None when allowed, else seconds until it would be."""
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return None
        return max(1.0, math.ceil((cost - self.tokens) * self.window / self.limit))

    def header(self) -> str:
        used = max(0, round(self.limit - self.tokens))
        window = int(self.window) if float(self.window).is_integer() else self.window
        return f"token-limit-{self.limit}-per-{window}-seconds: {used}/{self.limit}"
