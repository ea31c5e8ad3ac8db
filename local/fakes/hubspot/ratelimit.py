"""HubSpot's rate limits: the ten-secondly rolling window, the daily limit and the search limiter."""

from __future__ import annotations

import math
import uuid
from collections import deque
from datetime import UTC, datetime

from werkzeug.wrappers import Response


class RateLimitMixin:
    """Per-token rolling windows and daily counts, and the 429 bodies/headers HubSpot sends."""

    def _rate_limited(
        self, policy: str, correlation: str, retry_after: float, headers: dict[str, str]
    ) -> Response:
        messages = {
            "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
            "DAILY": "You have reached your daily limit.",
            "SECONDLY": "You have reached your secondly limit.",
        }
        body = {
            "status": "error",
            "message": messages[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": correlation,
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        }
        with self._lock:
            self._counters["rate_limited"] += 1
        if self.send_retry_after:
            headers = {**headers, "Retry-After": str(max(1, math.ceil(retry_after)))}
        return self._json_response(429, body, headers)

    def _check_rate_limit(
        self, token: str, is_search: bool, correlation: str, headers: dict[str, str]
    ) -> Response | None:
        now = self.clock()
        with self._lock:
            if is_search:
                if self.search_rate_limit_per_s is None:
                    return None
                window = self._search_windows.setdefault(token, deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= self.search_rate_limit_per_s:
                    wait = window[0] + 1.0 - now
                    return self._rate_limited("SECONDLY", correlation, wait, headers)
                window.append(now)
                return None
            day = datetime.fromtimestamp(now, UTC).date().isoformat()
            used_today = self._daily.get((token, day), 0)
            if self.daily_limit is not None and used_today >= self.daily_limit:
                return self._rate_limited("DAILY", correlation, 3600.0, headers)
            if self.rate_limit_per_10s is not None:
                window = self._windows.setdefault(token, deque())
                while window and window[0] <= now - 10.0:
                    window.popleft()
                if len(window) >= self.rate_limit_per_10s:
                    headers.update(self._limit_headers(0, used_today))
                    return self._rate_limited(
                        "TEN_SECONDLY_ROLLING", correlation, window[0] + 10.0 - now, headers
                    )
                window.append(now)
                remaining = self.rate_limit_per_10s - len(window)
            else:
                remaining = None
            self._daily[(token, day)] = used_today + 1
            headers.update(self._limit_headers(remaining, used_today + 1))
            return None

    def _limit_headers(self, remaining: int | None, used_today: int) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.rate_limit_per_10s is not None and remaining is not None:
            out["X-HubSpot-RateLimit-Max"] = str(self.rate_limit_per_10s)
            out["X-HubSpot-RateLimit-Remaining"] = str(remaining)
            out["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        if self.daily_limit is not None:
            out["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            out["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - used_today))
        return out
