"""Sending signals to the SQS signals queue (the only producer path into the worker)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from crmsync.models import Signal, SignalBundle

BUNDLE_SIZE = 100


class EnqueueError(Exception):
    """Some signals could not be enqueued; the caller must not advance checkpoints or ack webhooks."""


class SignalQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self.url = queue_url
        self.sent = 0

    def send(self, messages: Iterable[BaseModel]) -> int:
        """Send in batches of 10 messages (the SQS maximum); raise if any failed. Returns the items sent.

        ``Signal``s travel in ``SignalBundle``s of up to 100; other messages (push requests, transfer
        pages) one per message (told apart by their ``kind``).
        """
        bodies: list[tuple[BaseModel, int]] = []
        pending: list[Signal] = []
        for message in messages:
            if isinstance(message, Signal):
                pending.append(message)
                if len(pending) == BUNDLE_SIZE:
                    bodies.append((SignalBundle(signals=pending), len(pending)))
                    pending = []
            else:
                bodies.append((message, 1))
        if pending:
            bodies.append((SignalBundle(signals=pending), len(pending)))
        count = 0
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            self._send_batch([m for m, _ in chunk])
            count += sum(n for _, n in chunk)
        return count

    def _send_batch(self, batch: list[BaseModel]) -> int:
        entries = [{"Id": str(i), "MessageBody": s.model_dump_json()} for i, s in enumerate(batch)]
        try:
            response = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
        except Exception as exc:  # botocore errors and connection failures alike
            raise EnqueueError(f"send_message_batch failed: {type(exc).__name__}") from exc
        failed = response.get("Failed", [])
        if failed:
            raise EnqueueError(f"{len(failed)} of {len(batch)} signals not enqueued")
        self.sent += len(batch)
        return len(batch)

    def send_one_each(self, signals: Iterable[Signal]) -> int:
        """Each signal in its own message (a bundle's failures: retried, parked and DLQ'd one by one)."""
        bundles = [SignalBundle(signals=[s]) for s in signals]
        for start in range(0, len(bundles), 10):
            self._send_batch(list(bundles[start : start + 10]))
        return len(bundles)
