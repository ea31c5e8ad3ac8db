"""Fault injection settings of the Dataverse fake (``DataverseFaults``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DataverseFaults:
    """Faults a test switches on to exercise a client's error paths; all off by default.

    - ``fail_next_n``: ``(status, count)``: the next ``count`` authenticated API calls answer ``status``
      with a Dataverse-shaped error body and have no effect (429 adds ``Retry-After: 1``).
    - ``fail_after_commit_n``: ``(status, count)``: the next ``count`` writes happen, then answer ``status``
      (the classic "timed out, but it was written").
    - ``token_fail``: the next ``token_fail`` token requests answer 503 ``temporarily_unavailable``.
    - ``expire_delta_tokens``: every delta link is rejected as expired (forces the full-sync path),
      independently of ``change_tracking_expiry_days`` (a token's age on the fake's clock).
    - ``latency_s``: sleep before every authenticated API call (to hold requests in flight).
    """

    fail_next_n: tuple[int, int] | None = None
    fail_after_commit_n: tuple[int, int] | None = None
    token_fail: int = 0
    expire_delta_tokens: bool = False
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("fail_next_n", "fail_after_commit_n"):
            value = getattr(self, name)
            if value is not None:
                status, count = value
                if not 400 <= int(status) <= 599 or int(count) < 0:
                    raise ValueError(f"{name} must be (4xx/5xx status, count >= 0)")
                setattr(self, name, (int(status), int(count)))
        if self.token_fail < 0 or self.latency_s < 0:
            raise ValueError("token_fail and latency_s must not be negative")
