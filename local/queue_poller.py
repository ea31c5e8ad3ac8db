"""Lambda's SQS event source mappings, played locally (the worker's live and bulk queues).

What it keeps from AWS, because crmsync's behaviour depends on it:

* **batches**: up to the mapping's ``BatchSize`` messages per invocation (10 per receive), with
  partial batch failures: a failed message stays on the queue and comes back after its visibility
  timeout, its receive count rising, until the queue's redrive moves it to the DLQ;
* **concurrency**: a mapping runs at most ``ScalingConfig.MaximumConcurrency`` invocations at a time.
  Locally invocations run one after another, so the stack pumps in *waves*: each wave gives every
  mapping up to that many batches. A bulk backlog then delays live messages by at most one wave of
  bulk batches, as on Lambda where the mappings run side by side;
* **fair queues**: messages carry ``MessageGroupId`` = tenant; SQS delivers a quiet tenant's messages
  before a noisy tenant's backlog. The poller holds up to ``HOLD_LIMIT`` received messages (invisible,
  received once, exactly as a delivery counts on SQS) and fills each batch by taking one message per
  group in turn (``fair_pick``), so one tenant's backlog cannot hold back another's messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from local.template_resources import SqsEventSpec

HOLD_LIMIT = 100
"""Messages the poller looks ahead to choose a fair batch from (10 receives)."""
DEFAULT_CONCURRENCY = 10
"""Batches per wave for a mapping without ``MaximumConcurrency`` (a few; Lambda would scale out)."""
RETRY_VISIBILITY = 1
"""Seconds before a failed message is visible again, unless the worker set its own timeout."""


def signals_in(body: str) -> int:
    """How many signals a queue message carries (a ``SignalBundle`` holds up to 100)."""
    try:
        message = json.loads(body)
    except ValueError:
        return 1
    if isinstance(message, dict) and message.get("kind") == "signals":
        return len(message.get("signals") or [])
    return 1


def fair_pick(held: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Remove and return up to ``size`` messages: one per ``MessageGroupId`` in turn, oldest first.

    Groups take turns in the order their oldest message arrived; a message without a group is a group
    of its own (as on SQS fair queues).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for message in held:
        group = (message.get("Attributes") or {}).get("MessageGroupId") or message["MessageId"]
        groups.setdefault(group, []).append(message)
    picked: list[dict[str, Any]] = []
    while len(picked) < size and groups:
        for group in list(groups):
            picked.append(groups[group].pop(0))
            if not groups[group]:
                del groups[group]
            if len(picked) == size:
                break
    chosen = {id(m) for m in picked}
    held[:] = [m for m in held if id(m) not in chosen]
    return picked


class QueuePoller:
    """One SQS event source mapping: receives, holds and settles the messages of one queue."""

    def __init__(
        self,
        sqs: Any,
        url: str,
        arn: str,
        source: SqsEventSpec,
        as_function: Callable[[], AbstractContextManager[Any]],
        set_by_function: Callable[[str], bool] = lambda handle: False,
    ) -> None:
        self.sqs = sqs
        self.url = url
        self.arn = arn
        self.source = source
        self.as_function = as_function
        """The function's role: Lambda's poller receives and deletes with it."""
        self.set_by_function = set_by_function
        """Did the function set this message's visibility itself (its retry delay)? Then it stands."""
        self.held: list[dict[str, Any]] = []

    @property
    def concurrency(self) -> int:
        return self.source.maximum_concurrency or DEFAULT_CONCURRENCY

    def next_batch(self) -> list[dict[str, Any]]:
        """Up to ``BatchSize`` messages for one invocation, chosen fairly among tenants; [] when none."""
        while len(self.held) < HOLD_LIMIT:
            with self.as_function():
                got = self.sqs.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=10,
                    AttributeNames=["All"],
                    MessageSystemAttributeNames=["All"],
                    WaitTimeSeconds=0,
                ).get("Messages", [])
            if not got:
                break
            self.held += got
        return fair_pick(self.held, self.source.batch_size)

    def settle(self, messages: list[dict[str, Any]], failed: set[str], *, crashed: bool = False) -> None:
        """Delete what succeeded. What failed comes back when the function said (it sets a retry delay
        with ChangeMessageVisibility), else after ``RETRY_VISIBILITY`` (the queue's 18 minutes, shortened);
        after a crash always the latter (a killed invocation sets nothing)."""
        for m in messages:
            if m["MessageId"] in failed and (crashed or not self.set_by_function(m["ReceiptHandle"])):
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=RETRY_VISIBILITY
                )
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            with self.as_function():
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )

    def give_back(self, messages: list[dict[str, Any]]) -> None:
        """A crashed invocation acknowledges nothing: all of its messages come back."""
        self.settle(messages, {m["MessageId"] for m in messages}, crashed=True)
