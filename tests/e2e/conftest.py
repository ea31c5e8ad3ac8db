"""Shared e2e fixtures: one local stack per module, one vendor account and tenant per test.

Booting a ``LocalStack`` (moto's server, the vendor fakes, the gateway) costs seconds. A module whose
scenarios allow it asks for the module-scoped ``stack`` below and gives every test its own e-conomic
agreement and HubSpot portal (``LocalStack.add_account``) with its own tenant provisioned against them
(``add_seeded_tenant``), so tests cannot see each other's vendor data or crmsync records.

What account and tenant do not isolate, and a test on the shared stack must therefore not rely on:
``stack.queue_depth`` (every tenant's messages), ``stack.stats``, ``stack.crash_next_batch_after`` and
IAM overrides (``LocalStack(iam_override=...)``). A test that needs any of them keeps its own stack.
A module that defines its own ``stack`` fixture overrides this one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from crmsync.models import ObjectType, SyncMode
from local.crm_side import CrmSide
from local.fakes.economic import EconomicFake
from local.fakes.hubspot import HubSpotFake
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount

_numbers = itertools.count(1)


CRMS: tuple[CrmKind, ...] = ("hubspot", "dynamics")
ACCOUNTING_COLUMNS = {
    field: f"new_{field.replace('_', '')}"
    for field in ("corporate_id", "vat_number", "currency", "customer_group", "payment_terms", "vat_zone")
} | {"external_number": "new_externalnumber"}
"""Custom account columns a Dynamics organisation may add for the accounting fields Dataverse has no
standard column for (``DynamicsSettings.columns``): modules about those fields give them to their tenant."""


@pytest.fixture(scope="module", params=CRMS)
def crm_kind(request: pytest.FixtureRequest) -> CrmKind:
    """Run a module's tests once per CRM (a module opts in by asking for it; tests are grouped per CRM)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One local stack for the whole module (its IAM check runs once, when the module is done)."""
    with LocalStack() as local:
        yield local


@dataclass
class Tenant:
    """A tenant of the shared stack with its own vendor account (``economic``/``hubspot``)."""

    stack: LocalStack
    account: VendorAccount
    id: str
    token: str
    extra: dict[str, Any] = field(default_factory=dict)
    """Whatever the module's seed function wants to remember (ids of records it created, ...)."""
    crm_kind: CrmKind = "hubspot"

    @property
    def crm(self) -> CrmSide:
        """The tenant's CRM (HubSpot or Dynamics) in canonical terms (``local.crm_side``)."""
        return self.account.crm(self.crm_kind)

    @property
    def economic(self) -> EconomicFake:
        return self.account.economic

    @property
    def hubspot(self) -> HubSpotFake:
        return self.account.hubspot

    def linked(self, index: int) -> tuple[int, str, str]:
        """(customer number, CRM id, record id) of the index-th e-conomic customer, linked to the CRM."""
        number = self.economic.customer_numbers()[index]
        record_id = self.stack.store.find_link(self.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
        assert record_id is not None, f"customer {number} is not linked"
        record = self.stack.store.get_record(self.id, record_id)
        assert record is not None
        return number, record.links[self.crm.connection_id], record_id

    def api(self, method: str, path: str, json: dict | None = None) -> httpx.Response:
        """A call of the tenant's API (``/tenants/{id}{path}``) with its token."""
        return self.stack.http.request(
            method, f"/tenants/{self.id}{path}", json=json, headers={"Authorization": f"Bearer {self.token}"}
        )


def unique_name(prefix: str) -> str:
    """A tenant id / account name no other test of the session uses (tenant ids: ``[a-z0-9-]{1,40}``)."""
    clean = re.sub(r"[^a-z0-9-]", "-", prefix.lower()).strip("-")[:30] or "t"
    return f"{clean}-{next(_numbers)}"


def add_seeded_tenant(
    stack: LocalStack,
    prefix: str,
    *,
    mode: SyncMode,
    seed_vendors: Callable[[VendorAccount], dict[str, Any] | None] | None = None,
    seed_after_provisioning: Callable[[Tenant], None] | None = None,
    crm: CrmKind = "hubspot",
    dynamics_columns: dict[str, str] | None = None,
) -> Tenant:
    """A new vendor account and a tenant on it, seeded, pulled and settled.

    ``seed_vendors`` fills the account's fakes before the tenant exists (its return value goes to
    ``Tenant.extra``), ``seed_after_provisioning`` after (the tenant's onboarding has run, e.g. HubSpot's
    custom properties exist, and the fakes' webhooks point at the tenant).
    """
    name = unique_name(prefix)
    account = stack.add_account(name)
    if crm == "dynamics":
        stack.vendors.enable_dynamics(name, dynamics_columns)  # before seeding: the seed may write to it
    extra = (seed_vendors(account) if seed_vendors else None) or {}
    token = stack.add_tenant(name, account=name, mode=mode, crm=crm)
    tenant = Tenant(stack, account, name, token, dict(extra), crm)
    if seed_after_provisioning:
        seed_after_provisioning(tenant)
    stack.run_pull()
    stack.run_until_idle()
    return tenant


def retire(tenant: Tenant) -> None:
    """After its test: switch the tenant off, so later tests' scheduled pulls skip it (they pull every
    tenant of the stack) and nothing of it moves again. Its account and records stay, unseen."""
    tenant.stack.set_mode(tenant.id, SyncMode.OFF)


@contextmanager
def own_stack(shared: LocalStack, **options: Any) -> Iterator[LocalStack]:
    """A ``LocalStack(**options)`` of its own for one test of a module that shares ``shared``.

    Two stacks' IAM enforcers cannot be nested (both wrap boto3, and the outer one would check the inner
    stack's calls against its own resources), so ``shared``'s enforcer pauses while the own stack runs.
    """
    enforcing = shared.iam.enforcing
    shared.iam.stop()
    try:
        with LocalStack(**options) as local:
            yield local
    finally:
        if enforcing:
            shared.iam.start()
