"""The health view (issue 18 item 3): per connection ok / degraded / needs_attention with the reason, its
last pull and today's rate budget; per tenant the backlog, the record counts and the last errors with
links to their records. Both CRMs (``crm_kind``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER = ObjectType.CUSTOMER
TOO_LONG_CITY = "Sankt Klemens ved Odense Sankt Klemens ved Odense X"  # e-conomic allows 50


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    def seed(account: VendorAccount) -> None:
        account.economic.seed(3, contacts_per_customer=0, seed=71)

    t = add_seeded_tenant(stack, "health", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    yield t
    retire(t)


def health(tenant: Tenant) -> dict[str, Any]:
    response = tenant.api("GET", "/health")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_counts_states_and_errors_follow_a_conflict_and_a_parked_write(tenant: Tenant):
    stack = tenant.stack
    stack.run_pull()
    stack.run_until_idle()
    clean = health(tenant)
    assert clean["state"] == "ok"
    assert clean["counts"] == {
        "records": 3,
        "in_sync": 3,
        "excluded": 0,
        "failing": 0,
        "in_conflict": 0,
        "parked": 0,
    }
    assert clean["backlog"] == {"parked": 0, "pending_deletes": 0, "open_conflicts": 0, "total": 0}
    assert clean["last_errors"] == []
    connections = {c["connection_id"]: c for c in clean["connections"]}
    assert set(connections) == {ECONOMIC_CONNECTION, tenant.crm.connection_id}
    for conn in connections.values():
        assert conn["state"] == "ok", conn
        assert conn["last_webhook_at"] is None, "only crmsync's own writes came back (dropped at ingest)"
        assert conn["rate_budget_used_today"] > 0 and conn["rate_budget_per_day"] > 0, conn
    # e-conomic's pull read the transferred customers; a pull that reads nothing stores no checkpoint
    assert connections[ECONOMIC_CONNECTION]["last_pull_at"]
    assert clean["rate_budget_used_today"] == {c: v["rate_budget_used_today"] for c, v in connections.items()}

    # A conflict held for a person: both sides edit the city, rule manual.
    config = tenant.api("GET", "/config").json()
    config["field_policy"]["customer"]["city"] = {"direction": "both", "rule": "manual"}
    assert tenant.api("PUT", "/config", config).status_code == 200
    number, company, conflicted = tenant.linked(0)
    tenant.economic.update_customer(number, city="Bogholderby")
    time.sleep(1.1)  # e-conomic's lastUpdated has whole seconds
    tenant.crm.edit(CUSTOMER, company, {"city": "Crmby"})
    stack.run_until_idle()

    # A write e-conomic refuses (the city is too long): parked for that connection.
    _, company, refused = tenant.linked(2)
    tenant.crm.edit(CUSTOMER, company, {"city": TOO_LONG_CITY})
    stack.run_until_idle()

    shown = health(tenant)
    assert shown["counts"] == {
        "records": 3,
        "in_sync": 1,
        "excluded": 0,
        "failing": 1,
        "in_conflict": 1,
        "parked": 1,
    }
    assert shown["backlog"] == {"parked": 1, "pending_deletes": 0, "open_conflicts": 1, "total": 2}
    connections = {c["connection_id"]: c for c in shown["connections"]}
    eco = connections[ECONOMIC_CONNECTION]
    assert eco["state"] == "degraded" and "longer than 50" in eco["reason"], eco
    assert connections[tenant.crm.connection_id]["state"] == "ok"
    assert all(c["last_webhook_at"] for c in connections.values()), "both sides' edits came by webhook"
    assert shown["state"] == "degraded", "the worst of its connections"
    (error,) = shown["last_errors"]
    assert (error["kind"], error["connection"], error["record_id"]) == ("write", ECONOMIC_CONNECTION, refused)
    assert error["link"] == f"/tenants/{tenant.id}/records/{refused}" and "longer than 50" in error["reason"]
    assert tenant.api("GET", error["link"].removeprefix(f"/tenants/{tenant.id}")).status_code == 200
    parked = tenant.api("GET", "/parked").json()["items"]
    assert [p["id"] for p in parked] == [error["parked_id"]]
    assert conflicted != refused

    # Fixed by a person, the write goes through and unparks: the connection is ok again.
    tenant.crm.edit(CUSTOMER, company, {"city": "Odense"})
    stack.run_until_idle()
    after = health(tenant)
    assert after["last_errors"] == [] and after["counts"]["parked"] == 0
    assert {c["connection_id"]: c["state"] for c in after["connections"]}[ECONOMIC_CONNECTION] == "ok"


def test_health_of_an_unknown_tenant_is_refused(tenant: Tenant):
    response = tenant.stack.http.request(
        "GET", "/tenants/nobody/health", headers={"Authorization": f"Bearer {tenant.token}"}
    )
    assert response.status_code in (401, 403, 404)
