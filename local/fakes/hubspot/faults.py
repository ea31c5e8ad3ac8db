"""Fault injection settings of the HubSpot fake (``Faults``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """Fault injection; all off by default. Rates are probabilities (0..1) per API call / webhook event.

    API calls (authenticated ones; a fault decided before the handler has no effect and is not counted in
    ``calls``/``reads``/``writes``; every injected fault answer is counted in ``stats()["faults"]``):

    - ``rate_429``: a ``TEN_SECONDLY_ROLLING`` 429 (``Retry-After`` only with ``send_retry_after=True``)
      whose ``X-HubSpot-RateLimit-Interval-Milliseconds`` is ``rate_429_interval_ms`` (HubSpot: 10000;
      a chaos run shortens it to compress time, so clients still take their no-``Retry-After`` path).
    - ``rate_5xx``: a 500/502/503/504 ``INTERNAL_ERROR``.
    - ``rate_timeout``: the call hangs ``timeout_s`` seconds and then answers a 504 without any effect, so
      a client with a shorter timeout sees a read timeout (``stats()["timeouts"]``). Over a socket
      (``serve()``) the hang holds only that request's thread and never the fake's lock; an in-process
      ``WSGITransport`` client (which has no timeouts) simply waits ``timeout_s`` and gets the 504.
    - ``rate_5xx_after_commit`` (writes only): the write happens, then the caller sees a 504.
    - ``rate_timeout_after_commit`` (writes only): the write happens, then the reply hangs ``timeout_s``
      and is a 504 (``stats()["timeouts_after_commit"]``): the classic "timed out, but it was written".
    - ``latency_s`` (fixed) plus a uniform random ``0..latency_max_s`` (``stats()["slow_replies"]``,
      ``stats()["added_latency_s"]``) before every authenticated call.

    Precedence within one call: 429, then 5xx, then timeout; after commit: 5xx, then timeout. A draw is
    made only for a rate that is not 0, so switching a fault off leaves the others' sequence unchanged.

    Webhooks (only with a ``target_url``; every event is still recorded in ``events``):

    - ``webhook_drop_rate``: per event, decided when the request/UI edit that caused it commits. A dropped
      event is never POSTed, not even once, and never retried: it is lost for good, the way an event is
      after HubSpot exhausted its retries (``stats()["webhooks"]["dropped"]``).
    - ``webhook_duplicate_rate``: per event, decided at the same time; the event is queued twice with the
      same ``eventId`` (at-least-once delivery), usually in the same batch (``["duplicated"]``).
    - ``webhook_reorder``: the delivery worker takes up to 99 queued events per POST (a batch); with this
      on it shuffles each batch once before its first attempt (``["reordered"]`` counts batches whose
      order changed). Retries resend the batch in that order; events never move to another batch.
    - Independently of these faults, a batch whose POST fails (transport error or non-2xx) is retried
      until ``webhook_max_attempts`` attempts were made and then given up (``["given_up"]``).

    Seeding: API faults, webhook drop/duplicate, reorder shuffles and random latency use separate
    ``random.Random`` streams seeded from ``seed`` (``seed``, ``seed+1``, ``seed+2``, ``seed+3``). They are
    reseeded by ``reset()`` and whenever faults are replaced (``fake.faults = ...`` or
    ``fake.set_faults(...)``), so a run that switches faults on after seeding is reproducible as long as
    its calls are sequential (concurrent calls draw in arrival order).
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_5xx_after_commit: float = 0.0  # the write happens, then the caller sees a 504
    latency_s: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    seed: int = 0
    rate_timeout: float = 0.0  # hang timeout_s, then 504, nothing written
    rate_timeout_after_commit: float = 0.0  # the write happens, then hang timeout_s, then 504
    timeout_s: float = 35.0  # longer than the connectors' 30 s client timeout
    latency_max_s: float = 0.0  # extra uniform random latency per call
    rate_429_interval_ms: int = 10_000  # the interval header on injected 429s (HubSpot's window: 10 s)

    def __post_init__(self) -> None:
        for name in (
            "rate_429",
            "rate_5xx",
            "rate_5xx_after_commit",
            "rate_timeout",
            "rate_timeout_after_commit",
            "webhook_drop_rate",
            "webhook_duplicate_rate",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        for name in ("latency_s", "latency_max_s", "timeout_s", "rate_429_interval_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
