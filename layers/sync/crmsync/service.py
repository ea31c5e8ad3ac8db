"""The sync layer's entry points, for the Lambda handlers: one import, the whole flow behind it.

The flow lives in modules named after it: ``inbound`` (signal -> reconcile), ``identity`` (renumbers,
merges, reused numbers, exact links), ``outbound`` (push) with ``write_back`` (bases and links after a
write), ``pull`` (the scheduled pull), ``parking`` (park and replay), ``connection_state`` (a broken
tenant connection stays with it) and ``context`` (the unit of work and its per-invocation caches).
"""

from __future__ import annotations

from crmsync.connection_state import PROBE_MAX_MINUTES, transfer_page_contained
from crmsync.context import MAX_LOCK_RETRIES, SyncContext, UnknownTenant
from crmsync.inbound import (
    SignalOutcome,
    handle_bundle,
    handle_signal,
    handle_signal_contained,
    parse_signals,
    prefetch,
    sync_now,
)
from crmsync.items import NEEDS_ATTENTION
from crmsync.messages import PushRequest
from crmsync.outbound import PushReport, push_changes, push_records, push_requested
from crmsync.parking import (
    park_message,
    parked_key,
    parked_message_key,
    push_later,
    replay_message,
)
from crmsync.pull import PullReport, pull

__all__ = [
    "MAX_LOCK_RETRIES",
    "NEEDS_ATTENTION",
    "PROBE_MAX_MINUTES",
    "PullReport",
    "PushReport",
    "PushRequest",
    "SignalOutcome",
    "SyncContext",
    "UnknownTenant",
    "handle_bundle",
    "handle_signal",
    "handle_signal_contained",
    "park_message",
    "parked_key",
    "parked_message_key",
    "parse_signals",
    "prefetch",
    "pull",
    "push_changes",
    "push_later",
    "push_records",
    "push_requested",
    "replay_message",
    "sync_now",
    "transfer_page_contained",
]
