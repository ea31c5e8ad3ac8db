"""Read-only view of a tenant's connections: ``ok``, ``degraded`` or ``needs_attention`` (reason, since
when), and the tenant's counts, backlog and last errors (``crmsync.health_counts`` defines them).

A connection needs attention when its secret cannot be read (missing in the configured environment,
not JSON, lacking a key) or the vendor refuses its credentials (401/403). Its work is parked with the
reason meanwhile (``GET /tenants/{t}/parked``, replayable) and every other tenant connection goes on;
one probe call is let through after 1, 2, 4 ... minutes (at most 60), and a successful call, a
config change or a person's replay brings it back to ``ok``. Set and cleared by ``crmsync.service``;
reasons name the kind of failure, never a secret's value.

``last_full_compares``: a connection read by change tracking (Dynamics) whose token expired was read in
full and compared (``crmsync.pull``): the last such run of each object type (when, why, how many rows),
newest first; empty when it never happened. ``drift``: the counts of the last drift report
(``crmsync.drift``), null before the first.

``degraded``: a connection that works but a write to it was parked in the last hour, or whose last
successful pull is older than the tenant's ``pull_stale_minutes`` (30 by default, six missed runs of the
default schedule; not for a tenant whose sync is off) (``health_counts.degraded_reason``); ``needs_attention`` wins, and the tenant's ``state`` is the worst
of its connections'. Per connection also ``last_pull_at`` (when a pull last stored a checkpoint, any
object type: a change-time pull stores one on every run once it has read a first change, a
change-tracking pull after every complete read) and ``rate_budget_used_today`` (the UTC day's count of its rate budget, with
``rate_budget_per_day`` its ceiling) and ``last_webhook_at`` (when the worker last handled one of its
webhook signals; written at most once a minute per container, ``connection_state.webhooks_handled``).

Cost: a handful of requests whatever the size (batch reads of states, checkpoints and budgets; queries
of parked items, pending deletes and conflicts) plus one paged query of the tenant's records for the
counts (``store.health_reads``: 10,000 records are about 15 to 30 pages).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmsync import health_counts
from crmsync.context import SyncContext
from crmsync.errors import NotFound
from crmsync.items import NEEDS_ATTENTION, ConnectionState
from crmsync.models import ConflictStatus, SyncMode, utcnow

DEGRADED = "degraded"

_SHOWN = ("reason", "since", "error", "failures", "last_failure_at", "next_probe_at")


def connection_states(ctx: SyncContext, tenant_id: str) -> dict[str, Any]:
    """Every connection of the tenant with its state; ``NotFound`` for an unknown tenant."""
    config = ctx.store.get_config(tenant_id)
    if config is None:
        raise NotFound(tenant_id)
    ids = [c.connection_id for c in config.connections]
    stored = ctx.store.connection_states(tenant_id, ids)
    compares = ctx.store.last_full_compares(tenant_id, ids)
    now = utcnow()  # parked and pull times are the store's wall clock too
    pulls = ctx.store.last_pulls(tenant_id, ids)
    used = ctx.store.rate_used_today(tenant_id, ids, now.strftime("%Y%m%d"))
    parked = ctx.store.parked(tenant_id)
    seen = ctx.store.webhooks_seen(tenant_id, ids)
    # An off tenant is not pulled, so its pulls cannot be late.
    stale = config.pull_stale_minutes and config.sync_mode != SyncMode.OFF
    stale_after = timedelta(minutes=config.pull_stale_minutes) if stale else None
    connections: list[dict[str, Any]] = []
    for conn in config.connections:
        state = stored.get(conn.connection_id) or ConnectionState(state="ok")
        last_pull = pulls.get(conn.connection_id)
        entry: dict[str, Any] = {
            "connection_id": conn.connection_id,
            "kind": conn.kind.value,
            "state": state.state,
            "since": state.since,
            "last_full_compares": compares.get(conn.connection_id, []),
            "last_pull_at": last_pull.isoformat() if last_pull else None,
            "last_webhook_at": seen.get(conn.connection_id),
            "rate_budget_used_today": used.get(conn.connection_id, 0),
            "rate_budget_per_day": conn.limits().calls_per_day,
        }
        if state.needs_attention:
            entry |= state.model_dump(include=set(_SHOWN))
        elif reason := health_counts.degraded_reason(
            conn.connection_id,
            parked,
            now,
            # the pull stamps its delta links with the context's clock (the wall clock on AWS)
            pull_age=ctx.clock() - last_pull if last_pull else None,
            stale_after=stale_after,
        ):
            entry |= {"state": DEGRADED, "reason": reason}
        connections.append(entry)
    from crmsync import drift as drift_report  # the drift report's counts

    report = drift_report.stored(ctx, tenant_id)
    drift = (
        {
            "finished_at": report.finished_at.isoformat() if report.finished_at else None,
            "drifted_records": report.drifted_records,
            "drifted_fields": report.drifted_fields,
            "missing": len(report.missing),
        }
        if report
        else None
    )
    open_conflicts = ctx.store.conflicts(tenant_id, status=ConflictStatus.OPEN)
    pending = len(ctx.store.pending_deletes(tenant_id))
    counts = health_counts.record_counts(config, ctx.store.health_records(tenant_id), open_conflicts, parked)
    states = {c["state"] for c in connections}
    return {
        "tenant_id": tenant_id,
        "environment": config.environment.value,
        "drift": drift,
        "state": next((s for s in (NEEDS_ATTENTION, DEGRADED) if s in states), "ok"),
        "connections": connections,
        "rate_budget_used_today": used,
        "backlog": health_counts.backlog(parked, pending, len(open_conflicts)),
        "counts": counts,
        "last_errors": health_counts.last_errors(tenant_id, parked),
    }
