"""Read-only view of a tenant's connections: ``ok`` or ``needs_attention`` (reason, since when).

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
"""

from __future__ import annotations

from typing import Any

from crmsync.context import SyncContext
from crmsync.errors import NotFound
from crmsync.items import NEEDS_ATTENTION, ConnectionState

_SHOWN = ("reason", "since", "error", "failures", "last_failure_at", "next_probe_at")


def connection_states(ctx: SyncContext, tenant_id: str) -> dict[str, Any]:
    """Every connection of the tenant with its state; ``NotFound`` for an unknown tenant."""
    config = ctx.store.get_config(tenant_id)
    if config is None:
        raise NotFound(tenant_id)
    ids = [c.connection_id for c in config.connections]
    stored = ctx.store.connection_states(tenant_id, ids)
    compares = ctx.store.last_full_compares(tenant_id, ids)
    connections: list[dict[str, Any]] = []
    for conn in config.connections:
        state = stored.get(conn.connection_id) or ConnectionState(state="ok")
        entry: dict[str, Any] = {
            "connection_id": conn.connection_id,
            "kind": conn.kind.value,
            "state": state.state,
            "since": state.since,
            "last_full_compares": compares.get(conn.connection_id, []),
        }
        if state.needs_attention:
            entry |= state.model_dump(include=set(_SHOWN))
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
    return {
        "tenant_id": tenant_id,
        "environment": config.environment.value,
        "drift": drift,
        "state": NEEDS_ATTENTION if any(c["state"] == NEEDS_ATTENTION for c in connections) else "ok",
        "connections": connections,
    }
