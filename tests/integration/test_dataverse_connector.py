"""DataverseConnector against the in-process Dataverse fake (tokens from the fake's token endpoint)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crmsync.connectors.base import (
    AuthError,
    Connector,
    RateLimitedError,
    VendorRefusedError,
    WriteItem,
)
from crmsync.connectors.dataverse import DataverseConnector, DeltaExpired, record_guid
from crmsync.connectors.http import RetryPolicy
from crmsync.connectors.oauth import ClientCredentialsAuth, InMemoryTokenCache
from crmsync.models import ObjectType, Side
from local.fakes.dataverse import DataverseFake, DataverseFaults

ORG = "https://contoso.crm4.dynamics.com"
TENANT, CLIENT_ID, SECRET = "entra-tenant-1", "app-1", "the-client-secret-value"
APP_USER = "a9911ca7-0000-4000-8000-0000000000a9"
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, **kw: Any) -> None:
        self.clock = Clock()
        self.fake = DataverseFake(
            org_url=ORG,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            tenant=TENANT,
            application_user_id=APP_USER,
            clock=self.clock,
            **kw,
        )
        self.sleeps: list[float] = []
        self.client = httpx.Client(transport=httpx.WSGITransport(app=self.fake.app))
        self.cache = InMemoryTokenCache(self.clock)
        self.dv = self.connector()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.now += seconds

    def auth(self, secret: str = SECRET) -> ClientCredentialsAuth:
        return ClientCredentialsAuth(
            TENANT,
            CLIENT_ID,
            secret,
            ORG,
            login_base=ORG,  # the fake serves the token endpoint on its own host
            cache=self.cache,
            client=self.client,
            clock=self.clock,
            sleep=self.sleep,
        )

    def connector(self, secret: str = SECRET, **kw: Any) -> DataverseConnector:
        return DataverseConnector(
            "dv-1", ORG, self.auth(secret), client=self.client, retry=RetryPolicy(sleep=self.sleep), **kw
        )

    def calls(self, template: str) -> int:
        return int(self.fake.stats["calls"].get(template, 0))


@pytest.fixture
def h() -> Iterator[Harness]:
    yield Harness()


def create(
    h: Harness, object_type: ObjectType, record_id: str, parent: str | None = None, **fields: Any
) -> str:
    item = WriteItem(record_id=record_id, fields={"name": record_id, **fields}, parent_external_id=parent)
    result = h.dv.write(object_type, [item])[0]
    assert result.ok, result.error
    assert result.external_id is not None
    return result.external_id


def test_is_a_crm_connector(h: Harness) -> None:
    assert isinstance(h.dv, Connector) and h.dv.side is Side.CRM
    assert {"name", "customer_number", "address", "account_manager"} <= h.dv.supported_fields(CUSTOMER)
    assert h.dv.supported_fields(CONTACT) == {"name", "email", "phone", "title"}


def test_ensure_setup_learns_the_application_user_and_checks_a_configured_one(h: Harness) -> None:
    h.dv.ensure_setup()
    h.dv.ensure_setup()
    assert h.dv.application_user_id == APP_USER and h.calls("GET WhoAmI") == 1
    assert h.fake.stats["token_requests"] == 1
    other = h.connector(application_user_id="00000000-0000-0000-0000-00000000beef")
    with pytest.raises(AuthError):
        other.ensure_setup()


def test_create_uses_a_deterministic_id_and_a_retry_reports_ok(h: Harness) -> None:
    fields = {
        "name": "Acme A/S",
        "customer_number": "1001",
        "address": "Street 1\nBuilding B",
        "city": "Aarhus",
    }
    first = h.dv.write(CUSTOMER, [WriteItem(record_id="cus_1", fields=fields)])[0]
    assert first.ok and first.external_id == record_guid("cus_1")
    assert first.record is not None and first.record.version and first.record.fields["city"] == "Aarhus"
    row = h.fake.row("account", first.external_id)
    assert row is not None and (row["name"], row["address1_line2"]) == ("Acme A/S", "Building B")
    again = h.dv.write(CUSTOMER, [WriteItem(record_id="cus_1", fields=fields)])[0]
    assert again.ok and again.external_id == first.external_id, "the duplicate id means: already created"
    assert len(h.fake.rows("account")) == 1


def test_batch_write_gives_each_item_its_own_outcome(h: Harness) -> None:
    items = [WriteItem(record_id=f"cus_{i}", fields={"name": f"Company {i}"}) for i in range(4)]
    items[2] = WriteItem(record_id="cus_2", fields={"name": "x" * 161})  # account name MaxLength 160
    results = h.dv.write(CUSTOMER, items)
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].error and not results[2].retryable and results[2].error_code
    assert h.calls("POST $batch") == 1 and len(h.fake.rows("account")) == 3
    assert [r.external_id for r in results if r.ok] == [record_guid(f"cus_{i}") for i in (0, 1, 3)]


def test_contacts_link_to_their_account(h: Harness) -> None:
    account = create(h, CUSTOMER, "cus_1")
    contact = create(h, CONTACT, "con_1", parent=account, email="anna@acme.dk", title="CFO")
    create(h, CONTACT, "con_2", parent=None)
    record = h.dv.get(CONTACT, contact)
    assert record is not None and record.parent_external_id == account
    assert (record.fields["name"], record.fields["title"]) == ("con_1", "CFO")
    assert [c.external_id for c in h.dv.contacts_of(account)] == [contact]


def test_updates_send_the_etag_and_a_person_edit_makes_them_stale(h: Harness) -> None:
    account = create(h, CUSTOMER, "cus_1", phone="111")
    read = h.dv.get(CUSTOMER, account)
    assert read is not None and read.version
    ok = h.dv.write(
        CUSTOMER,
        [WriteItem(record_id="cus_1", external_id=account, fields={"phone": "222"}, version=read.version)],
    )[0]
    assert ok.ok and ok.record is not None and ok.record.version != read.version
    h.fake.person_edit("account", account, {"telephone1": "333"})
    stale = h.dv.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="cus_1",
                external_id=account,
                fields={"phone": "444"},
                version=ok.record.version,
                expected={"phone": "222"},
            )
        ],
    )[0]
    assert not stale.ok and stale.error_code == "stale" and "phone" in (stale.error or "")
    assert (h.fake.row("account", account) or {})["telephone1"] == "333", "the person's edit is kept"


def test_a_412_on_a_field_not_ours_retries_with_the_fresh_etag(h: Harness) -> None:
    account = create(h, CUSTOMER, "cus_1", phone="111")
    read = h.dv.get(CUSTOMER, account)
    assert read is not None
    h.fake.person_edit("account", account, {"websiteurl": "acme.example"})
    result = h.dv.write(
        CUSTOMER,
        [
            WriteItem(
                record_id="cus_1",
                external_id=account,
                fields={"phone": "222"},
                version=read.version,
                expected={"phone": "111"},
            )
        ],
    )[0]
    assert result.ok, result.error
    row = h.fake.row("account", account) or {}
    assert (row["telephone1"], row["websiteurl"]) == ("222", "acme.example")


def test_an_update_never_creates_and_deletes_are_idempotent(h: Harness) -> None:
    account = create(h, CUSTOMER, "cus_1")
    h.dv.delete(CUSTOMER, account)
    h.dv.delete(CUSTOMER, account)
    result = h.dv.write(CUSTOMER, [WriteItem(record_id="cus_1", external_id=account, fields={"name": "B"})])[
        0
    ]
    assert not result.ok and not result.retryable and h.fake.rows("account") == []
    assert h.dv.get(CUSTOMER, account) is None and h.dv.get(CUSTOMER, "not-a-guid") is None


def test_get_many_list_all_and_changed_since_page_through_everything(h: Harness) -> None:
    dv = h.connector(page_size=2)
    ids = []
    for i in range(5):
        ids.append(create(h, CUSTOMER, f"cus_{i}"))
        h.clock.now += 10
    found = dv.get_many(CUSTOMER, [*ids[:3], "00000000-0000-0000-0000-000000000000", "junk"])
    assert set(found) == set(ids[:3])
    assert sorted(r.external_id for r in dv.list_all(CUSTOMER)) == sorted(ids)
    assert h.calls("GET accounts") >= 3 + 1
    since = datetime.fromtimestamp(h.clock.now - 30, UTC)
    changed = [r.external_id for r in dv.changed_since(CUSTOMER, since)]
    assert changed == ids[2:], "oldest first, from the window's start"


def test_change_tracking_reports_changes_deletions_and_expiry(h: Harness) -> None:
    keep = create(h, CUSTOMER, "cus_1")
    gone = create(h, CUSTOMER, "cus_2")
    records, deleted, link = h.dv.changes(CUSTOMER)
    assert {r.external_id for r in records} == {keep, gone} and deleted == []
    h.fake.person_edit("account", keep, {"name": "Renamed"})
    h.fake.person_delete("account", gone)
    records, deleted, link2 = h.dv.changes(CUSTOMER, link)
    assert [(r.external_id, r.fields["name"]) for r in records] == [(keep, "Renamed")] and deleted == [gone]
    records, deleted, _ = h.dv.changes(CUSTOMER, link2)
    assert records == [] and deleted == []
    h.clock.now += 8 * 86400
    with pytest.raises(DeltaExpired):
        h.dv.changes(CUSTOMER, link2)


def test_a_429_waits_retry_after_then_goes_on(h: Harness) -> None:
    h.fake.faults = DataverseFaults(fail_next_n=(429, 1))
    create(h, CUSTOMER, "cus_1")
    assert 1.0 in h.sleeps


def test_service_protection_429_that_stays_is_rate_limited(h: Harness) -> None:
    h.fake.faults = DataverseFaults(fail_next_n=(429, 10))
    with pytest.raises(RateLimitedError) as caught:
        h.dv.get_many(CUSTOMER, ["00000000-0000-0000-0000-000000000001"])
    assert caught.value.retry_after is not None


def test_a_revoked_token_is_renewed_once(h: Harness) -> None:
    create(h, CUSTOMER, "cus_1")
    assert h.fake.stats["token_requests"] == 1
    h.fake._tokens.clear()  # the org no longer accepts the cached token
    assert len(list(h.dv.list_all(CUSTOMER))) == 1
    assert h.fake.stats["token_requests"] == 2


def test_a_wrong_secret_is_an_auth_error_naming_no_secret(h: Harness) -> None:
    wrong = "wrong-secret-value-123"
    h.cache = InMemoryTokenCache(h.clock)
    dv = h.connector(secret=wrong)
    with pytest.raises(AuthError) as caught:
        dv.get(CUSTOMER, "00000000-0000-0000-0000-000000000001")
    assert wrong not in str(caught.value) and SECRET not in str(caught.value)
    assert caught.value.code == "invalid_client"


def test_leads_users_and_the_account_hierarchy(h: Harness) -> None:
    parent, child = h.fake.seed("account", [{"name": "Group"}, {"name": "Sub"}])
    h.fake.person_edit("account", child, {"parentaccountid@odata.bind": f"/accounts({parent})"})
    assert h.dv.get_parent_account(child) == parent and h.dv.get_parent_account(parent) is None
    (lead,) = h.fake.seed("lead", [{"subject": "Interested", "firstname": "Bo", "companyname": "Bo ApS"}])
    got = h.dv.get_lead(lead)
    assert got is not None and (got.subject, got.companyname, got.statecode) == ("Interested", "Bo ApS", 0)
    users = {u.id: u for u in h.dv.users()}
    assert APP_USER in users and users[APP_USER].email == f"{CLIENT_ID}@app.invalid"


def test_odata_headers_and_paging_preferences(h: Harness) -> None:
    sent: list[httpx.Request] = []
    h.client.event_hooks["request"].append(sent.append)
    dv = h.connector(page_size=2)
    for i in range(3):
        create(h, CUSTOMER, f"cus_{i}")
    sent.clear()
    assert len(list(dv.list_all(CUSTOMER))) == 3
    api = [r for r in sent if "/api/data/" in r.url.path]
    assert len(api) == 2, "two pages of two"
    for request in api:
        assert request.headers["OData-MaxVersion"] == "4.0" and request.headers["OData-Version"] == "4.0"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["Authorization"].startswith("Bearer ")
        assert "odata.maxpagesize=2" in request.headers["Prefer"]
    assert "$skiptoken" in str(api[1].url), "the nextLink is followed as given"


def test_a_write_that_landed_but_answered_500_is_reported_created(h: Harness) -> None:
    h.fake.faults = DataverseFaults(fail_after_commit_n=(500, 1))
    result = h.dv.write(CUSTOMER, [WriteItem(record_id="cus_1", fields={"name": "Acme"})])[0]
    assert result.ok and result.external_id == record_guid("cus_1")
    assert len(h.fake.rows("account")) == 1 and result.record is not None


def test_batch_updates_settle_stale_and_fine_items_separately(h: Harness) -> None:
    ids = [create(h, CUSTOMER, f"cus_{i}", phone="1") for i in range(3)]
    reads = h.dv.get_many(CUSTOMER, ids)
    h.fake.person_edit("account", ids[0], {"telephone1": "9"})  # our field: stale
    h.fake.person_edit("account", ids[1], {"websiteurl": "x.example"})  # not ours: retried
    items = [
        WriteItem(
            record_id=f"cus_{i}",
            external_id=ids[i],
            fields={"phone": "2"},
            version=reads[ids[i]].version,
            expected={"phone": "1"},
        )
        for i in range(3)
    ]
    results = h.dv.write(CUSTOMER, items)
    assert [(r.ok, r.error_code) for r in results] == [(False, "stale"), (True, None), (True, None)]
    assert [(h.fake.row("account", i) or {})["telephone1"] for i in ids] == ["9", "2", "2"]
    assert h.calls("POST $batch") == 1


def test_served_over_http_for_local_runs_only_when_allowed() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    fake = DataverseFake(org_url=base, client_id=CLIENT_ID, client_secret=SECRET, tenant=TENANT)
    fake.serve(port=port)
    try:
        client = httpx.Client()
        auth = ClientCredentialsAuth(
            TENANT, CLIENT_ID, SECRET, base, login_base=base, cache=InMemoryTokenCache(), client=client
        )
        from crmsync.connectors.dataverse_urls import OrgUrlError

        with pytest.raises(OrgUrlError):
            DataverseConnector("dv", base, auth, client=client, allowed_hosts=(f"127.0.0.1:{port}",))
        dv = DataverseConnector(
            "dv", base, auth, client=client, allowed_hosts=(f"127.0.0.1:{port}",), allow_http=True
        )
        external_id = dv.write(CUSTOMER, [WriteItem(record_id="cus_1", fields={"name": "Local"})])[
            0
        ].external_id
        assert external_id and (dv.get(CUSTOMER, external_id) or None) is not None
    finally:
        fake.shutdown()


def test_a_failed_read_after_a_412_fails_that_item_only(h: Harness) -> None:
    account = create(h, CUSTOMER, "cus_1", phone="1")
    read = h.dv.get(CUSTOMER, account)
    assert read is not None
    h.fake.person_edit("account", account, {"telephone1": "9"})

    def outage_after_412(response: httpx.Response) -> None:
        if response.status_code == 412:
            h.fake.faults = DataverseFaults(fail_next_n=(503, 10))

    h.client.event_hooks["response"].append(outage_after_412)
    item = WriteItem(
        record_id="cus_1",
        external_id=account,
        fields={"phone": "2"},
        version=read.version,
        expected={"phone": "1"},
    )
    result = h.dv.write(CUSTOMER, [item])[0]
    assert not result.ok and result.retryable and result.error_code == "check_failed"


def test_a_merged_away_account_reads_as_its_survivor(h: Harness) -> None:
    keep = create(h, CUSTOMER, "cus_keep")
    dup = create(h, CUSTOMER, "cus_dup")
    contact = create(h, CONTACT, "con_1", parent=dup)
    _, _, link = h.dv.changes(CUSTOMER)
    assert h.dv.merge(CUSTOMER, keep, dup) == keep
    survivor = h.dv.get(CUSTOMER, dup)
    assert survivor is not None and survivor.external_id == keep, (
        "the merged-away id answers with its survivor"
    )
    assert h.dv.get_many(CUSTOMER, [keep, dup]).keys() == {keep}, "a batch read leaves the merged id out"
    assert [r.external_id for r in h.dv.list_all(CUSTOMER)] == [keep]
    assert [c.external_id for c in h.dv.contacts_of(keep)] == [contact], "its contacts moved"
    records, deleted, _ = h.dv.changes(CUSTOMER, link)
    gone = {r.external_id: r.deleted for r in records}
    assert gone == {dup: True} and deleted == [], "a change read reports it gone (not a $deletedEntity)"
    third = create(h, CUSTOMER, "cus_third")
    h.dv.merge(CUSTOMER, third, keep)
    chained = h.dv.get(CUSTOMER, dup)
    assert chained is not None and chained.external_id == third, "a chain of merges is followed"


def test_facts_go_to_the_mapped_typed_columns_and_a_missing_account_is_reported() -> None:
    h = Harness(
        custom_columns={
            "account": {"new_openbalance": "Money", "new_unpaid": "Integer", "new_lastinvoice": "DateOnly"}
        }
    )
    h.dv.fact_columns = {
        "open_balance": "new_openbalance",
        "unpaid_invoices": "new_unpaid",
        "last_invoice_date": "new_lastinvoice",
    }
    h.dv.ensure_facts_setup()
    one, two = create(h, CUSTOMER, "cus_1"), create(h, CUSTOMER, "cus_2")
    gone = create(h, CUSTOMER, "cus_3")
    h.fake.person_delete("account", gone)
    values = {
        "open_balance": "1250.00",
        "unpaid_invoices": "2",
        "last_invoice_date": "2026-12-01",
        "revenue": "9",
    }
    batches = h.calls("POST $batch")
    answers = h.dv.write_facts({one: values, two: {**values, "last_invoice_date": None}, gone: values})
    assert answers[one] is None and answers[two] is None and answers[gone], "the deleted account is reported"
    assert h.calls("POST $batch") == batches + 1, "one $batch for the three"
    row = h.fake.row("account", one)
    assert (row["new_openbalance"], row["new_unpaid"], row["new_lastinvoice"]) == (1250.0, 2, "2026-12-01")
    assert h.fake.row("account", two)["new_lastinvoice"] is None
    h.dv.fact_columns = {}
    with pytest.raises(VendorRefusedError):
        h.dv.ensure_facts_setup()
