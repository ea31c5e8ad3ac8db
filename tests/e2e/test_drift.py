"""The drift report (issue 18 item 4): a field changed behind the webhooks' back is found by a full compare,
field by field, shown on the health view, and its fix repairs it. Both CRMs (``crm_kind``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, CrmKind, VendorAccount
from tests.e2e.conftest import Tenant, add_seeded_tenant, retire

pytestmark = pytest.mark.e2e
CUSTOMER = ObjectType.CUSTOMER


@pytest.fixture
def tenant(stack: LocalStack, crm_kind: CrmKind) -> Iterator[Tenant]:
    def seed(account: VendorAccount) -> None:
        account.economic.seed(3, contacts_per_customer=1, seed=61)

    t = add_seeded_tenant(stack, "drift", mode=SyncMode.AUTOMATIC, seed_vendors=seed, crm=crm_kind)
    yield t
    retire(t)


def run_drift(tenant: Tenant) -> dict:
    queued = tenant.api("POST", "/drift")
    assert queued.status_code == 200 and queued.json()["queued"] is True, queued.text
    tenant.stack.run_until_idle()
    report = tenant.api("GET", "/drift").json()["report"]
    assert report is not None and report["finished_at"], report
    return report


def test_a_change_behind_the_webhooks_back_is_found_field_by_field_and_fixed(tenant: Tenant):
    clean = run_drift(tenant)
    assert clean["drifted_records"] == 0 and clean["items"] == [] and clean["missing"] == []
    assert clean["compared"][ECONOMIC_CONNECTION] == 6, "3 customers and 3 contacts read in pages"

    number = tenant.economic.customer_numbers()[0]
    before = tenant.economic.get_customer(number)["city"]
    tenant.economic.update_customer(number, fire_webhook=False, city="Ærøskøbing")  # no webhook: unseen
    tenant.stack.run_until_idle()
    record_id = tenant.stack.store.find_link(tenant.id, ECONOMIC_CONNECTION, CUSTOMER, str(number))

    report = run_drift(tenant)
    assert report["drifted_records"] == 1 and report["drifted_fields"] == 1
    (item,) = report["items"]
    assert (item["record_id"], item["connection"], item["field"]) == (record_id, ECONOMIC_CONNECTION, "city")
    assert (item["expected"], item["actual"]) == (before, "Ærøskøbing")
    health = tenant.api("GET", "/health").json()
    assert health["drift"]["drifted_records"] == 1 and health["drift"]["drifted_fields"] == 1

    fixed = tenant.api("POST", f"/drift/{record_id}/fix")
    assert fixed.status_code == 200, fixed.text
    tenant.stack.run_until_idle()
    assert tenant.api("GET", "/drift").json()["report"]["items"] == [], "the fixed record left the report"
    record = tenant.stack.store.get_record(tenant.id, record_id)
    assert record is not None
    company = tenant.crm.get(CUSTOMER, record.links[tenant.crm.connection_id])
    assert company is not None
    assert company.fields["city"] == tenant.economic.get_customer(number)["city"], "both sides agree again"
    assert run_drift(tenant)["drifted_records"] == 0, "a new compare finds nothing"


def test_fixing_an_unknown_record_is_404(tenant: Tenant):
    assert tenant.api("POST", "/drift/cus_00000000000000000000000000000000/fix").status_code == 404
