"""What the sync worker does with each message of its queues; the handler only wires Powertools to it.

A message is one ``WorkMessage`` (``crmsync.messages``): a signal bundle or signal is reconciled, a push
request is pushed, a transfer page applied, a facts refresh run, the CRM journal's notes created, a drift report run. Each sets whose turn it is on the tenant connection's rate
budget: bulk work (pulled signals, transfer pages, a backfill's push retries) only its share.

A message that fails is handed back to SQS with its own retry delay (``signal_queue.retry_delay``:
backoff, never before the vendor's or the budget's ``retry_after``); on its last receive it is parked
with its reason (visible, replayable) and goes on to the DLQ at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from crmsync import drift, linking
from crmsync.budget import Priority
from crmsync.connection_state import transfer_page_contained, webhooks_handled
from crmsync.context import SyncContext
from crmsync.facts_refresh import handle_refresh
from crmsync.inbound import handle_bundle, handle_signal_contained, parse_signals, prefetch
from crmsync.journal_notes import write_notes
from crmsync.messages import (
    DriftRun,
    FactsRefresh,
    JournalNotes,
    PushRequest,
    TransferPage,
    WorkMessage,
    WorkRecord,
)
from crmsync.models import Signal, SignalBundle
from crmsync.outbound import push_requested
from crmsync.parking import park_message

MAX_RECEIVES = 5
"""The queues' ``maxReceiveCount`` (template.yaml; a test keeps them equal)."""


def begin(ctx: SyncContext, bodies: Iterable[str]) -> None:
    """A new invocation: fresh configs and caches, then one batch read of every signal's source."""
    ctx.forget_configs()
    ctx.priority = Priority.LIVE
    prefetch(ctx, parse_signals(bodies))


def handle(ctx: SyncContext, message: WorkMessage) -> list[str]:
    """Do what the message asks; returns the decisions taken (for the worker's metrics)."""
    if isinstance(message, PushRequest):
        ctx.priority = Priority.BULK if message.bulk else Priority.LIVE
        push_requested(ctx, message)
        return ["push"]
    if isinstance(message, FactsRefresh):
        report = handle_refresh(ctx, message)  # sets the priority by the message's lane
        return ["facts_skipped" if report.skipped else "facts"]
    if isinstance(message, DriftRun):
        drift.run(ctx, message.tenant_id)  # bulk priority
        return ["drift"]
    if isinstance(message, JournalNotes):
        write_notes(ctx, message)  # bulk priority
        return ["notes"]
    if isinstance(message, TransferPage):
        ctx.priority = Priority.BULK  # bulk work gets only its share of the rate budget
        page = message
        applied = transfer_page_contained(ctx, page, lambda: linking.apply_page(ctx, page))
        return ["transfer_page" if applied else "parked"]
    signals = message.signals if isinstance(message, SignalBundle) else [message]
    ctx.priority = Priority.BULK if all(s.source == "pull" for s in signals) else Priority.LIVE
    webhooks_handled(ctx, signals)
    if isinstance(message, Signal):
        return [handle_signal_contained(ctx, message).decision]
    return [outcome.decision for outcome in handle_bundle(ctx, message)]


def failed(
    ctx: SyncContext,
    message: WorkMessage,
    error: BaseException,
    *,
    receives: int,
    source_arn: str,
    receipt_handle: str,
) -> None:
    """The message failed: back after its retry delay, or parked and sent on after its last receive."""
    last = receives >= MAX_RECEIVES
    if ctx.queue is not None:  # back off (honouring the vendor's retry_after), not the 18-min timeout
        ctx.queue.retry_failed(source_arn, receipt_handle, receives, error, last=last)
    if last:
        park_message(ctx, message.model_dump(mode="json"), f"{type(error).__name__}: {error}")


def process(ctx: SyncContext, record: WorkRecord) -> list[str]:
    """``handle`` one SQS record; when it fails, ``failed`` sets its return (or parks it) and it raises,
    so Powertools reports it as a batch item failure."""
    try:
        return handle(ctx, record.body)
    except Exception as exc:
        receives = int(record.attributes.ApproximateReceiveCount or 1)
        failed(
            ctx,
            record.body,
            exc,
            receives=receives,
            source_arn=record.eventSourceARN,
            receipt_handle=record.receiptHandle,
        )
        raise
