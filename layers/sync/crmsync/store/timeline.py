"""A record's timeline (the journal): every signal, decision, vendor write, parking and resolution.

| item           | PK                       | SK                  | attributes                      |
|----------------|--------------------------|---------------------|---------------------------------|
| entry          | TENANT#t#LOG#<record id> | LOG#<time>#<n>      | ``data`` (one entry's JSON); TTL |
| page           | TENANT#t#LOG#<record id> | LOG#v<version>      | ``page`` (packed JSON list); TTL |
| (in the record)| TENANT#t                 | REC#<object>#<id>   | ``log``: its newest entries      |

A record's timeline is its own partition, so one write per signal never heats the tenant's. A signal
or write that saves the record adds its entry to the record item in the same write (``LOG_IN_RECORD``):
a change and its timeline entry land together and cost one item operation, not two. Every
``LOG_IN_RECORD``-th save moves what the record item carries to one page item (see ``records``). An
entry without a record change (an echo, a parking) is an item of its own; the hot paths write those in
batches of 25 (``journal_many``). Entries and pages expire ``JOURNAL_TTL`` after they are written.
Each stored entry gets an ``id``, so a reader drops an entry seen twice (a page retried after a lock
conflict).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, TypedDict

from crmsync.models import Record, utcnow
from crmsync.store.table import (
    Table,
    _n,
    _s,
    attr_text,
    object_type_of,
    pack,
    record_from_item,
    record_sk,
    tenant_pk,
)

JOURNAL_TTL = timedelta(days=30)
LOG_IN_RECORD = 6
"""Timeline entries a record item carries before a save moves them to the timeline partition (one item
for all of them). A signal or write that saves the record adds its entry in the same write, so a
record change and its timeline entry land together and cost one item operation, not two."""


class FieldChange(TypedDict):
    """One field's values around a change (``TimelineEntry.changes``)."""

    before: Any
    after: Any


class TimelineEntry(TypedDict, total=False):
    """One timeline entry, as ``timeline`` returns it (callers write plain dicts of the same shape with
    ``journal`` / ``journal_many`` / ``save_record(log=...)``; stored as JSON, so ``at`` reads back as
    ISO text). Every entry has ``at`` and ``decision``; the rest depends on the kind. Entries written
    by other code paths may carry further keys (``merged``, ``links``, ``split_into``, ``lead``,
    ``outcome``, ``other_side``, ``merged_id``, ...): the timeline shows them as
    written."""

    at: str | datetime
    """When it happened (written as a datetime, read back as ISO 8601 text); the timeline's order."""
    kind: str
    """``signal`` (a change seen on a side), ``write`` (crmsync wrote to a vendor) or ``resolution``
    (a person settled a conflict or a delete); absent on some older decisions (``linked``, ...)."""
    decision: str
    """What was decided: ``created``, ``applied``, ``unchanged``, ``echo``, ``conflict``, ``ignored``,
    ``source_deleted``, ``written``, ``parked``, ``deleted``, ``resolved``, ``linked``, ``unlinked``,
    ``id_reused``, ``lead_converted``, ``delete_rejected``, ..."""
    signal: str
    """Where a signal came from: ``webhook``, ``pull``, ``api`` or ``replay``."""
    connection: str
    """The connection the signal came from or the write went to."""
    external_id: str | None
    """The record's id on that connection."""
    changes: dict[str, FieldChange]
    """Field name -> its value before and after."""
    conflicts: list[str]
    """A signal's fields in conflict (held for a person or settled by their rule)."""
    held: list[str]
    """A signal's fields not applied while a conflict on them is open."""
    overridden: list[str]
    """A signal's fields this side does not own: its edit is kept (restorable), the owner's value stays."""
    unmapped: list[str]
    """A signal's source fields with no mapping (shown, never synced)."""
    renumbered_from: str | None
    """The external id the record had on ``connection`` before the vendor renumbered it."""
    action: str
    """A write's action: ``create`` or ``update``."""
    request_id: str | None
    """The vendor's request id of a write (for its support)."""
    reason: str
    """Why a write was parked (the vendor's message)."""


def entry_json(entry: dict[str, Any]) -> str:
    """One timeline entry as stored: JSON with an ``id`` (a reader drops an entry seen twice)."""
    return json.dumps({"id": uuid.uuid4().hex[:16], **entry}, default=str)


def journal_pk(tenant_id: str, record_id: str) -> str:
    """The timeline of one record is its own partition: one write per signal never heats the tenant's."""
    return f"{tenant_pk(tenant_id)}#LOG#{record_id}"


def journal_item(tenant_id: str, record_id: str, entry: dict[str, Any], at: datetime) -> dict[str, Any]:
    """One entry as an item of its own in the record's timeline partition."""
    return {
        "PK": _s(journal_pk(tenant_id, record_id)),
        "SK": _s(f"LOG#{at.isoformat()}#{uuid.uuid4().hex[:8]}"),
        "data": _s(entry_json(entry)),
        "ttl": _n(int((at + JOURNAL_TTL).timestamp())),
    }


def journal_page(record: Record, entries: list[str]) -> dict[str, Any]:
    """The entries a record item carried, moved to its timeline partition as one item.

    The key is the record's version when they were moved, so a save retried after a lock conflict
    writes the same page again instead of a second one."""
    return {
        "PK": _s(journal_pk(record.tenant_id, record.record_id)),
        "SK": _s(f"LOG#v{record.version:09d}"),
        "page": pack(json.dumps(entries)),
        "ttl": _n(int((utcnow() + JOURNAL_TTL).timestamp())),
    }


class TimelineRepo(Table):
    """Timeline entries of their own, and the timeline read (partition + what the record carries)."""

    def journal(self, tenant_id: str, record_id: str, entry: dict[str, Any]) -> None:
        """One entry (shaped like ``TimelineEntry``) as an item of its own."""
        self._call("put_item", Item=journal_item(tenant_id, record_id, entry, utcnow()))

    def journal_many(self, entries: list[tuple[str, str, dict[str, Any], datetime]]) -> None:
        """Journal entries (tenant, record, entry, time written) in batches of 25: the hot paths'
        timelines cost one request per 25 signals instead of one each."""
        self._batch_put([journal_item(*entry) for entry in entries])

    def timeline(self, tenant_id: str, record_id: str, record: Record | None = None) -> list[TimelineEntry]:
        """A record's timeline, oldest first: its partition's entries and pages, then what the record
        item still carries (``record`` if the caller has read it; an entry seen twice, after a retried
        page, is shown once)."""
        stored: list[str] = []
        for item in self._query(journal_pk(tenant_id, record_id), "LOG#"):
            stored += json.loads(attr_text(item["page"])) if "page" in item else [item["data"]["S"]]
        if record is None:
            with contextlib.suppress(ValueError):  # not a record id: only the partition
                found = self._get(tenant_pk(tenant_id), record_sk(object_type_of(record_id), record_id))
                record = record_from_item(found) if found is not None else None
        stored += (record._log or []) if record else []
        entries: dict[str, TimelineEntry] = {}
        for n, raw in enumerate(stored):
            entry = json.loads(raw)
            entries.setdefault(str(entry.pop("id", n)), entry)
        return sorted(entries.values(), key=lambda e: str(e.get("at", "")))
