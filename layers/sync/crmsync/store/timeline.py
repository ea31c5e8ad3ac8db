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
from typing import Any

from crmsync.items import TimelineEntry
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


def entry_json(entry: TimelineEntry) -> str:
    """One timeline entry as stored: JSON with an ``id`` (a reader drops an entry seen twice)."""
    return json.dumps({"id": uuid.uuid4().hex[:16], **entry}, default=str)


def journal_pk(tenant_id: str, record_id: str) -> str:
    """The timeline of one record is its own partition: one write per signal never heats the tenant's."""
    return f"{tenant_pk(tenant_id)}#LOG#{record_id}"


def journal_item(tenant_id: str, record_id: str, entry: TimelineEntry, at: datetime) -> dict[str, Any]:
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

    def journal(self, tenant_id: str, record_id: str, entry: TimelineEntry) -> None:
        """One entry (shaped like ``TimelineEntry``) as an item of its own."""
        self._call("put_item", Item=journal_item(tenant_id, record_id, entry, utcnow()))

    def journal_many(self, entries: list[tuple[str, str, TimelineEntry, datetime]]) -> None:
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
