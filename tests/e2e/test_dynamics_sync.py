"""e-conomic <-> Dynamics 365 through the whole local stack: a tenant whose CRM is a Dataverse organisation.

The same sync layer as with HubSpot: a backfill creates the accounts and contacts once (ids chosen by
crmsync, so nothing duplicates on a second run), a person's edit in Dynamics reaches e-conomic, an
accounting edit reaches Dynamics, and crmsync's own writes do not come back as edits.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.models import ObjectType, SyncMode
from local.fakes.dataverse import DataverseFake
from local.stack import LocalStack
from local.vendors import DYNAMICS_CONNECTION, ECONOMIC_CONNECTION
from tests.e2e.conftest import unique_name

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


class DynamicsTenant:
    def __init__(self, stack: LocalStack, customers: int) -> None:
        self.stack = stack
        self.id = unique_name("dyn")
        self.account = stack.add_account(self.id)
        self.account.economic.seed(customers, contacts_per_customer=1, seed=71)
        self.token = stack.add_tenant(self.id, account=self.id, mode=SyncMode.AUTOMATIC, crm="dynamics")
        assert self.account.dynamics is not None
        self.dynamics: DataverseFake = self.account.dynamics

    def settle(self) -> None:
        self.stack.run_pull()
        self.stack.run_until_idle()

    def account_of(self, number: int) -> dict:
        rows = [r for r in self.dynamics.rows("account") if r.get("accountnumber") == str(number)]
        assert len(rows) == 1, f"exactly one account for customer {number}: {rows}"
        return rows[0]

    def record_of(self, number: int):
        rid = self.stack.store.find_link(self.id, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))
        assert rid is not None
        record = self.stack.store.get_record(self.id, rid)
        assert record is not None
        return record


@pytest.fixture(scope="module")
def tenant(stack: LocalStack) -> Iterator[DynamicsTenant]:
    tenant = DynamicsTenant(stack, customers=4)
    tenant.settle()
    yield tenant


def test_the_backfill_creates_every_customer_and_contact_in_dynamics_once(tenant: DynamicsTenant):
    numbers = tenant.account.economic.customer_numbers()
    assert len(tenant.dynamics.rows("account")) == len(numbers) == 4
    for number in numbers:
        account = tenant.account_of(number)
        customer = tenant.account.economic.get_customer(number)
        assert customer is not None and account["name"] == customer["name"]
        record = tenant.record_of(number)
        assert record.links[DYNAMICS_CONNECTION] == account["accountid"]
    contacts = tenant.dynamics.rows("contact")
    assert len(contacts) == 4
    account_ids = {a["accountid"] for a in tenant.dynamics.rows("account")}
    assert {c["_parentcustomerid_value"] for c in contacts} == account_ids, "every contact under its account"

    writes = {k: v for k, v in tenant.dynamics.stats["calls"].items() if not k.startswith("GET")}
    assert writes, "the backfill wrote to Dynamics"
    tenant.settle()  # a second run finds nothing new: no duplicate, no write
    assert len(tenant.dynamics.rows("account")) == 4 and len(tenant.dynamics.rows("contact")) == 4
    after = {k: v for k, v in tenant.dynamics.stats["calls"].items() if not k.startswith("GET")}
    assert after == writes, "the second run wrote nothing"


def test_a_person_editing_an_account_in_dynamics_reaches_e_conomic(tenant: DynamicsTenant):
    number = tenant.account.economic.customer_numbers()[0]
    account = tenant.account_of(number)
    tenant.dynamics.person_edit("account", account["accountid"], {"telephone1": "+45 70 10 20 30"})
    tenant.settle()
    customer = tenant.account.economic.get_customer(number)
    assert customer is not None and customer.get("telephoneAndFaxNumber") == "+45 70 10 20 30"
    assert tenant.record_of(number).fields["phone"] == "+45 70 10 20 30"


def test_an_accounting_owned_field_flows_from_e_conomic_to_dynamics(tenant: DynamicsTenant):
    """The customer number is e-conomic's (accounting -> CRM): a renumber shows on the account."""
    number = tenant.account.economic.customer_numbers()[1]
    account_id = tenant.account_of(number)["accountid"]
    tenant.account.economic.renumber(number, 7001)
    tenant.settle()
    assert tenant.dynamics.row("account", account_id)["accountnumber"] == "7001"
    assert tenant.record_of(7001).links[DYNAMICS_CONNECTION] == account_id


