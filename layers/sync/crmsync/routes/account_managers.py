"""Account managers: the tenant's automatic CRM user -> accounting employee map, and rebuilding it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from crmsync.account_managers import ManagerMatch
from crmsync.api_errors import ApiError, StateConflict
from crmsync.connectors.base import VendorError
from crmsync.manager_mapping import ManagersUnavailable, refresh_manager_map
from crmsync.routes.common import TenantId, domain_router, tenant_config, tenant_context

router = domain_router()
TAGS = ["account managers"]


class VendorUnavailable(ApiError):
    """A vendor did not answer the reads a refresh needs (its reason in the message)."""

    status = 502


class AccountManagers(BaseModel):
    """The stored map: automatic pairs, and per CRM user the tier that found its employee or why none."""

    pairs: dict[str, str] = Field(
        description="CRM user id -> accounting employee number, the automatic pairs (explicit pairs are "
        "in the config's value_maps.account_manager and win over these)"
    )
    matches: list[ManagerMatch] = Field(
        description="per CRM user (and per explicit pair): employee number and tier (explicit, id, "
        "employee_id, name), or the reason nothing was mapped (ambiguous, no match)"
    )
    built_at: datetime | None = Field(description="when the map was built (null: never refreshed)")


def _answer(manager_map: BaseModel | None) -> AccountManagers:
    if manager_map is None:
        return AccountManagers(pairs={}, matches=[], built_at=None)
    return AccountManagers.model_validate(manager_map.model_dump())


@router.get(
    "/tenants/<tenant_id>/account-managers",
    summary="The automatic account-manager map: pairs, and per CRM user the tier or why not mapped",
    tags=TAGS,
)
def get_account_managers(tenant_id: TenantId) -> AccountManagers:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    return _answer(ctx.store.manager_map(tenant_id))


@router.post(
    "/tenants/<tenant_id>/account-managers/refresh",
    summary="Rebuild the account-manager map now from the accounting employees and the CRM users",
    tags=TAGS,
)
def refresh_account_managers(tenant_id: TenantId) -> AccountManagers:
    """Reads e-conomic's employees and the CRM's users (HubSpot owners, Dynamics system users), matches
    them in the fixed order (docs/field-policy-and-conflicts.md#account-managers) and stores the map;
    the next sync of a company uses it."""
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    try:
        return _answer(refresh_manager_map(ctx, tenant_id))
    except ManagersUnavailable as exc:
        raise StateConflict(str(exc)) from exc
    except VendorError as exc:
        raise VendorUnavailable(f"a vendor refused the read: {exc}") from exc
