"""The tenant: its config (sync mode, connections, field policy) and its connections' health."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from crmsync import config_checks
from crmsync.api_errors import StateConflict
from crmsync.config import TenantConfig
from crmsync.errors import NotFound
from crmsync.items import FullCompare
from crmsync.models import SyncMode
from crmsync.routes.common import TenantId, domain_router, tenant_config, tenant_context
from crmsync.store import VersionConflict

router = domain_router()
TAGS = ["tenant"]


FULL_COMPARES_DOC = (
    "the last full compare of each object type that an expired change-tracking token forced, newest first"
)


class ConnectionActivity(BaseModel):
    """What every connection shows, whatever its state."""

    connection_id: str
    kind: str
    last_full_compares: list[FullCompare] = Field(default_factory=list, description=FULL_COMPARES_DOC)
    last_pull_at: str | None = Field(
        default=None, description="when its newest successful pull stored its checkpoint (null: never)"
    )
    last_webhook_at: str | None = Field(
        default=None,
        description="when the worker last handled one of its webhooks (to the minute; null: none yet)",
    )
    rate_budget_used_today: int = Field(
        default=0, description="vendor calls its rate budget counted today (UTC)"
    )
    rate_budget_per_day: int | None = Field(default=None, description="the budget's daily ceiling")


class ConnectionOk(ConnectionActivity):
    state: Literal["ok"]
    since: str | None = Field(description="when it last came back (null: never failed)")


class ConnectionDegraded(ConnectionActivity):
    """A working connection with recent trouble: a write to it was parked in the last hour."""

    state: Literal["degraded"]
    since: str | None = Field(description="when it last came back from needs_attention (null: never)")
    reason: str = Field(description="why it is degraded")


class ConnectionNeedsAttention(ConnectionActivity):
    """A connection whose work is parked until a probe (or a vendor call) succeeds again."""

    state: Literal["needs_attention"]
    since: str | None
    reason: str | None = Field(description="what a person should do, e.g. renew the token")
    error: str | None = Field(description="the error's type")
    failures: int | None = Field(description="failures in a row")
    last_failure_at: str | None
    next_probe_at: str | None


class DriftSummary(BaseModel):
    """The last drift report's counts (``GET .../drift`` has its items)."""

    finished_at: str | None
    drifted_records: int
    drifted_fields: int
    missing: int = Field(description="linked records a connection no longer lists")


class Backlog(BaseModel):
    """What waits for a person in this tenant (the shared queues' depth is not per tenant)."""

    parked: int
    pending_deletes: int
    open_conflicts: int
    total: int


class HealthCounts(BaseModel):
    """Records of both object types (``crmsync.health_counts`` defines each)."""

    records: int
    in_sync: int = Field(description="linked on both sides, not in conflict, not failing")
    excluded: int = Field(description="not linked on both sides: nothing goes to the other side")
    failing: int = Field(description="a write refused, a message parked, or an unmapped picklist value")
    in_conflict: int = Field(description="an open conflict or a held field")
    parked: int = Field(description="parked entries (writes and messages), as GET .../parked lists them")


class HealthError(BaseModel):
    """A parked write or message, newest first."""

    parked_id: str = Field(description="its parked id (POST .../parked/{id}/replay)")
    kind: str
    connection: str | None
    record_id: str | None
    link: str | None = Field(description="the record's path in this API (null: the entry names none)")
    reason: str
    error_code: str | None
    attempts: int
    parked_at: str | None


class Health(BaseModel):
    tenant_id: str
    environment: str
    state: Literal["ok", "degraded", "needs_attention"] = Field(
        description="the worst of its connections' states (needs_attention, then degraded)"
    )
    connections: list[
        Annotated[ConnectionOk | ConnectionDegraded | ConnectionNeedsAttention, Field(discriminator="state")]
    ]
    drift: DriftSummary | None = Field(default=None, description="the last drift report (null: none ran)")
    rate_budget_used_today: dict[str, int] = Field(
        default_factory=dict, description="connection -> vendor calls counted today (UTC)"
    )
    backlog: Backlog
    counts: HealthCounts
    last_errors: list[HealthError] = Field(description="the newest 20 parked entries")


@router.get(
    "/tenants/<tenant_id>/config",
    summary="The tenant's sync mode, connections and field policy",
    tags=TAGS,
)
def get_config(tenant_id: TenantId) -> TenantConfig:
    """The config as stored: without the automatic account-manager pairs the sync merges in
    (``crmsync.manager_mapping``), so a client that sends it back does not make them explicit."""
    config = tenant_context(router, tenant_id).store.get_config(tenant_id)
    if config is None:
        raise NotFound(tenant_id)
    return config


@router.put(
    "/tenants/<tenant_id>/config",
    summary="Replace the config (send back the version you read)",
    tags=TAGS,
)
def put_config(tenant_id: TenantId, config: Annotated[TenantConfig, Body()]) -> TenantConfig:
    """Replace the config; ``version`` must be the one read (optimistic locking), 0 for a new tenant.

    Switching to ``automatic`` is refused here: it may create many records, so it goes through
    ``POST /mode`` which reports what it would create first (dry run) and then does it.

    A connection the change brings into use (another environment, a new or re-kinded connection) must
    have its secret: else 422 naming it (``crmsync.config_checks``; unchanged connections are not re-read).
    """
    ctx = tenant_context(router, tenant_id)
    if config.tenant_id != tenant_id:
        raise StateConflict("tenant_id in the body differs from the path")
    current = ctx.store.get_config(tenant_id)
    if (
        config.sync_mode is SyncMode.AUTOMATIC
        and current is not None
        and current.sync_mode is not SyncMode.AUTOMATIC
    ):
        raise StateConflict("switch to automatic with POST /tenants/{tenant_id}/mode (dry run first)")
    connectors = ctx.connectors
    config_checks.check_secrets(
        connectors.credentials, connectors.settings.secret_prefix, tenant_id, current, config
    )
    try:
        return ctx.store.put_config(config)
    except VersionConflict as exc:
        raise StateConflict("config changed since it was read; GET it again") from exc


@router.get(
    "/tenants/<tenant_id>/health",
    summary="Each connection's state (ok, degraded, needs_attention with the reason); counts, backlog, errors",
    tags=TAGS,
)
def connection_health(tenant_id: TenantId) -> Health:
    from crmsync import health  # only this route needs it

    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    return Health.model_validate(health.connection_states(ctx, tenant_id))
