"""Sending signals to the SQS signals queue (the only producer path into the worker)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel


class EnqueueError(Exception):
    """Some signals could not be enqueued; the caller must not advance checkpoints or ack webhooks."""


class SignalQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self.url = queue_url
        self.sent = 0

    def send(self, signals: Iterable[BaseModel]) -> int:
        """Send in batches of 10 (the SQS maximum); raise if any message failed.

        Messages are ``Signal``s, or ``TransferPage``s of a bulk job (told apart by their ``kind``).
        """
        batch: list[BaseModel] = []
        count = 0
        for signal in signals:
            batch.append(signal)
            if len(batch) == 10:
                count += self._send_batch(batch)
                batch = []
        if batch:
            count += self._send_batch(batch)
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
