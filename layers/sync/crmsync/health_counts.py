"""The health view's tenant-level numbers: record counts, the backlog, the last errors, and when a
connection is ``degraded`` (``crmsync.health`` puts them together).

**Counts** (records of both object types, from one paged query of the tenant's records):

* ``records``: every record;
* ``excluded``: not linked on both sides (``linking.link_state`` is ``crm_only`` / ``accounting_only``):
  none of its fields go to the other side until it is linked or a create is approved or (automatic
  mode) the push has created it there;
* ``in_conflict``: has an open conflict or a field held for a person's decision;
* ``failing``: its last write to a connection was refused (``Record.parked``), a parked message names it
  (retries spent, or its connection needed attention), or a picklist value of it has no mapping
  (``Record.unmapped``);
* ``in_sync``: linked on both sides, neither in conflict nor failing;
* ``parked``: the parked entries (``GET /tenants/{t}/parked``: writes and messages; not records).

``in_sync + excluded`` plus the linked records in conflict or failing is ``records``; a record can be
both in conflict and failing.

**Backlog**: what waits for a person, per tenant: parked entries, pending deletes and open conflicts.
The queues are shared by all tenants (SQS fair queues): their depth is not per tenant, so it is not shown.

**Degraded** (a connection that is not ``needs_attention``): a write to it was parked in the last hour
(``DEGRADED_WINDOW``: the vendor refused it, or its retries on 429 / 5xx were spent). Messages parked
while it needed attention do not count (they are that state's doing, and replayable). A stale pull is
not judged yet: change-tracking checkpoints carry the pull's clock, cursor checkpoints the store's, and
the API does not see the schedule (``PullSchedule``); ``last_pull_at`` shows it for a person to judge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from crmsync import linking
from crmsync.config import TenantConfig
from crmsync.items import ParkedMessage, ParkedWrite
from crmsync.models import Conflict, Record

DEGRADED_WINDOW = timedelta(hours=1)
LAST_ERRORS = 20

Parked = ParkedWrite | ParkedMessage


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parked_connection(entry: Parked) -> str | None:
    """The connection a parked entry was for (a push or transfer page names none)."""
    if isinstance(entry, ParkedWrite):
        return entry.connection
    conn = entry.message.get("connection_id")
    return conn if isinstance(conn, str) else None


def degraded_reason(
    connection_id: str,
    parked: Iterable[Parked],
    now: datetime,
    *,
    pull_age: timedelta | None = None,
    stale_after: timedelta | None = None,
) -> str | None:
    """Why an otherwise working connection is ``degraded``, or None: a write parked in the last hour, or
    (``stale_after`` given) its last successful pull ``pull_age`` ago, longer than that (a schedule that
    stopped, a pull that fails before it reaches the vendor). Never pulled (None) is not stale: it is new."""
    recent = [
        p
        for p in parked
        if isinstance(p, ParkedWrite)
        and p.connection == connection_id
        and (at := _at(p.parked_at)) is not None
        and now - at <= DEGRADED_WINDOW
    ]
    if recent:
        newest = max(recent, key=lambda p: p.parked_at or "")
        return f"{len(recent)} write(s) parked in the last hour; newest: {newest.reason}"
    if stale_after and pull_age is not None and pull_age > stale_after:
        return f"no successful pull for {int(pull_age.total_seconds() // 60)} minutes"
    return None


def record_counts(
    config: TenantConfig, records: Iterable[Record], conflicts: list[Conflict], parked: list[Parked]
) -> dict[str, int]:
    in_conflict_ids = {c.record_id for c in conflicts}
    parked_ids = {p.record_id for p in parked if p.record_id}
    counts = dict.fromkeys(("records", "in_sync", "excluded", "failing", "in_conflict"), 0)
    for record in records:
        counts["records"] += 1
        conflicted = record.record_id in in_conflict_ids or bool(record.held)
        failing = bool(record.parked) or bool(record.unmapped) or record.record_id in parked_ids
        counts["in_conflict"] += conflicted
        counts["failing"] += failing
        if linking.link_state(config, record) != "linked":
            counts["excluded"] += 1
        elif not conflicted and not failing:
            counts["in_sync"] += 1
    counts["parked"] = len(parked)
    return counts


def backlog(parked: list[Parked], pending_deletes: int, open_conflicts: int) -> dict[str, int]:
    total = len(parked) + pending_deletes + open_conflicts
    return {
        "parked": len(parked),
        "pending_deletes": pending_deletes,
        "open_conflicts": open_conflicts,
        "total": total,
    }


def last_errors(tenant_id: str, parked: list[Parked]) -> list[dict[str, Any]]:
    """The newest ``LAST_ERRORS`` parked entries with their reason and a link to their record."""
    newest = sorted(parked, key=lambda p: p.parked_at or "", reverse=True)[:LAST_ERRORS]
    return [
        {
            "parked_id": p.id,
            "kind": p.kind,
            "connection": parked_connection(p),
            "record_id": p.record_id,
            "link": f"/tenants/{tenant_id}/records/{p.record_id}" if p.record_id else None,
            "reason": p.reason,
            "error_code": p.error_code if isinstance(p, ParkedWrite) else None,
            "attempts": p.attempts,
            "parked_at": p.parked_at,
        }
        for p in newest
    ]
