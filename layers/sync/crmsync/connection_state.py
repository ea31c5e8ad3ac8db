"""A tenant connection's health: a failure of its secret or credentials stays with it.

The state (``ok`` / ``needs_attention``, reason, since when) is stored per connection; a circuit
breaker lets one probe through after 1, 2, 4 ... minutes while it needs attention. Shown by
``crmsync.health`` in the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from crmsync.config import TenantConfig
from crmsync.connectors.base import (
    AuthError,
)
from crmsync.connectors.registry import ConnectionUnavailable
from crmsync.context import SyncContext
from crmsync.items import NEEDS_ATTENTION, ConnectionState
from crmsync.models import Signal
from crmsync.parking import park_message
from crmsync.store import (
    StoreError,
)

logger = Logger(child=True)
metrics = Metrics()  # Powertools shares the metric set: the handler's ``log_metrics`` flushes these

PROBE_MAX_MINUTES = 60
"""While a connection needs attention, one probe call is let through after 1, 2, 4 ... minutes (capped)."""
CONNECTION_FAILURES: tuple[type[Exception], ...] = (ConnectionUnavailable, AuthError)
"""Failures of a tenant connection (its secret, its credentials), never of a record: contained to it."""


def connection_state(ctx: SyncContext, config: TenantConfig, conn: str) -> ConnectionState | None:
    """The stored state of a tenant connection (``None``: never failed), read once per invocation."""
    states = ctx.connection_states(config.tenant_id)
    if states is None:
        try:
            states = ctx.store.connection_states(
                config.tenant_id, [c.connection_id for c in config.connections]
            )
        except StoreError:
            states = {}  # unknown: the vendor is called, as before there was a state
        ctx.remember_connection_states(config.tenant_id, states)
    return states.get(conn)


def connection_reason(exc: Exception) -> str:
    """Why a connection failed, for people: the kind of failure, never a secret's value."""
    if isinstance(exc, ConnectionUnavailable):
        return exc.reason
    if isinstance(exc, AuthError):
        status = f" ({exc.status})" if exc.status else ""
        return f"the vendor refused the credentials{status}: {exc.message[:200]}"
    return type(exc).__name__


def failed_connection(exc: Exception, default: str) -> str:
    """The connection a failure belongs to (an auth error does not name one: the caller's)."""
    return exc.connection_id if isinstance(exc, ConnectionUnavailable) else default


def connection_failed(ctx: SyncContext, config: TenantConfig, conn: str, exc: Exception) -> str:
    """Mark a tenant connection ``needs_attention`` (reason, since, next probe); returns the reason."""
    reason = connection_reason(exc)
    ctx.connectors.forget(config, conn)  # a fixed secret is read again on the next use
    now = ctx.clock()
    previous = connection_state(ctx, config, conn)
    failures = previous.failures + 1 if previous is not None and previous.needs_attention else 1
    delay = min(2 ** min(failures - 1, 6), PROBE_MAX_MINUTES)
    state = ConnectionState(
        state=NEEDS_ATTENTION,
        reason=reason,
        error=type(exc).__name__,
        failures=failures,
        last_failure_at=now.isoformat(),
        next_probe_at=(now + timedelta(minutes=delay)).isoformat(),
        config_version=config.version,
    )
    logger.warning(
        "tenant connection needs attention; its work is parked",
        extra={"tenant": config.tenant_id, "connection": conn, "error": type(exc).__name__},
    )
    try:
        stored = ctx.store.connection_failed(config.tenant_id, conn, state, since=now.isoformat())
    except StoreError:
        since = previous.since if previous is not None and previous.needs_attention else None
        stored = state.model_copy(update={"since": since or now.isoformat()})
    ctx.set_connection_state(config.tenant_id, conn, stored)
    metrics.add_metric(name="ConnectionNeedsAttention", unit=MetricUnit.Count, value=1)
    return reason


def connection_succeeded(ctx: SyncContext, config: TenantConfig, conn: str) -> None:
    """A vendor call on the connection worked: back to ``ok`` (written only when it was not)."""
    state = connection_state(ctx, config, conn)
    if state is None or not state.needs_attention:
        return
    now = ctx.clock().isoformat()
    try:
        ctx.store.connection_ok(config.tenant_id, conn, now)
    except StoreError:
        return  # stays marked; the next success clears it
    ctx.set_connection_state(config.tenant_id, conn, ConnectionState(state="ok", since=now))
    logger.info("tenant connection works again", extra={"tenant": config.tenant_id, "connection": conn})


def circuit_open(ctx: SyncContext, config: TenantConfig, conn: str, *, force: bool = False) -> str | None:
    """The reason not to call the vendor on ``conn`` now, or ``None``.

    While a connection needs attention its work is parked at once; one probe goes through when its
    time comes (1, 2, 4 ... minutes after the last failure, at most 60), after a config change, or when
    a person forces it (a replay).
    """
    if force:
        return None
    state = connection_state(ctx, config, conn)
    if state is None or not state.needs_attention:
        return None
    if state.config_version != config.version:
        return None  # the config changed since (environment, connection): try it
    if not state.secret_checked:
        state.secret_checked = True  # once per invocation (an unreadable secret is not cached)
        if ctx.connectors.credentials_changed(config, conn):
            return None  # the secret was replaced since it failed here: try it
    probe = state.next_probe_at
    if probe is None or ctx.clock() >= datetime.fromisoformat(probe):
        # This caller is the probe; the others wait for its outcome (or the next probe time).
        state.next_probe_at = (ctx.clock() + timedelta(minutes=PROBE_MAX_MINUTES)).isoformat()
        return None
    return state.reason or "the connection needs attention"


def transfer_page_contained(ctx: SyncContext, page: BaseModel, apply: Callable[[], Any]) -> bool:
    """Run a transfer page; a failure of one of its tenant's connections parks the page (replayable)
    instead of failing the batch. Returns whether the page ran."""
    tenant = str(getattr(page, "tenant_id", ""))
    config = ctx.config(tenant)
    try:
        apply()
        return True
    except ConnectionUnavailable as exc:
        reason = connection_failed(ctx, config, exc.connection_id, exc)
    except AuthError as exc:
        # It names no connection: the page is parked with the reason; the next signal or pull on the
        # refusing connection marks that one.
        reason = connection_reason(exc)
    park_message(ctx, page.model_dump(mode="json"), reason)
    return False


WEBHOOK_SEEN_EVERY_S = 60.0
"""A connection's ``last_webhook_at`` is written at most this often per container (one UpdateItem)."""


def webhooks_handled(ctx: SyncContext, signals: list[Signal]) -> None:
    """Record when each connection's webhooks were last handled (the health view's ``last_webhook_at``)."""
    now = ctx.clock()
    for tenant, conn in {(s.tenant_id, s.connection_id) for s in signals if s.source == "webhook"}:
        last = ctx.webhooks_marked.get((tenant, conn))
        if last is not None and (now - last).total_seconds() < WEBHOOK_SEEN_EVERY_S:
            continue
        try:
            ctx.store.mark_webhook_seen(tenant, conn, now.isoformat())
        except StoreError:
            continue  # a health detail: never a reason to fail the signals
        ctx.webhooks_marked[(tenant, conn)] = now
