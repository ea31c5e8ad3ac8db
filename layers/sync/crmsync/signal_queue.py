"""Sending work to the worker's two SQS queues (the only producer path into the worker).

Two lanes, so one tenant's bulk work never holds back anyone's live edits:

* **live** (the signals queue): webhook signals, push requests, replays, sync-now — what a person is
  waiting for;
* **bulk** (the bulk queue, when the deployment has one): the scheduled pull's signals (a first pull is
  a backfill of every record), bulk transfer pages, and pushes re-queued by bulk work. Its event source
  mapping runs at most 2 worker invocations at a time (template.yaml), the live one up to 10.

Every message carries ``MessageGroupId`` = its tenant id. On a standard queue that makes it an SQS *fair
queue*: when one tenant has a backlog (a backfill, a flood of webhooks), SQS delivers quiet tenants'
messages first, so within a lane one tenant cannot starve another either. A message holds one tenant's
work only (signals are bundled per tenant and lane).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from crmsync.models import Signal, SignalBundle

BUNDLE_SIZE = 100
BULK_SOURCES = frozenset({"pull"})
"""Signal sources that are bulk work: a pull re-reads whatever changed, up to every record."""


RETRY_BASE_SECONDS = 30
"""First retry of a failed message after ~30 s, then 60, 120, 240 (jittered): the fifth failure parks
it after about 7.5 minutes of a vendor being down, instead of the queue's 18-minute visibility timeout
each time (72 minutes) or a local redelivery within seconds that spends the receives in one rate-limit
window (issue 14 item 9)."""
MAX_VISIBILITY_SECONDS = 43_200  # SQS's maximum visibility timeout (12 hours)
MAX_DELAY_SECONDS = 900  # SQS's maximum message delay (15 minutes)


def retry_delay(
    receive_count: int, retry_after: float | None, *, base: float = RETRY_BASE_SECONDS, jitter: float = 0.25
) -> int:
    """Seconds until a failed message is delivered again: exponential backoff by its receive count,
    at least what the vendor or the rate budget asked for (``retry_after``), with up to ``jitter``
    extra so retries of one burst do not come back together (a 429 storm)."""
    backoff = base * 2.0 ** max(0, receive_count - 1)
    wait = max(backoff, math.ceil(retry_after) + 1.0 if retry_after else 0.0)
    wait *= 1 + random.uniform(0, jitter)  # noqa: S311 - spreading retries, not security
    return min(MAX_VISIBILITY_SECONDS, max(1, math.ceil(wait)))


class EnqueueError(Exception):
    """Some signals could not be enqueued; the caller must not advance checkpoints or ack webhooks."""


def is_bulk(message: BaseModel) -> bool:
    """Does this message belong in the bulk lane? (Signals by source; other kinds by their ``bulk``.)"""
    if isinstance(message, Signal):
        return message.source in BULK_SOURCES
    if isinstance(message, SignalBundle):
        return all(is_bulk(s) for s in message.signals)
    if getattr(message, "kind", None) == "transfer_page":
        return True
    return bool(getattr(message, "bulk", False))


def is_bulk_body(body: object) -> bool:
    """``is_bulk`` of a message body as it travels (JSON): for moving DLQ messages back to their lane."""
    if not isinstance(body, dict):
        return False
    if body.get("kind") == "signals":
        signals = body.get("signals") or []
        return bool(signals) and all(isinstance(s, dict) and is_bulk_body(s) for s in signals)
    if body.get("kind") in ("transfer_page", "notes", "drift"):
        return True
    if body.get("kind") in ("push", "facts"):
        return body.get("bulk") is True
    return body.get("source") in BULK_SOURCES


def tenant_of(message: BaseModel) -> str:
    """The fair-queue group: the tenant whose work this is."""
    if isinstance(message, SignalBundle):
        return message.signals[0].tenant_id
    return str(getattr(message, "tenant_id", "") or "-")


class SignalQueue:
    def __init__(
        self, client: Any, queue_url: str, bulk_url: str = "", *, retry_base: float = RETRY_BASE_SECONDS
    ) -> None:
        self._sqs = client
        self.url = queue_url
        self.bulk_url = bulk_url or queue_url
        self.retry_base = retry_base
        self.sent = 0

    def retry_failed(
        self, source_arn: str, receipt_handle: str, receive_count: int, error: BaseException, *, last: bool
    ) -> int:
        """A message failed: bring it back after ``retry_delay`` (its ``retry_after`` honoured), or at
        once after its last attempt (SQS then moves it to the DLQ). Returns the seconds set."""
        retry_after = getattr(error, "retry_after", None)
        seconds = 0 if last else retry_delay(receive_count, retry_after, base=self.retry_base)
        self.retry_later(source_arn, receipt_handle, seconds)
        return seconds

    def retry_later(self, source_arn: str, receipt_handle: str, seconds: int) -> bool:
        """Set when a failed message comes back (``ChangeMessageVisibility`` on the queue it came from).

        Returns False when that did not work: the message then waits the queue's visibility timeout.
        """
        name = source_arn.rsplit(":", 1)[-1]
        url = next((u for u in (self.url, self.bulk_url) if u.rstrip("/").rsplit("/", 1)[-1] == name), None)
        if url is None:
            return False
        try:
            self._sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except Exception:  # botocore errors and connection failures alike: the queue's timeout applies
            return False
        return True

    def url_for(self, message: BaseModel) -> str:
        return self.bulk_url if is_bulk(message) else self.url

    def send(self, messages: Iterable[BaseModel]) -> int:
        """Send in batches of 10 messages (the SQS maximum); raise if any failed. Returns the items sent.

        ``Signal``s travel in ``SignalBundle``s of up to 100 of one tenant and lane; other messages (push
        requests, transfer pages) one per message (told apart by their ``kind``).
        """
        bodies: list[tuple[BaseModel, int]] = []
        pending: dict[tuple[str, bool], list[Signal]] = {}
        for message in messages:
            if isinstance(message, Signal):
                key = (message.tenant_id, is_bulk(message))
                bundle = pending.setdefault(key, [])
                bundle.append(message)
                if len(bundle) == BUNDLE_SIZE:
                    bodies.append((SignalBundle(signals=bundle), len(bundle)))
                    del pending[key]
            else:
                bodies.append((message, 1))
        bodies += [(SignalBundle(signals=signals), len(signals)) for signals in pending.values()]
        count = 0
        for url in dict.fromkeys(self.url_for(m) for m, _ in bodies):
            lane = [(m, n) for m, n in bodies if self.url_for(m) == url]
            for start in range(0, len(lane), 10):
                chunk = lane[start : start + 10]
                self._send_batch(url, [m for m, _ in chunk])
                count += sum(n for _, n in chunk)
        return count

    def _send_batch(self, url: str, batch: list[BaseModel], delay: int = 0) -> int:
        entries: list[dict[str, Any]] = [
            {"Id": str(i), "MessageBody": s.model_dump_json(), "MessageGroupId": tenant_of(s)}
            for i, s in enumerate(batch)
        ]
        if delay:
            for entry in entries:
                entry["DelaySeconds"] = min(MAX_DELAY_SECONDS, delay)
        try:
            response = self._sqs.send_message_batch(QueueUrl=url, Entries=entries)
        except Exception as exc:  # botocore errors and connection failures alike
            raise EnqueueError(f"send_message_batch failed: {type(exc).__name__}") from exc
        failed = response.get("Failed", [])
        if failed:
            raise EnqueueError(f"{len(failed)} of {len(batch)} signals not enqueued")
        self.sent += len(batch)
        return len(batch)

    def send_one_each(self, signals: Iterable[Signal], *, delay: int = 0) -> int:
        """Each signal in its own message (a bundle's failures: retried, parked and DLQ'd one by one),
        delivered after ``delay`` seconds (at most SQS's 900)."""
        bundles = [SignalBundle(signals=[s]) for s in signals]
        for url in dict.fromkeys(self.url_for(b) for b in bundles):
            lane = [b for b in bundles if self.url_for(b) == url]
            for start in range(0, len(lane), 10):
                self._send_batch(url, list(lane[start : start + 10]), delay)
        return len(bundles)