def test_child_accounts_link_to_their_own_customers_and_keep_their_parent(tenant: DynamicsTenant):
    """A customer's cost centres are child accounts in Dynamics: each becomes an accounting customer of
    its own, and the hierarchy stays visible on crmsync's record and in the compare view."""
    parent_id = tenant.dynamics.person_create("account", {"name": "Koncern Holding A/S"})
    child_ids = [
        tenant.dynamics.person_create(
            "account",
            {"name": f"Koncern Afdeling {n}", "parentaccountid@odata.bind": f"/accounts({parent_id})"},
        )
        for n in (1, 2)
    ]
    tenant.settle()
    store, conn = tenant.stack.store, DYNAMICS_CONNECTION
    parent_rid = store.find_link(tenant.id, conn, ObjectType.CUSTOMER, parent_id)
    assert parent_rid is not None
    numbers = set()
    for child in child_ids:
        rid = store.find_link(tenant.id, conn, ObjectType.CUSTOMER, child)
        record = store.get_record(tenant.id, rid) if rid else None
        assert record is not None and record.fields["parent_account"] == parent_rid
        numbers.add(record.links[ECONOMIC_CONNECTION])
        compare = tenant.stack.http.get(
            f"/tenants/{tenant.id}/records/{rid}/compare", headers={"Authorization": f"Bearer {tenant.token}"}
        )
        assert compare.status_code == 200, compare.text
        shown = {row["field"]: row for row in compare.json()["fields"]}
        assert shown["parent_account"]["crmsync"] == parent_rid
    assert len(numbers) == 2, "each child account is a customer of its own in e-conomic"
    for number in numbers:
        customer = tenant.account.economic.get_customer(int(number))
        assert customer is not None and customer["name"].startswith("Koncern Afdeling")


def test_a_person_deleting_an_account_in_dynamics_keeps_the_e_conomic_customer(tenant: DynamicsTenant):
    """The default delete policy is ``never``: a deletion is a tombstone, never a mass delete."""
    number = tenant.account.economic.customer_numbers()[2]
    account_id = tenant.account_of(number)["accountid"]
    tenant.dynamics.person_delete("account", account_id)
    tenant.settle()
    assert tenant.account.economic.get_customer(number) is not None
    record = tenant.record_of(number)
    assert record.bases[DYNAMICS_CONNECTION].deleted
    assert all(r.get("accountnumber") != str(number) for r in tenant.dynamics.rows("account")), (
        "not recreated in Dynamics behind the person's back"
    )


def test_a_person_edit_arrives_by_webhook_and_crmsyncs_own_write_does_not_come_back(tenant: DynamicsTenant):
    """No pull: the service-endpoint webhook carries the edit; the write crmsync then makes to e-conomic
    and the accounting-owned values it writes back to Dynamics are echoes, dropped at ingestion."""
    number = tenant.account.economic.customer_numbers()[3]
    account = tenant.account_of(number)
    tenant.dynamics.person_edit("account", account["accountid"], {"address1_city": "Silkeborg"})
    tenant.stack.run_until_idle()  # webhooks, queue and stream only
    customer = tenant.account.economic.get_customer(number)
    assert customer is not None and customer.get("city") == "Silkeborg"

    writes = {k: v for k, v in tenant.dynamics.stats["calls"].items() if not k.startswith("GET")}
    deliveries = len(tenant.dynamics.webhook_deliveries)
    tenant.stack.run_until_idle()
    assert len(tenant.dynamics.webhook_deliveries) == deliveries, "nothing more was delivered"
    after = {k: v for k, v in tenant.dynamics.stats["calls"].items() if not k.startswith("GET")}
    assert after == writes, "no loop: the edit's own echo wrote nothing back to Dynamics"


def test_custom_account_columns_carry_accounting_owned_fields_to_dynamics(stack: LocalStack):
    """An organisation that added columns for e-conomic's customer group and payment terms sees them on
    its accounts after the backfill, and a bookkeeper's change of terms arrives by webhook."""
    name = unique_name("dyncols")
    account = stack.add_account(name)
    account.economic.seed(2, contacts_per_customer=0, seed=72)
    columns = {"customer_group": "new_customergroup", "payment_terms": "new_paymentterms"}
    stack.vendors.enable_dynamics(name, columns)
    stack.add_tenant(name, account=name, mode=SyncMode.AUTOMATIC, crm="dynamics")
    stack.run_pull()
    stack.run_until_idle()
    assert account.dynamics is not None
    rows = {r["accountnumber"]: r for r in account.dynamics.rows("account")}
    for number in account.economic.customer_numbers():
        customer = account.economic.get_customer(number)
        assert customer is not None
        row = rows[str(number)]
        assert row["new_customergroup"] == str(customer["customerGroup"]["customerGroupNumber"])
        assert row["new_paymentterms"] == str(customer["paymentTerms"]["paymentTermsNumber"])
    number = account.economic.customer_numbers()[0]
    account.economic.update_customer(number, paymentTerms={"paymentTermsNumber": 3})
    stack.run_until_idle()
    assert (
        next(r for r in account.dynamics.rows("account") if r["accountnumber"] == str(number))[
            "new_paymentterms"
        ]
        == "3"
    )
