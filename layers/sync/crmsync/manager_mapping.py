"""Refresh a tenant's automatic account-manager map: read the people on both sides, match, store.

The accounting connection's employees (e-conomic ``/employees``) and the CRM connection's users
(HubSpot owners, Dynamics system users without crmsync's own application user) go through
``account_managers.build_map`` with the config's explicit pairs; the map is stored as the tenant's
``AMMAP`` item (``store.account_managers``). From the next config load on (``SyncContext.config``
merges the pairs into ``value_maps["account_manager"]``), every translation uses them; this
invocation's cached config is dropped so the caller's own later work does too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from crmsync.account_managers import FIELD, CrmUser, EmployeeLike, ManagerMap, build_map
from crmsync.config import TenantConfig
from crmsync.context import SyncContext, UnknownTenant
from crmsync.models import ConnectionKind, Side


@runtime_checkable
class EmployeeReader(Protocol):
    """An accounting connector that lists its employees (``EconomicConnector``)."""

    def employees(self) -> Sequence[EmployeeLike]: ...


@runtime_checkable
class OwnerReader(Protocol):
    """HubSpot: the portal's active owners (id, first and last name)."""

    def owners(self) -> Sequence[_Owner]: ...


@runtime_checkable
class UserReader(Protocol):
    """Dynamics: the organisation's system users (id, names, employee id)."""

    def users(self) -> Sequence[_SystemUser]: ...


class _Owner(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...


class _SystemUser(_Owner, Protocol):
    @property
    def fullname(self) -> str | None: ...
    @property
    def employee_id(self) -> str | None: ...


class ManagersUnavailable(Exception):
    """The tenant lacks a connection that can list its people (a 409 in the API)."""


def crm_users(config: TenantConfig, ctx: SyncContext) -> list[CrmUser]:
    """The CRM connection's users in neutral terms."""
    crm = next((c for c in config.connections if c.side is Side.CRM), None)
    if crm is None:
        raise ManagersUnavailable("the tenant has no CRM connection")
    connector = ctx.connectors.get(config, crm.connection_id)
    if crm.kind is ConnectionKind.DYNAMICS and isinstance(connector, UserReader):
        own = (crm.dynamics.application_user_id or "").lower() if crm.dynamics else ""
        return [
            CrmUser(
                id=u.id,
                first_name=u.first_name,
                last_name=u.last_name,
                full_name=u.fullname,
                employee_id=u.employee_id,
            )
            for u in connector.users()
            if u.id.lower() != own
        ]
    if isinstance(connector, OwnerReader):
        return [CrmUser(id=o.id, first_name=o.first_name, last_name=o.last_name) for o in connector.owners()]
    raise ManagersUnavailable(f"{crm.kind.value} cannot list its users")


def employees(config: TenantConfig, ctx: SyncContext) -> list[EmployeeLike]:
    acc = next((c for c in config.connections if c.side is Side.ACCOUNTING), None)
    if acc is None:
        raise ManagersUnavailable("the tenant has no accounting connection")
    connector = ctx.connectors.get(config, acc.connection_id)
    if not isinstance(connector, EmployeeReader):
        raise ManagersUnavailable(f"{acc.kind.value} cannot list its employees")
    return list(connector.employees())


def refresh_manager_map(ctx: SyncContext, tenant_id: str) -> ManagerMap:
    """Build and store the tenant's map now (``UnknownTenant``, ``ManagersUnavailable``, vendor errors)."""
    config = ctx.store.get_config(tenant_id)  # the stored config: its explicit pairs only
    if config is None:
        raise UnknownTenant(tenant_id)
    explicit = config.value_maps.get(FIELD)
    manager_map = build_map(
        employees(config, ctx),
        crm_users(config, ctx),
        explicit.pairs if explicit else {},
        built_at=ctx.clock(),
    )
    ctx.store.put_manager_map(tenant_id, manager_map)
    ctx.forget_configs()
    return manager_map
