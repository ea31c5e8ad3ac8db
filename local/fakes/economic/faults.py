"""Fault injection and time control for the e-conomic fake: ``FakeClock``, ``EconomicFaults``, ``ScheduledFault``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Wall clock that stamps ``lastUpdated``; tests freeze or advance it to control second boundaries."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        base = self._frozen if self._frozen is not None else datetime.now(UTC)
        return base + self._offset

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen = (at or datetime.now(UTC)).astimezone(UTC)
        self._offset = timedelta(0)

    def unfreeze(self) -> None:
        self._frozen = None
        self._offset = timedelta(0)

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)


@dataclass
class EconomicFaults:
    """Random fault injection; everything is off by default and ``seed`` makes runs reproducible.

    Rates are probabilities (0..1) per API call (after authentication, the token bucket and routing) or
    per webhook call. A fault answered before the handler has no effect. Precedence within one call:
    429, 5xx, lost response (writes), timeout, timeout after commit (writes). A draw is made for each of
    429 and 5xx on every call and for lost responses on every write (as before), for the timeouts only
    when their rate is not 0. Every
    injected fault answer (random or ``inject``-ed) is counted in ``stats()["faults"]``.

    Seeding: API faults, webhook drop/duplicate, webhook reorder shuffles and random latency use separate
    ``random.Random`` streams seeded from ``seed`` (``seed``, ``seed+1``, ``seed+2``, ``seed+3``). They are
    reseeded by ``reset()`` and whenever faults are replaced (``fake.faults = ...`` or ``set_faults``), so
    a run that switches faults on after seeding is reproducible as long as its calls are sequential.
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    latency: float = 0.0
    """Fixed seconds added before every API call."""
    webhook_drop_rate: float = 0.0
    """Webhook calls never sent (no attempt, no retry); logged with ``dropped=True``."""
    webhook_duplicate_rate: float = 0.0
    """Webhook calls sent twice in a row (the second logged with ``duplicate=True``)."""
    lost_response_rate: float = 0.0
    """Writes that are committed but answered with 504, as if the response was lost on the way."""
    retry_after: float = 1.0
    """``Retry-After`` seconds sent with randomly injected 429s."""
    seed: int = 0
    rate_timeout: float = 0.0
    """Calls that hang ``timeout_s`` seconds and then answer 504 without any effect, so a client with a
    shorter timeout sees a read timeout (``stats()["timeouts"]``). The hang holds neither the fake's lock
    nor other requests (the server is threaded); an in-process ``WSGITransport`` client, which has no
    timeouts, waits ``timeout_s`` and gets the 504."""
    rate_timeout_after_commit: float = 0.0
    """Writes that are committed (2xx, cached under their Idempotency-Key) and then hang ``timeout_s``
    before a 504 (``stats()["timeouts_after_commit"]``): "timed out, but it was written"."""
    timeout_s: float = 35.0
    """How long an injected timeout hangs (default: longer than the connector's 30 s client timeout)."""
    latency_max_s: float = 0.0
    """Extra uniform random latency ``0..latency_max_s`` before every API call, on top of ``latency``
    (``stats()["slow_replies"]``, ``stats()["added_latency_s"]``)."""
    webhook_reorder: bool = False
    """Deliver the webhook calls queued when the delivery worker picks up work (a batch, as HubSpot's
    fake does with its POST batches) in a shuffled order (``stats()["webhooks"]["reordered"]`` counts
    batches whose order changed). Combine with ``webhook_delay_s`` to let calls pile up."""
    webhook_delay_s: float = 0.0
    """Hold the oldest queued webhook call back until it is this many seconds old; the calls queued by
    then go out with it as one batch (so a call waits at most this long, the first exactly this long;
    ``stats()["webhooks"]["delayed"]`` counts calls held back)."""

    def __post_init__(self) -> None:
        for name in (
            "rate_429",
            "rate_5xx",
            "lost_response_rate",
            "rate_timeout",
            "rate_timeout_after_commit",
            "webhook_drop_rate",
            "webhook_duplicate_rate",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        for name in ("latency", "latency_max_s", "timeout_s", "webhook_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass
class ScheduledFault:
    """A deterministic fault for the next matching call(s); see ``EconomicFake.inject``."""

    status: int
    remaining: int = 1
    retry_after: float | None = None
    method: str | None = None
    path_contains: str | None = None
    after_commit: bool = False
    hang_s: float | None = None
    """Seconds the reply hangs (outside the fake's lock) before the fault answer: an injected timeout
    (``None``: no timeout; ``0`` still counts as one)."""

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path_contains or self.path_contains.lower() in path.lower()
